import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { setModel } from "./chunk-wire.js";
import type { ChunkWire } from "./spec.js";
import { chunkIdentity, deltaContents, passThrough } from "./openai-wire.js";

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
    // Setting the model then edits the chunk as it came, cut and all.
    const modelSet = none.replace('"model":"m"', '"model":"oai/m"');
    for (const text of [first, last, none]) expect(withModel(passThrough(text)!, JSON.stringify("oai/m")).text).toBe(modelSet);
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

/** The chunk with the model set, as setModel leaves it: the span true for the new text. */
function withModel(wire: ChunkWire, modelJson: string): ChunkWire {
  setModel(wire, modelJson);
  expect(wire.text.slice(wire.model.start, wire.model.end)).toBe(modelJson);
  return wire;
}

describe("the chunk's model", () => {
  const modelJson = JSON.stringify("oai/o4-mini");
  const set = (text: string) => JSON.parse(withModel(passThrough(text)!, modelJson).text) as Record<string, unknown>;

  it("is found where it stands, and set in place, leaving every other byte as it was", () => {
    const wire = passThrough(recorded[1]!)!;
    const before = wire.text;
    expect(withModel(wire, modelJson).text).toBe(before.replace('"model":"o4-mini-2025-04-16"', '"model":"oai/o4-mini"'));
    expect(set(recorded[1]!)).toEqual({ ...JSON.parse(before), model: "oai/o4-mini" });
  });

  it("is written as JSON, whatever the catalog's id holds", () => {
    expect(JSON.parse(withModel(passThrough(chunk(delta("a")))!, JSON.stringify('we"ird\\id')).text).model).toBe('we"ird\\id');
  });

  it("is left to parsing when it cannot be set exactly", () => {
    const choices = [{ index: 0, delta: { content: "a" } }];
    expect(passThrough(chunk(delta("a")).replace('"model":"up-1"', '"model":"up\\"1"'))).toBeUndefined();
    expect(passThrough(JSON.stringify({ id: "c", choices }))).toBeUndefined();
    expect(passThrough(JSON.stringify({ model: null, choices }))).toBeUndefined();
    expect(passThrough(JSON.stringify({ model: "a", choices, extra: { model: "b" } }))).toBeUndefined();
    // A model inside a nested object is not the chunk's.
    expect(passThrough(JSON.stringify({ id: "c", choices: [{ ...choices[0], model: "inner" }] }))).toBeUndefined();
    // A model named inside the text is not a key.
    expect(set(chunk(delta('"model":"x"')))).toMatchObject({ model: "oai/o4-mini", choices: [{ delta: { content: '"model":"x"' } }] });
  });
});

describe("chunkIdentity", () => {
  it("reads a recorded chunk's id and time as a parse does", () => {
    for (const text of recorded) {
      const { id, created } = JSON.parse(text) as { id: string; created: number };
      expect(chunkIdentity(text)).toEqual({ id, created });
    }
  });

  it("is left to parsing unless both stand once, plainly, as the chunk's own", () => {
    const base = { object: "chat.completion.chunk", model: "up-1", ...delta("a") };
    expect(chunkIdentity(JSON.stringify({ id: "c1", created: 7, ...base }))).toEqual({ id: "c1", created: 7 });
    // Named after the first nested value, they may belong to it.
    expect(chunkIdentity(JSON.stringify({ ...base, id: "c1", created: 7 }))).toBeUndefined();
    expect(chunkIdentity(JSON.stringify({ id: 'c"1', created: 7, ...base }))).toBeUndefined();
    expect(chunkIdentity(JSON.stringify({ id: "c1", created: 7.5, ...base }))).toBeUndefined();
    expect(chunkIdentity(JSON.stringify({ id: "c1", created: "7", ...base }))).toBeUndefined();
    expect(chunkIdentity(JSON.stringify({ id: "c1", ...base }))).toBeUndefined();
    expect(chunkIdentity('{"id": "c1", "created": 7, "choices": []}')).toBeUndefined();
    expect(chunkIdentity('{"id":"c1","created":7,"id":"c2","choices":[]}')).toBeUndefined();
    // Text that names them is not a key.
    expect(chunkIdentity(JSON.stringify({ id: "c1", created: 7, ...delta('"id":"x","created":9') }))).toEqual({ id: "c1", created: 7 });
  });
});
