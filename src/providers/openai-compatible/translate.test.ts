import { describe, expect, it } from "vitest";
import { ProviderError } from "../errors.js";
import type { EventSourceMessage, SseBursts } from "../sse.js";
import type { StreamEvent } from "../spec.js";
import { toChatResult, toStreamEvents } from "./translate.js";

/**
 * How the adapter groups an upstream's bursts (what arrived together) into events, read from bursts
 * given here; the same bursts from a real upstream over HTTP are in openai-compatible.test.ts.
 */

const chunk = (fields: Record<string, unknown>) => JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "up-1", ...fields });
const content = (text: string) => chunk({ choices: [{ index: 0, delta: { content: text }, finish_reason: null }], usage: null });
const toolCall = chunk({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: "t1", type: "function", function: { name: "f", arguments: "" } }] }, finish_reason: null }] });
const usage = chunk({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } });

/** Bursts of a call that is never cancelled (cancelling one is in the conformance suite). */
async function* bursts(...datas: string[][]): SseBursts {
  for (const data of datas) yield data.map((d): EventSourceMessage => ({ data: d, event: undefined, id: undefined }));
}

/** Each event in short: `wire:a,b` for text chunks with their contents, `chunk`, `usage:<output tokens>`. */
function shape(event: StreamEvent): string {
  if (event.type === "wire") return `wire:${event.chunks.map((w) => w.contents.join("")).join(",")}`;
  if (event.type === "usage") return `usage:${event.usage.outputTokens}`;
  return "chunk";
}

async function shapes(stream: AsyncIterable<StreamEvent>): Promise<{ seen: string[]; error: unknown }> {
  const seen: string[] = [];
  try {
    for await (const event of stream) seen.push(shape(event));
    return { seen, error: undefined };
  } catch (error) {
    return { seen, error };
  }
}

describe("toStreamEvents with chunks as text", () => {
  it("hands on the text chunks of one burst as one event, in stream order around the chunks it parses", async () => {
    const stream = toStreamEvents(bursts([content("a"), content("b"), content("c")], [content("d"), toolCall, content("e"), usage, "[DONE]"]), "oai", true);
    expect(await shapes(stream)).toEqual({ seen: ["wire:a", "wire:b,c", "wire:d", "chunk", "wire:e", "usage:3"], error: undefined });
  });

  it("hands on the stream's first chunk alone, before the rest of its burst is read", async () => {
    const stream = toStreamEvents(bursts([content("a"), content("b"), "{not json"]), "oai", true);
    const first = await stream.next();
    expect(first.value && shape(first.value)).toBe("wire:a");
    const second = await stream.next();
    expect(second.value && shape(second.value)).toBe("wire:b");
    await expect(stream.next()).rejects.toMatchObject({ kind: "protocol" });
  });

  it("hands on the first chunk alone when it had to be parsed, and groups the text chunks after it", async () => {
    const stream = toStreamEvents(bursts([toolCall, content("a"), content("b"), usage, "[DONE]"]), "oai", true);
    expect(await shapes(stream)).toEqual({ seen: ["chunk", "wire:a,b", "usage:3"], error: undefined });
  });

  it("delivers the text chunks before a bad event in the same burst, then ends with a protocol error", async () => {
    const { seen, error } = await shapes(toStreamEvents(bursts([content("a"), content("b"), content("c"), "{not json"]), "oai", true));
    expect(seen).toEqual(["wire:a", "wire:b,c"]);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ kind: "protocol" });
  });

  it("delivers the text chunks of a stream that ends without [DONE], then calls it broken", async () => {
    const { seen, error } = await shapes(toStreamEvents(bursts([content("a")], [content("b")]), "oai", true));
    expect(seen).toEqual(["wire:a", "wire:b"]);
    expect(error).toMatchObject({ kind: "protocol", message: "oai: upstream stream ended before [DONE]" });
  });

  it("parses every chunk when not asked for text", async () => {
    const { seen } = await shapes(toStreamEvents(bursts([content("a"), content("b"), usage, "[DONE]"]), "oai"));
    expect(seen).toEqual(["chunk", "chunk", "usage:3"]);
  });
});

describe("chat entries of no usable shape", () => {
  const answer = (choices: unknown) => ({ id: "c1", object: "chat.completion", created: 1, model: "up-1", choices });

  it.each([
    ["a null choice", [null], "a choice that is not an object"],
    ["a null message", [{ index: 0, message: null, finish_reason: "stop" }], "a choice whose message is not an object"],
    ["tool_calls that are not a list", [{ index: 0, message: { role: "assistant", content: null, tool_calls: {} } }], "tool_calls that are not a list"],
    ["a null tool call", [{ index: 0, message: { role: "assistant", content: null, tool_calls: [null] } }], "a tool call without a function object"],
    ["a tool call without a function", [{ index: 0, message: { role: "assistant", content: null, tool_calls: [{ id: "t", type: "function" }] } }], "a tool call without a function object"],
  ])("are a protocol error in a whole answer: %s", (_, choices, detail) => {
    expect(() => toChatResult(answer(choices), "oai")).toThrow(expect.objectContaining({ kind: "protocol", message: `oai: upstream answer has ${detail}` }));
  });

  it("leave alone what callers can read: null tool_calls, and odd fields inside a message", () => {
    const result = toChatResult(answer([{ index: 0, message: { role: "assistant", content: "Paris", tool_calls: null, extra: 1 }, finish_reason: "stop" }]), "oai");
    expect(result.choices[0]!.message.content).toBe("Paris");
  });

  // Parsed chunks only: one handed on as text is checked as a proxy checks it (see openai-wire.ts).
  it.each([[null], [{ index: 0, delta: null, finish_reason: null }]])("end a stream with a protocol error in a parsed chunk's choices: %j", async (choice) => {
    const { seen, error } = await shapes(toStreamEvents(bursts([content("a"), chunk({ choices: [choice] })]), "oai"));
    expect(seen).toEqual(["chunk"]);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ kind: "protocol" });
  });
});
