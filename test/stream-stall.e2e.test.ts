import { APIError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeUpstream, type FakeFlavor, type FakeUpstream } from "./fakes/upstream.js";
import { recordedRow, startTestGateway, type TestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";
import { tokenizerReady } from "./support/tokenizer.js";

/**
 * An upstream that goes silent mid-stream, its connection still open, is not waited on until the whole
 * call's deadline (two minutes by default, often raised for long generations): the attempt timeout that
 * bounds the wait for the first event bounds every later silence too, as LiteLLM's request_timeout
 * bounds each wait for the next chunk. The client gets a `timeout` error event, the upstream is let go
 * of, the row bills what was streamed, and the target's breaker counts the failure.
 */
const MODELS: Record<FakeFlavor, string> = { openai: "oai/gpt-4.1-mini", anthropic: "anth/claude-sonnet-4", gemini: "gem/gemini-2.5-flash" };

describe.each(STORE_KINDS)("an upstream that stalls mid-stream (%s store)", (kind) => {
  const fakes = {} as Record<FakeFlavor, FakeUpstream>;
  let gw: TestGateway;
  beforeAll(async () => {
    await tokenizerReady();
    [fakes.openai, fakes.anthropic, fakes.gemini] = await Promise.all([startFakeUpstream("openai"), startFakeUpstream("anthropic"), startFakeUpstream("gemini")]);
    gw = await startTestGateway(kind, {
      // The whole call may take far longer than the test: only the silence ends it.
      timeouts: { requestMs: 600_000, attemptMs: 600 },
      breaker: { failureThreshold: 1, minRequests: 100 },
      providers: {
        oai: { type: "openai-compatible", baseUrl: fakes.openai.url },
        anth: { type: "anthropic", baseUrl: fakes.anthropic.url, apiKey: "k" },
        gem: { type: "gemini", baseUrl: fakes.gemini.url, apiKey: "k" },
      },
      // oai/gpt-4.1 for the calls that must find their breaker closed.
      models: [...Object.values(MODELS), "oai/gpt-4.1"].map((id) => ({ id, price: { input: "1", output: "4", per: "1M" } })),
    });
  });
  afterAll(async () => {
    await gw?.close();
    await Promise.all(Object.values(fakes).map((fake) => fake.close()));
  });

  it.each(["openai", "anthropic", "gemini"] as const)("from %s ends with a timeout error event, billed what it streamed", async (flavor) => {
    fakes[flavor].push({ kind: "stall", afterChunks: 2 });
    const { data: stream, response } = await gw.client().chat.completions.create({ model: MODELS[flavor], stream: true, messages: [{ role: "user", content: "a long story" }] }).withResponse();
    let text = "";
    const ended = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    })().catch((err: unknown) => err);
    expect(text).not.toBe("");
    expect(ended).toBeInstanceOf(APIError);
    expect(ended).toMatchObject({ code: "timeout" });
    expect((ended as APIError).message).toContain("silent");

    const row = await recordedRow(gw, response.headers.get("x-request-id"));
    expect(row).toMatchObject({ outcome: "error", errorCode: "timeout", httpStatus: 504, stream: true });
    expect(row.attempts).toEqual([expect.objectContaining({ model: MODELS[flavor], outcome: "error", reason: "timeout" })]);
    expect(row.outputTokens).toBeGreaterThan(0);
    expect(Number(row.cost)).toBeGreaterThan(0);
    // The stalled upstream was let go of, and counts against its target like one that refused.
    expect(fakes[flavor].unfinished).toBe(1);
    expect(gw.plane.breakerStates().find((b) => b.target === MODELS[flavor])?.state).toBe("open");
  });

  it("does not take a consumer slow to read for a silent upstream", async () => {
    fakes.openai.push({ kind: "ok" });
    const principal = await gw.plane.authenticate(gw.adminKey);
    const requestId = `slow-reader-${kind}-${Date.now()}`;
    const live = await gw.plane.stream({ model: "oai/gpt-4.1", messages: [{ role: "user", content: "hi" }] }, { principal: principal!, requestId });
    let parts = 0;
    for await (const part of live) {
      // Far longer than the attempt timeout, with the upstream's whole answer already waiting.
      if (parts++ === 0) await new Promise((resolve) => setTimeout(resolve, 1_500));
      if (part.type === "end") expect(part.end.usage.outputTokens).toBeGreaterThan(0);
    }
    const row = await recordedRow(gw, requestId);
    expect(row).toMatchObject({ outcome: "success", stream: true });
  });
});
