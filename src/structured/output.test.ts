import { describe, expect, it } from "vitest";
import { z } from "zod";
import { AirlockError } from "../core/errors.js";
import {
  checkOutput,
  nativeResponseFormat,
  parseJsonOutput,
  repairMessages,
  schemaInstruction,
  schemaValidationError,
} from "./output.js";
import { compileOutputSchema, type SchemaIssue } from "./schema.js";

const person = compileOutputSchema("{name: string, tags: string[], score?: number}", "person");

describe("parseJsonOutput", () => {
  it("parses plain JSON, including surrounding whitespace and a byte-order mark", () => {
    expect(parseJsonOutput('  {"a": 1}\n')).toEqual({ ok: true, value: { a: 1 } });
    expect(parseJsonOutput("\uFEFF[1, 2]")).toEqual({ ok: true, value: [1, 2] });
    expect(parseJsonOutput("42")).toEqual({ ok: true, value: 42 });
  });

  it("parses JSON inside a fenced code block, with or without a language tag", () => {
    expect(parseJsonOutput('Here you go:\n```json\n{"name": "Ada", "tags": []}\n```\nAnything else?')).toEqual({
      ok: true,
      value: { name: "Ada", tags: [] },
    });
    expect(parseJsonOutput('```\n["x"]\n```')).toEqual({ ok: true, value: ["x"] });
  });

  it("parses JSON surrounded by prose, ignoring brackets inside strings", () => {
    expect(parseJsonOutput('Sure! The answer is {"text": "a } and ] and \\" inside", "n": [1, {"m": 2}]} as requested.')).toEqual({
      ok: true,
      value: { text: 'a } and ] and " inside', n: [1, { m: 2 }] },
    });
    expect(parseJsonOutput('The list: ["a", "b"]. Done.')).toEqual({ ok: true, value: ["a", "b"] });
  });

  it("skips a bracketed aside that is not JSON and takes the JSON after it", () => {
    expect(parseJsonOutput('Result [see below]: {"ok": true}')).toEqual({ ok: true, value: { ok: true } });
  });

  it("reports empty output at (root)", () => {
    const empty = { ok: false, issue: { path: "(root)", expected: "JSON", received: "empty", message: "(root): expected JSON, received empty" } };
    expect(parseJsonOutput(null)).toEqual(empty);
    expect(parseJsonOutput("")).toEqual(empty);
    expect(parseJsonOutput(" \n\t ")).toEqual(empty);
  });

  it("reports truncated JSON as incomplete rather than returning a fragment of it", () => {
    const result = parseJsonOutput('{"items": [{"a": 1}, {"a": 2}, {"a"');
    expect(result).toEqual({
      ok: false,
      issue: expect.objectContaining({ path: "(root)", expected: "JSON", received: "incomplete JSON (the output may have been cut off)" }),
    });
  });

  it("reports prose without JSON as invalid JSON with the parser's reason", () => {
    const result = parseJsonOutput("I cannot help with that.");
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.issue.path).toBe("(root)");
      expect(result.issue.expected).toBe("JSON");
      expect(result.issue.received).toMatch(/^invalid JSON \(.+\)$/);
    }
  });
});

describe("checkOutput", () => {
  it("returns the parsed value when it matches", () => {
    expect(checkOutput(person, '```json\n{"name": "Ada", "tags": ["math"]}\n```')).toEqual({ ok: true, value: { name: "Ada", tags: ["math"] } });
  });

  it("returns the schema issues when it does not match", () => {
    expect(checkOutput(person, '{"name": "Ada", "tags": ["math", 7]}')).toEqual({
      ok: false,
      issues: [{ path: "tags.1", expected: "string", received: "number", message: "tags.1: expected string, received number" }],
    });
  });

  it("returns the parse issue when it is not JSON", () => {
    expect(checkOutput(person, null)).toEqual({
      ok: false,
      issues: [{ path: "(root)", expected: "JSON", received: "empty", message: "(root): expected JSON, received empty" }],
    });
  });
});

