import { APIError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAirlock } from "../src/index.js";
import type { AirlockConfigInput } from "../src/config/schema.js";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { recordedRow, startTestGateway, type TestGateway } from "./support/gateway.js";

/** A variable no test environment sets: the provider's key reference reads nothing. */
const UNSET = "AIRLOCK_TEST_KEY_NEVER_SET";

/**
 * A provider whose `env:` key is unset: the configuration still loads (a provider never called must not
 * stop the start), but a call to it is refused before anything is sent, naming the variable.
 */
describe("a provider whose env: key is unset", () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  const config = (url: string): AirlockConfigInput => ({
    providers: {
      keyless: { type: "openai-compatible", baseUrl: url, apiKey: `env:${UNSET}` },
      keyed: { type: "openai-compatible", baseUrl: url, apiKey: "sk-written" },
    },
    models: [
      { id: "keyless/gpt-4.1-mini", price: { input: "0.4", output: "1.6", per: "1M" } },
      { id: "keyed/gpt-4.1-mini", price: { input: "0.4", output: "1.6", per: "1M" } },
      { id: "keyless/text-embedding-3-small", kind: "embedding", price: { input: "0.02", per: "1M" } },
    ],
  });
  beforeAll(async () => {
    delete process.env[UNSET];
    upstream = await startFakeUpstream("openai");
    gw = await startTestGateway("pglite", config(upstream.url));
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it("refuses the gateway's call with misconfigured, naming the variable, and sends nothing upstream", async () => {
    const before = upstream.requests.length;
    const err = await gw
      .client()
      .chat.completions.create({ model: "keyless/gpt-4.1-mini", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(500);
    expect((err as APIError).error).toMatchObject({ code: "misconfigured", type: "server_error", message: expect.stringContaining(UNSET) });
    expect((err as APIError).message).toContain('provider "keyless"');
    expect(upstream.requests.length).toBe(before);
    const row = await recordedRow(gw, (err as APIError).requestID ?? null);
    expect(row).toMatchObject({ outcome: "error", errorCode: "misconfigured" });
    expect(row.attempts).toMatchObject([{ provider: "keyless", reason: "misconfigured" }]);
  });

  it("refuses a stream and an embedding the same way, while the other provider still answers", async () => {
    const before = upstream.requests.length;
    const streamed = await gw
      .client()
      .chat.completions.create({ model: "keyless/gpt-4.1-mini", messages: [{ role: "user", content: "hi" }], stream: true })
      .catch((e: unknown) => e);
    expect((streamed as APIError).error).toMatchObject({ code: "misconfigured" });
    const embedded = await gw.client().embeddings.create({ model: "keyless/text-embedding-3-small", input: "hi" }).catch((e: unknown) => e);
    expect((embedded as APIError).error).toMatchObject({ code: "misconfigured" });
    expect(upstream.requests.length).toBe(before);
    const answer = await gw.client().chat.completions.create({ model: "keyed/gpt-4.1-mini", messages: [{ role: "user", content: "hi" }] });
    expect(answer.model).toBe("keyed/gpt-4.1-mini");
    expect(upstream.requests.at(-1)!.headers.authorization).toBe("Bearer sk-written");
  });

  it("refuses the library's call with a misconfigured AirlockError that names the variable", async () => {
    const airlock = createAirlock({ config: config(upstream.url), inMemory: true });
    try {
      const before = upstream.requests.length;
      const err = await airlock.chat({ model: "keyless/gpt-4.1-mini", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: "AirlockError", code: "misconfigured", status: 500, isRetryable: false, details: { provider: "keyless", variable: UNSET } });
      expect((err as Error).message).toBe(`provider "keyless" has no API key: its apiKey reads the environment variable ${UNSET}, which is unset or empty`);
      expect(upstream.requests.length).toBe(before);
    } finally {
      await airlock.close();
    }
  });
});
