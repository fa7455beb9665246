import { afterEach, describe, expect, it } from "vitest";
import { createAirlock } from "../src/index.js";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";

const config = (baseUrl: string) => ({
  providers: { oai: { type: "openai-compatible" as const, baseUrl, apiKey: "k" } },
  models: [{ id: "oai/o4-mini", price: { input: "1.10", output: "4.40", cachedInput: "0.275", per: "1M" as const } }],
  operations: { chat_message: { model: "oai/o4-mini" } },
});

const messages = [{ role: "user" as const, content: "capital of France?" }];

describe("closing a library instance", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function upstream(options: Parameters<typeof startFakeUpstream>[1] = {}): Promise<FakeUpstream> {
    const fake = await startFakeUpstream("openai", options);
    cleanups.push(() => fake.close());
    return fake;
  }

  it("lets two close() calls at once both resolve, closing the store once", async () => {
    const fake = await upstream();
    const airlock = createAirlock({ config: config(fake.url), inMemory: true });
    await airlock.chat({ operation: "chat_message", messages });
    await expect(Promise.all([airlock.close(), airlock.close()])).resolves.toEqual([undefined, undefined]);
    await expect(airlock.close()).resolves.toBeUndefined();
  });
});
