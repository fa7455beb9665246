import { afterEach, describe, expect, it } from "vitest";
import { createAirlock } from "../src/index.js";
import { startFakeUpstream } from "./fakes/upstream.js";

const config = (baseUrl: string) => ({
  providers: { oai: { type: "openai-compatible" as const, baseUrl, apiKey: "k" } },
  models: [{ id: "oai/o4-mini", price: { input: "1.10", output: "4.40", cachedInput: "0.275", per: "1M" as const } }],
  operations: { chat_message: { model: "oai/o4-mini" } },
});

const messages = [{ role: "user" as const, content: "capital of France?" }];

/**
 * A stream the caller stops reading must stop at the upstream too: the provider bills every token it
 * generates, and the ledger only those delivered.
 */
describe("a library stream stopped early", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(extra: Record<string, unknown> = {}) {
    // Ten events, 60 ms apart: read to its end, the answer finishes within a second.
    const fake = await startFakeUpstream("openai", { chunkDelayMs: 60 });
    const airlock = createAirlock({ config: { ...config(fake.url), ...extra }, inMemory: true });
    cleanups.push(() => fake.close(), () => airlock.close());
    return { fake, airlock };
  }

  it("ends the upstream request when the caller breaks out of for await", async () => {
    const { fake, airlock } = await setup();
    let parts = 0;
    for await (const part of airlock.stream({ operation: "chat_message", messages })) {
      if (part.type === "text" && ++parts === 2) break;
    }
    await expect.poll(() => fake.unfinished, { timeout: 3_000 }).toBe(1);
  });

  it("ends the upstream request when the kill switch cuts the stream", async () => {
    const { fake, airlock } = await setup({ killSwitch: { inFlight: "cut" } });
    let parts = 0;
    const read = (async () => {
      for await (const part of airlock.stream({ operation: "chat_message", messages })) {
        if (part.type === "text" && ++parts === 2) await airlock.setKillSwitch({ active: true, reason: "runaway batch" });
      }
    })();
    await expect(read).rejects.toMatchObject({ code: "kill_switch_active" });
    await expect.poll(() => fake.unfinished, { timeout: 3_000 }).toBe(1);
  });
});

/** A stream is one call: reading it again must say so, not look like an answer with no text. */
describe("a library stream read twice", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("throws on the second iteration, as openai-node's consumed stream does, without calling again", async () => {
    const fake = await startFakeUpstream("openai");
    const airlock = createAirlock({ config: config(fake.url), inMemory: true });
    cleanups.push(() => fake.close(), () => airlock.close());
    const stream = airlock.stream({ operation: "chat_message", messages });
    const first: string[] = [];
    for await (const part of stream) first.push(part.type);
    expect(first.at(-1)).toBe("done");
    const again = (async () => {
      for await (const part of stream) void part;
    })();
    await expect(again).rejects.toMatchObject({ name: "AirlockError", code: "invalid_request", message: "this stream was already read: call stream() again to make another call" });
    expect(fake.requests).toHaveLength(1);
  });

  it("throws on a second iteration begun while the first still reads", async () => {
    const fake = await startFakeUpstream("openai");
    const airlock = createAirlock({ config: config(fake.url), inMemory: true });
    cleanups.push(() => fake.close(), () => airlock.close());
    const stream = airlock.stream({ operation: "chat_message", messages });
    const reader = stream[Symbol.asyncIterator]();
    expect((await reader.next()).done).toBe(false);
    await expect(stream[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: "invalid_request" });
    let done = false;
    while (!done) done = (await reader.next()).done === true;
    expect(fake.requests).toHaveLength(1);
  });
});
