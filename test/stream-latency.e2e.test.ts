import { describe, expect, it } from "vitest";
import { gatewayOverFake, oneOpenAiModel, recordedRow } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * A stream's latency runs to its last chunk. When its upstream reported no usage, its tokens are then
 * counted, and the first count starts the tokenizer's thread, which takes a second or more: that is
 * not the stream's latency. This file must not count tokens before its first test (no tokenizerReady),
 * so that that count really is a slow one.
 */
describe.each(STORE_KINDS)("the latency of a stream without usage on %s", (kind) => {
  const fake = gatewayOverFake(kind, "openai", oneOpenAiModel);

  it("is the time to its last chunk, not to the end of counting its tokens", async () => {
    fake.upstream.push({ kind: "noUsage" });
    const started = Date.now();
    const { data: stream, response } = await fake.gw
      .client()
      .chat.completions.create({ model: "oai/gpt-4.1-mini", stream: true, messages: [{ role: "user", content: "What is the capital of France?" }] })
      .withResponse();
    let lastChunkAt = 0;
    for await (const chunk of stream) if (chunk.choices[0]?.finish_reason) lastChunkAt = Date.now() - started;
    const row = await recordedRow(fake.gw, response.headers.get("x-request-id"));
    expect(row).toMatchObject({ outcome: "success", usageEstimated: true });
    expect(lastChunkAt).toBeGreaterThan(0);
    // The client measured from before its request went out: the gateway's own time is no longer.
    expect(row.latencyMs).toBeLessThanOrEqual(lastChunkAt + 250);
  });
});
