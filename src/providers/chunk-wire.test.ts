import { describe, expect, it } from "vitest";
import { WireChunk, withModel } from "./chunk-wire.js";
import { ProviderError } from "./errors.js";
import type { ChunkWire } from "./spec.js";

const text = '{"id":"c1","model":"up-1","choices":[{"index":0,"delta":{"content":"a"}}]}';
const start = text.indexOf('"up-1"');
const wire: ChunkWire = { text, contents: ["a"], model: { start, end: start + '"up-1"'.length } };

describe("withModel", () => {
  it("puts the catalog's id where the model was, and keeps the span true for the new text", () => {
    const edited = withModel(wire, JSON.stringify("oai/o4-mini"));
    expect(edited.text).toBe(text.replace('"up-1"', '"oai/o4-mini"'));
    expect(edited.text.slice(edited.model.start, edited.model.end)).toBe('"oai/o4-mini"');
    expect(edited.contents).toEqual(["a"]);
  });
});

describe("WireChunk", () => {
  it("parses its object only when read, and a text that is not JSON fails as a protocol error", () => {
    const good = new WireChunk(wire, "oai");
    expect(good.chunk).toEqual(JSON.parse(text));
    expect(good.chunk).toBe(good.chunk);
    const bad = new WireChunk({ ...wire, text: '{"choices":[{"delta":{"content":"a"}}],}' }, "oai");
    expect(() => bad.chunk).toThrow(ProviderError);
    expect(() => bad.chunk).toThrow(/oai: upstream stream carried a data line that is not JSON/);
  });
});
