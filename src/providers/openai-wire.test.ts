import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ProviderError } from "./errors.js";
import { deltaContents, passThrough, WireChunk, withModel } from "./openai-wire.js";

const recorded = readFileSync(new URL("../../test/fixtures/openai/chat.sse", import.meta.url), "utf8")
  .split("\n\n")
  .filter((frame) => frame.startsWith("data: {"))
  .map((frame) => frame.slice("data: ".length));

const chunk = (fields: Record<string, unknown>) => JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "up-1", ...fields });
const delta = (content: unknown) => ({ choices: [{ index: 0, delta: { content }, finish_reason: null }] });

describe("passThrough", () => {
  it("passes every content chunk of a recorded OpenAI stream, without usage, and parses the usage chunk", () => {
    const passed = recorded.map(passThrough);
    expect(passed.at(-1)).toBeUndefined(); // choices: [], and usage that is not null
    for (const [i, wire] of passed.slice(0, -1).entries()) {
      const expected = JSON.parse(recorded[i]!) as { usage?: unknown; choices: Array<{ delta: { content?: string } }> };
      delete expected.usage;
      expect(JSON.parse(wire!.text)).toEqual(expected);
      expect(wire!.text).not.toContain('"usage"');
      expect(wire!.contents).toEqual(expected.choices.flatMap((c) => (typeof c.delta.content === "string" ? [c.delta.content] : [])));
    }
  });

  it('cuts "usage":null wherever it stands, and takes a chunk with no usage key as it is', () => {
    const first = '{"usage":null,"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"a"}}]}';
    const last = '{"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"a"}}],"usage":null}';
    const none = '{"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"a"}}]}';
    for (const text of [first, last, none]) expect(JSON.parse(passThrough(text)!.text)).toEqual(JSON.parse(none));
    expect(passThrough(none)!.text).toBe(none);
  });

  it("leaves to parsing what Airlock must read or what it cannot cut exactly", () => {
    const cases = {
      usage: chunk({ ...delta("a"), usage: { prompt_tokens: 1, completion_tokens: 1 } }),
      spacedUsage: chunk(delta("a")).replace("}]}", '}], "usage": null}'),
      twoUsages: chunk({ ...delta("a"), usage: null, x_extra: { usage: null } }),
      error: chunk({ ...delta("a"), error: { message: "overloaded" } }),
      errorFinish: chunk({ choices: [{ index: 0, delta: {}, finish_reason: "error" }] }),
      toolCalls: chunk({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: "{}" } }] }, finish_reason: null }] }),
      functionCall: chunk({ choices: [{ index: 0, delta: { function_call: { name: "f" } }, finish_reason: null }] }),
      noChoices: chunk({ choices: [] }),
      notAnObject: '["choices":[{]',
      unclosedContent: '{"model":"m","choices":[{"delta":{"content":"abc}}]}',
      // A data field sent over several lines is joined with line breaks, which one event cannot carry.
      multiLine: '{"id":"c1","model":"m",\n"choices":[{"index":0,"delta":{"content":"a"}}]}',
      // Keys spelled with escapes hide from the searches: usage, an error, a tool call.
      escapedUsageKey: chunk(delta("a")).replace("}]}", '}],"us\\u0061ge":{"prompt_tokens":5,"completion_tokens":2}}'),
      escapedErrorKey: chunk(delta("a")).replace("}]}", '}],"err\\u006fr":{"message":"x"}}'),
      escapedToolCalls: chunk({ choices: [{ index: 0, delta: {}, finish_reason: null }] }).replace('"delta":{}', '"delta":{"tool\\u005fcalls":[]}'),
      nestedChoices: JSON.stringify({ id: "c1", model: "m", extra: { choices: [{ delta: { content: "a" } }] } }),
      objectBeforeChoices: JSON.stringify({ id: "c1", model: "m", extra: {}, choices: [{ delta: { content: "a" } }] }),
      unknownEscape: '{"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"a\\qb"}}]}',
    };
    for (const [name, text] of Object.entries(cases)) expect(passThrough(text), name).toBeUndefined();
  });

  it("reads the deltas' text exactly, escapes included, for every choice", () => {
    const text = chunk({
      choices: [
        { index: 0, delta: { content: 'say "hi"\n\\ \u00e9 \ud83d\ude00' }, logprobs: { content: [{ token: "say", logprob: -0.1 }] } },
        { index: 1, delta: { content: "second" } },
        { index: 2, delta: { content: null } },
      ],
    });
    expect(passThrough(text)!.contents).toEqual(['say "hi"\n\\ \u00e9 \ud83d\ude00', "second"]);
    // Text that merely looks like a key, inside a value, is not one.
    expect(deltaContents(chunk(delta('a "content":"b'))!)).toEqual(['a "content":"b']);
  });
});

describe("withModel", () => {
  const modelJson = JSON.stringify("oai/o4-mini");

  it("sets the model in place, leaving every other byte as it was", () => {
    const text = recorded[1]!;
    const edited = withModel(text, modelJson)!;
    expect(edited).toBe(text.replace('"model":"o4-mini-2025-04-16"', '"model":"oai/o4-mini"'));
    expect(JSON.parse(edited)).toEqual({ ...JSON.parse(text), model: "oai/o4-mini" });
  });

  it("escapes the catalog's id as JSON", () => {
    expect(JSON.parse(withModel(chunk(delta("a")), JSON.stringify('we"ird\\id'))!).model).toBe('we"ird\\id');
  });

  it("leaves to parsing a model key it cannot set exactly", () => {
    expect(withModel(chunk(delta("a")).replace('"model":"up-1"', '"model":"up\\"1"'), modelJson)).toBeUndefined();
    expect(withModel(JSON.stringify({ id: "c", choices: [] }), modelJson)).toBeUndefined();
    expect(withModel(JSON.stringify({ model: null, choices: [] }), modelJson)).toBeUndefined();
    expect(withModel(JSON.stringify({ model: "a", choices: [], extra: { model: "b" } }), modelJson)).toBeUndefined();
    // A model inside a nested object is not the chunk's.
    expect(withModel(JSON.stringify({ id: "c", choices: [{ index: 0, delta: { content: "a" }, model: "inner" }] }), modelJson)).toBeUndefined();
    // A model named inside the text is not a key.
    expect(JSON.parse(withModel(chunk(delta('"model":"x"')), modelJson)!)).toMatchObject({ model: "oai/o4-mini", choices: [{ delta: { content: '"model":"x"' } }] });
  });
});

describe("WireChunk", () => {
  it("parses its object only when read, and a text that is not JSON fails as a protocol error", () => {
    const good = new WireChunk(passThrough(recorded[1]!)!, "oai");
    expect(good.chunk).toEqual(JSON.parse(good.wire.text));
    expect(good.chunk).toBe(good.chunk);
    const bad = new WireChunk({ text: '{"choices":[{"delta":{"content":"a"}}],}', contents: ["a"] }, "oai");
    expect(() => bad.chunk).toThrow(ProviderError);
    expect(() => bad.chunk).toThrow(/oai: upstream stream carried a data line that is not JSON/);
  });
});
