import { describe, expect, it } from "vitest";
import type { SseBursts } from "../sse.js";
import type { StreamEvent } from "../spec.js";
import { AnthropicStreamUsage, toStreamEvents } from "./stream.js";

/** A Messages API stream, one event per burst, as the SSE decoder hands it on. */
async function* bursts(events: object[]): SseBursts {
  for (const event of events) yield [{ id: "", event: (event as { type: string }).type, data: JSON.stringify(event) }];
}

async function streamedCalls(events: object[]): Promise<Map<number, { id: string; name: string; arguments: string }>> {
  const out: StreamEvent[] = [];
  for await (const event of toStreamEvents(bursts(events), "anthropic")) out.push(event);
  const calls = new Map<number, { id: string; name: string; arguments: string }>();
  for (const event of out) {
    if (event.type !== "chunk") continue;
    for (const call of (event.chunk.choices[0]!.delta.tool_calls ?? []) as Array<{ index: number; id?: string; function: { name?: string; arguments?: string } }>) {
      const seen = calls.get(call.index) ?? { id: "", name: "", arguments: "" };
      seen.id += call.id ?? "";
      seen.name += call.function.name ?? "";
      seen.arguments += call.function.arguments ?? "";
      calls.set(call.index, seen);
    }
  }
  return calls;
}

const START = { type: "message_start", message: { id: "msg_1", type: "message", role: "assistant", model: "claude", content: [], usage: { input_tokens: 10, output_tokens: 1 } } };
const END = [
  { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 20 } },
  { type: "message_stop" },
];

describe("anthropic stream translation", () => {
  it("gives a tool called with no arguments the arguments {}, as the same answer has unstreamed, next to one that has some", async () => {
    const calls = await streamedCalls([
      START,
      { type: "content_block_start", index: 0, content_block: { type: "tool_use", id: "toolu_now", name: "get_time", input: {} } },
      { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: "" } },
      { type: "content_block_stop", index: 0 },
      { type: "content_block_start", index: 1, content_block: { type: "tool_use", id: "toolu_w", name: "get_weather", input: {} } },
      { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '{"city":' } },
      { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '"Paris"}' } },
      { type: "content_block_stop", index: 1 },
      ...END,
    ]);
    expect([...calls.values()]).toEqual([
      { id: "toolu_now", name: "get_time", arguments: "{}" },
      { id: "toolu_w", name: "get_weather", arguments: '{"city":"Paris"}' },
    ]);
  });

  it("takes the arguments from the block's start when no argument delta follows (Anthropic-compatible upstreams send them whole)", async () => {
    const calls = await streamedCalls([
      START,
      { type: "content_block_start", index: 0, content_block: { type: "tool_use", id: "toolu_1", name: "read", input: { path: "/a" } } },
      { type: "content_block_stop", index: 0 },
      ...END,
    ]);
    expect(calls.get(0)).toEqual({ id: "toolu_1", name: "read", arguments: '{"path":"/a"}' });
  });
});

describe("anthropic stream usage", () => {
  it("keeps message_start's split of the cache writes by TTL when message_delta repeats it with nulls", async () => {
    const usage = new AnthropicStreamUsage();
    const start = { ...START, message: { ...START.message, usage: { input_tokens: 10, cache_creation_input_tokens: 1500, cache_creation: { ephemeral_5m_input_tokens: 500, ephemeral_1h_input_tokens: 1000 }, output_tokens: 1 } } };
    const delta = { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 20, cache_creation: { ephemeral_5m_input_tokens: null, ephemeral_1h_input_tokens: null } } };
    const events: StreamEvent[] = [];
    for await (const event of toStreamEvents(bursts([start, delta, END[1]!]), "anthropic", usage)) events.push(event);
    expect(events.find((e) => e.type === "usage")).toEqual({
      type: "usage",
      usage: { inputTokens: 1510, outputTokens: 20, cachedInputTokens: 0, cacheWriteTokens: 1500, cacheWrite1hTokens: 1000, reasoningTokens: 0 },
    });
  });
});
