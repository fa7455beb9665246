import { describe, expect, it } from "vitest";
import { SseDecoder } from "./sse.js";

const datas = (messages: ReadonlyArray<{ data: string }>) => messages.map((m) => m.data);

describe("SseDecoder", () => {
  it("keeps a character whose bytes arrive in two chunks whole", () => {
    const bytes = Buffer.from('data: {"content":"€😀ü"}\n\n');
    const decoder = new SseDecoder();
    const euro = bytes.indexOf(0xe2); // the first byte of "€"
    const first = decoder.push(bytes.subarray(0, euro + 1));
    const rest = decoder.push(bytes.subarray(euro + 1));
    expect(first).toEqual([]);
    expect(datas(rest)).toEqual(['{"content":"€😀ü"}']);
  });

  it("drops a leading byte order mark, even split across chunks, and only a leading one", () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("data: one\n\ndata: \uFEFFtwo\n\n")]);
    const decoder = new SseDecoder();
    const messages = [...decoder.push(bytes.subarray(0, 2)), ...decoder.push(bytes.subarray(2)), ...decoder.end()];
    expect(datas(messages)).toEqual(["one", "\uFEFFtwo"]);
  });

  it("delivers a last event without its blank line at the end", () => {
    const decoder = new SseDecoder();
    expect(decoder.push(Buffer.from("data: [DONE]"))).toEqual([]);
    expect(datas(decoder.end())).toEqual(["[DONE]"]);
  });
});