describe("nativeResponseFormat", () => {
  it("is strict for DSL objects, which are closed with every property required", () => {
    expect(nativeResponseFormat(person)).toEqual({
      type: "json_schema",
      json_schema: { name: "person", schema: person.jsonSchema, strict: false },
    });
    const allRequired = compileOutputSchema("{name: string, owner: {id: integer} | null, kinds: ('a' | 'b')[]}");
    expect(nativeResponseFormat(allRequired).json_schema.strict).toBe(true);
  });

  it("is not strict when a property is optional, at any depth", () => {
    expect(nativeResponseFormat(compileOutputSchema("{a: {b?: string}}")).json_schema.strict).toBe(false);
    expect(nativeResponseFormat(compileOutputSchema("{a: {b?: string}[] | null}")).json_schema.strict).toBe(false);
  });

  it("is not strict when an object allows additional properties", () => {
    const open = compileOutputSchema({ type: "object", properties: { a: { type: "string" } }, required: ["a"] });
    expect(nativeResponseFormat(open).json_schema.strict).toBe(false);
    const nestedOpen = compileOutputSchema({
      type: "object",
      properties: { a: { type: "object", properties: {}, additionalProperties: true } },
      required: ["a"],
      additionalProperties: false,
    });
    expect(nativeResponseFormat(nestedOpen).json_schema.strict).toBe(false);
  });

  it("is not strict for a non-object root, an unconstrained value or unsupported keywords", () => {
    expect(nativeResponseFormat(compileOutputSchema("{a: string}[]")).json_schema.strict).toBe(false);
    expect(nativeResponseFormat(compileOutputSchema("{a: any}")).json_schema.strict).toBe(false);
    const withOneOf = compileOutputSchema({
      type: "object",
      properties: { a: { oneOf: [{ type: "string" }, { type: "number" }] } },
      required: ["a"],
      additionalProperties: false,
    });
    expect(nativeResponseFormat(withOneOf).json_schema.strict).toBe(false);
  });

  it("follows $defs, and accepts closed zod objects", () => {
    const defs = (additionalProperties: boolean) =>
      compileOutputSchema({
        type: "object",
        $defs: { item: { type: "object", properties: { x: { type: "string" } }, required: ["x"], additionalProperties } },
        properties: { item: { $ref: "#/$defs/item" } },
        required: ["item"],
        additionalProperties: false,
      });
    expect(nativeResponseFormat(defs(false)).json_schema.strict).toBe(true);
    expect(nativeResponseFormat(defs(true)).json_schema.strict).toBe(false);
    expect(nativeResponseFormat(compileOutputSchema(z.object({ a: z.string(), b: z.number().nullable() }))).json_schema.strict).toBe(true);
  });
});

describe("schemaInstruction", () => {
  it("asks for bare JSON matching the compact schema", () => {
    const instruction = schemaInstruction(person);
    expect(instruction).toContain(JSON.stringify(person.jsonSchema));
    expect(instruction).toMatch(/^Respond with only a JSON value that matches this JSON Schema:/);
    expect(instruction).toContain("Do not add any prose");
    expect(instruction).toContain("do not wrap the JSON in Markdown code fences");
    expect(instruction).not.toContain("\n  ");
  });
});

describe("repairMessages", () => {
  const issues: SchemaIssue[] = [
    { path: "tags.1", expected: "string", received: "number", message: "tags.1: expected string, received number" },
    { path: "name", expected: "required property", received: "undefined", message: "name: expected required property, received undefined" },
  ];

  it("replays the raw output as the assistant, then lists every issue for the user", () => {
    const [assistant, user, ...rest] = repairMessages('{"tags": ["a", 1]}', issues);
    expect(rest).toEqual([]);
    expect(assistant).toEqual({ role: "assistant", content: '{"tags": ["a", 1]}' });
    expect(user?.role).toBe("user");
    expect(user?.content).toBe(
      [
        "Your previous reply did not match the required JSON Schema:",
        "- tags.1: expected string, received number",
        "- name: expected required property, received undefined",
        "Reply again with only the corrected JSON value: no prose, no explanation, no code fences.",
      ].join("\n"),
    );
  });

  it("never sends an empty assistant turn, and caps a long issue list", () => {
    const many = Array.from({ length: 25 }, (_, i) => ({ ...issues[0]!, path: `tags.${i}` }));
    const [assistant, user] = repairMessages(null, many);
    expect(assistant?.content).toBe("(empty reply)");
    expect(user?.content).toContain("- tags.19: expected string");
    expect(user?.content).not.toContain("- tags.20:");
    expect(user?.content).toContain("- and 5 more");
  });
});

describe("schemaValidationError", () => {
  it("is a 422 schema_validation error carrying the raw output and issues", () => {
    const issues: SchemaIssue[] = [{ path: "(root)", expected: "JSON", received: "empty", message: "(root): expected JSON, received empty" }];
    const err = schemaValidationError("", issues);
    expect(err).toBeInstanceOf(AirlockError);
    expect(err.code).toBe("schema_validation");
    expect(err.status).toBe(422);
    expect(err.message).toBe("the output did not match the schema");
    expect(err.details).toEqual({ raw: "", issues });
    expect(err.toJSON().error).toMatchObject({ code: "schema_validation", raw: "", issues });
  });
});
