import { describe, expect, it } from "vitest";
import { ProviderError } from "../errors.js";
import type { EventSourceMessage, SseBursts } from "../sse.js";
import type { StreamEvent } from "../spec.js";
import { toStreamEvents } from "./translate.js";

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
