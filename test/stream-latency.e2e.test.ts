import { describe, expect, it } from "vitest";
import { gatewayOverFake, oneOpenAiModel, recordedRow } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * A stream's latency runs to its last chunk. When its upstream reported no usage, its tokens are then
 * counted, which is not the stream's latency, and the client is not kept waiting for it.
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

describe.each(STORE_KINDS)("the end of a stream without usage on %s", (kind) => {
  const fake = gatewayOverFake(kind, "openai", oneOpenAiModel);
  const body = { model: "oai/gpt-4.1-mini", stream: true, messages: [{ role: "user" as const, content: "What is the capital of France?" }] };

  async function partsOf(scenario: "noUsage" | "ok"): Promise<string[]> {
    fake.upstream.push({ kind: scenario });
    const principal = await fake.gw.plane.authenticate(fake.gw.adminKey);
    const live = await fake.gw.plane.stream(body, { principal: principal!, requestId: `req_${scenario}_${kind}` }, { chunksAsText: true });
    const types: string[] = [];
    for await (const part of live) types.push(part.type);
    return types;
  }

  it("is announced to the gateway once every chunk is out, before the tokens are counted", async () => {
    const types = await partsOf("noUsage");
    expect(types.slice(-2)).toEqual(["delivered", "end"]);
    expect(types.filter((type) => type === "delivered")).toHaveLength(1);
    // With the upstream's usage there is nothing to count, so nothing to announce.
    expect(await partsOf("ok")).not.toContain("delivered");
  });

  it("bills a client that leaves as soon as it reads [DONE]", async () => {
    fake.upstream.push({ kind: "noUsage" });
    const controller = new AbortController();
    const response = await fetch(`${fake.gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${fake.gw.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    let text = "";
    const decoder = new TextDecoder();
    for await (const bytes of response.body!) {
      text += decoder.decode(bytes, { stream: true });
      if (text.includes("data: [DONE]")) break;
    }
    controller.abort();
    expect(text).toContain('"finish_reason":"stop"');
    const row = await recordedRow(fake.gw, response.headers.get("x-request-id"));
    expect(row).toMatchObject({ outcome: "success", usageEstimated: true });
    expect(row.outputTokens).toBeGreaterThan(0);
    expect(Number(row.cost)).toBeGreaterThan(0);
  });
});
