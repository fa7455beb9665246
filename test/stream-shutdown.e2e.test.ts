import { APIError } from "openai";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startFakeUpstream, type FakeFlavor } from "./fakes/upstream.js";
import { recordedRow, startTestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";
import { tokenizerReady } from "./support/tokenizer.js";

/**
 * A gateway that shuts down while a stream is still open, past its grace, cuts it: the client is told
 * so with an error event in OpenAI's stream error shape (the `openai` package raises it as an APIError),
 * the stream then ends, and the ledger row bills what had been generated.
 */
const MODELS: Record<FakeFlavor, string> = { openai: "oai/gpt-4.1-mini", anthropic: "anth/claude-sonnet-4", gemini: "gem/gemini-2.5-flash" };

describe.each(STORE_KINDS)("a stream cut by the shutdown (%s store)", (kind) => {
  const cleanups: Array<() => Promise<void>> = [];
  // The cut stream's output is counted: a cold tokenizer takes seconds to start.
  beforeAll(tokenizerReady);
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it.each(["openai", "anthropic", "gemini"] as const)("from %s ends with an error event the client raises, and is billed what it streamed", async (flavor) => {
    // A chunk every 400 ms: the stream is still open when the grace runs out.
    const upstream = await startFakeUpstream(flavor, { chunkDelayMs: 400 });
    cleanups.push(() => upstream.close());
    const provider = MODELS[flavor].split("/")[0]!;
    const type = flavor === "openai" ? "openai-compatible" : flavor;
    const gw = await startTestGateway(kind, {
      providers: { [provider]: { type, baseUrl: upstream.url, apiKey: "k" } },
      models: [{ id: MODELS[flavor], price: { input: "1", output: "4", per: "1M" } }],
    });
    cleanups.push(() => gw.close());
    upstream.push({ kind: "ok", content: "a long answer" });

    const { data: stream, response } = await gw.client().chat.completions.create({ model: MODELS[flavor], stream: true, messages: [{ role: "user", content: "a long story" }] }).withResponse();
    const requestId = response.headers.get("x-request-id");
    let chunks = 0;
    const reading = (async () => {
      for await (const chunk of stream) if (chunk.choices.length > 0) chunks++;
    })().catch((err: unknown) => err);
    await vi.waitFor(() => expect(chunks).toBeGreaterThan(0), { timeout: 5_000 });

    await gw.gateway.close(300);
    const ended = await reading;
    // Not a bare "terminated" or a silent end: the gateway said why.
    expect(ended).toBeInstanceOf(APIError);
    expect(ended).toMatchObject({ code: "unavailable", type: "service_unavailable" });
    expect((ended as APIError).message).toContain("shut down");

    const row = await recordedRow(gw, requestId);
    expect(row).toMatchObject({ outcome: "error", errorCode: "unavailable", httpStatus: 503, stream: true });
    expect(row.outputTokens).toBeGreaterThan(0);
    expect(Number(row.cost)).toBeGreaterThan(0);
    // The upstream was let go of too, not left generating.
    await vi.waitFor(() => expect(upstream.unfinished).toBe(1));
  });
});
