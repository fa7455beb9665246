import { describe, expect, it } from "vitest";
import { identityOf, parseWire, setModel } from "./chunk-wire.js";
import { ProviderError } from "./errors.js";
import type { ChatChunk, ChunkWire } from "./spec.js";

const text = '{"id":"c1","created":1754925061,"model":"up-1","choices":[{"index":0,"delta":{"content":"a"}}]}';
const start = text.indexOf('"up-1"');
const wire = (): ChunkWire => ({ text, contents: ["a"], model: { start, end: start + '"up-1"'.length }, uncut: undefined });

describe("setModel", () => {
  it("puts the catalog's id where the model was, in place, and keeps the span true for the new text", () => {
    const edited = wire();
    setModel(edited, JSON.stringify("oai/o4-mini"));
    expect(edited.text).toBe(text.replace('"up-1"', '"oai/o4-mini"'));
    expect(edited.text.slice(edited.model.start, edited.model.end)).toBe('"oai/o4-mini"');
    expect(edited.contents).toEqual(["a"]);
    setModel(edited, JSON.stringify("b"));
    expect(JSON.parse(edited.text)).toMatchObject({ model: "b", choices: [{ delta: { content: "a" } }] });
  });

  it("makes both edits from the chunk as it came when a span was cut from it, before or after the model", () => {
    const usageFirst = '{"usage":null,' + text.slice(1);
    const usageLast = text.slice(0, -1) + ',"usage":null}';
    for (const source of [usageFirst, usageLast]) {
      const cut = usageFirst === source ? { start: 1, end: 14 } : { start: text.length - 1, end: text.length + 12 };
      const edited: ChunkWire = { text, contents: ["a"], model: { start, end: start + '"up-1"'.length }, uncut: { source, ...cut } };
      setModel(edited, JSON.stringify("oai/o4-mini"));
      expect(edited.text).toBe(text.replace('"up-1"', '"oai/o4-mini"'));
      expect(edited.text.slice(edited.model.start, edited.model.end)).toBe('"oai/o4-mini"');
      expect(edited.uncut).toBeUndefined();
    }
  });
});

describe("parseWire", () => {
  it("parses the chunk's text, and a text that is not JSON fails as a protocol error", () => {
    expect(parseWire(wire(), "oai")).toEqual(JSON.parse(text));
    const bad = { ...wire(), text: '{"choices":[{"delta":{"content":"a"}}],}' };
    expect(() => parseWire(bad, "oai")).toThrow(ProviderError);
    expect(() => parseWire(bad, "oai")).toThrow(/oai: upstream stream carried a data line that is not JSON/);
  });
});

describe("identityOf", () => {
  it("reads a text chunk's id and created from its text, parses it when they are not plain there, and takes an object's own", () => {
    expect(identityOf(wire(), "oai")).toEqual({ id: "c1", created: 1754925061 });
    const nested = { ...wire(), text: '{"choices":[{"index":0,"delta":{"content":"a"}}],"id":"c2","created":7,"model":"m"}' };
    expect(identityOf(nested, "oai")).toMatchObject({ id: "c2", created: 7 });
    const chunk = { id: "c3", object: "chat.completion.chunk", created: 9, model: "m", choices: [] } satisfies ChatChunk;
    expect(identityOf(chunk, "oai")).toBe(chunk);
  });
});
