import { describe, expect, it } from "vitest";
import { gatewayOverFake, recordedRow } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * The attempt timeout of a stream runs until its first chunk, which is when nothing can be retried any
 * more. An upstream busy before it has a chunk to give (Anthropic's thinking, which has no OpenAI
 * counterpart) is heard from all along, and must not be timed out as one that hangs; one that goes
 * silent still is.
 */
describe.each(STORE_KINDS)("a stream's wait for its first chunk on %s", (kind) => {
  // 150 ms between events: the recorded thinking (12 events) takes about 1.8 s before its first text,
  // and even the plain answer's first text comes 600 ms in; the attempt timeout is 500 ms.
  const env = gatewayOverFake(
    kind,
    "anthropic",
    (url) => ({
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
      providers: { claude: { type: "anthropic", baseUrl: url, apiKey: "sk-ant-test" } },
      models: [{ id: "claude/claude-sonnet-4-5", price: { input: "3", output: "15", per: "1M" } }],
      operations: { think: { model: "claude/claude-sonnet-4-5", timeoutMs: 500 } },
    }),
    { chunkDelayMs: 150 },
  );

  /** One streamed question through the official SDK: the answer's text and the HTTP response. */
  async function askStreamed(): Promise<{ text: string; response: Response }> {
    const { data, response } = await env.gw
      .client()
      .chat.completions.create({ model: "think", stream: true, messages: [{ role: "user", content: "What is the capital of France?" }] })
      .withResponse();
    let text = "";
    for await (const chunk of data) text += chunk.choices[0]?.delta.content ?? "";
    return { text, response };
  }

  it("lets a model think past the attempt timeout while it streams, with no retry", async () => {
    env.upstream.push({ kind: "ok", fixture: "anthropic/thinking" });
    const before = env.upstream.requests.length;
    const { text, response } = await askStreamed();
    expect(text).toBe("The capital of France is Paris.");
    expect(env.upstream.requests.length - before).toBe(1);
    expect(response.headers.get("x-airlock-attempts")).toBe("1");
    const row = await recordedRow(env.gw, response.headers.get("x-request-id"));
    expect(row.attempts.map((a) => [a.outcome, a.reason ?? null])).toEqual([["success", null]]);
  });

  it("still times out an upstream that went silent before its first chunk, and tries again", async () => {
    env.upstream.push({ kind: "hang" });
    const before = env.upstream.requests.length;
    const { text, response } = await askStreamed();
    expect(text).toContain("Paris");
    expect(env.upstream.requests.length - before).toBe(2);
    const row = await recordedRow(env.gw, response.headers.get("x-request-id"));
    expect(row.attempts.map((a) => [a.outcome, a.reason ?? null])).toEqual([
      ["error", "timeout"],
      ["success", null],
    ]);
  });
});
