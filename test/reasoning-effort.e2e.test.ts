import { describe, expect, it } from "vitest";
import { gatewayOverFake, recordedRow } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * OpenAI's reasoning_effort, sent by the official SDK to a route served by Claude: Claude gets extended
 * thinking, the client gets only the answer, and the thinking (in Anthropic's output_tokens) is billed.
 */
describe.each(STORE_KINDS)("reasoning_effort through the gateway to Claude on %s", (kind) => {
  const env = gatewayOverFake(kind, "anthropic", (url) => ({
    providers: { claude: { type: "anthropic", baseUrl: url, apiKey: "sk-ant-test" } },
    models: [{ id: "claude/claude-sonnet-4-5", price: { input: "3", output: "15", per: "1M" } }],
    operations: { think: { model: "claude/claude-sonnet-4-5" } },
  }));
  const question = [{ role: "user" as const, content: "What is the capital of France?" }];

  it("a JSON answer: Claude thinks within the budget, the client sees the answer, the thinking is billed as output", async () => {
    env.upstream.push({
      kind: "body",
      body: {
        id: "msg_think",
        type: "message",
        role: "assistant",
        model: "claude-sonnet-4-5",
        content: [
          { type: "thinking", thinking: "France's capital is Paris.", signature: "EqQBCgIYAhIM" },
          { type: "text", text: "The capital of France is Paris." },
        ],
        stop_reason: "end_turn",
        stop_sequence: null,
        usage: { input_tokens: 14, output_tokens: 120 },
      },
    });
    const { data, response } = await env.gw.client().chat.completions.create({ model: "think", messages: question, max_completion_tokens: 6000, reasoning_effort: "medium" }).withResponse();
    expect(env.upstream.requests.at(-1)!.body).toMatchObject({ thinking: { type: "enabled", budget_tokens: 2048 }, max_tokens: 6000 });
    expect(data.choices[0]!.message.content).toBe("The capital of France is Paris.");
    expect(data.usage?.completion_tokens).toBe(120);
    const row = await recordedRow(env.gw, response.headers.get("x-request-id"));
    expect(row.outputTokens).toBe(120);
  });

  it("a stream: the same thinking is asked for, and only the answer's text is streamed", async () => {
    env.upstream.push({ kind: "ok", fixture: "anthropic/thinking" });
    const { data, response } = await env.gw.client().chat.completions.create({ model: "think", stream: true, messages: question, reasoning_effort: "low" }).withResponse();
    let text = "";
    for await (const chunk of data) text += chunk.choices[0]?.delta.content ?? "";
    expect(env.upstream.requests.at(-1)!.body).toMatchObject({ stream: true, thinking: { type: "enabled", budget_tokens: 1024 } });
    expect(text).toBe("The capital of France is Paris.");
    const row = await recordedRow(env.gw, response.headers.get("x-request-id"));
    expect(row.outputTokens).toBe(96);
  });
});
