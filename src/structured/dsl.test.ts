import { describe, expect, it } from "vitest";
import { AirlockError } from "../core/errors.js";
import { compileDsl } from "./dsl.js";

function compileError(source: string): AirlockError {
  try {
    compileDsl(source);
  } catch (err) {
    expect(err).toBeInstanceOf(AirlockError);
    return err as AirlockError;
  }
  throw new Error(`expected ${JSON.stringify(source)} to be rejected`);
}

describe("compileDsl", () => {
  it("compiles the documented example to exactly this JSON Schema", () => {
    expect(compileDsl("{name: string, tags: string[], score?: number}")).toStrictEqual({
      type: "object",
      properties: {
        name: { type: "string" },
        tags: { type: "array", items: { type: "string" } },
        score: { type: "number" },
      },
      required: ["name", "tags"],
      additionalProperties: false,
    });
  });

  it("compiles every primitive, and any/unknown to an unconstrained schema", () => {
    expect(compileDsl("{a: string, b: number, c: integer, d: boolean, e: null, f: any, g: unknown}").properties).toStrictEqual({
      a: { type: "string" },
      b: { type: "number" },
      c: { type: "integer" },
      d: { type: "boolean" },
      e: { type: "null" },
      f: {},
      g: {},
    });
  });

  it("compiles nested objects and arrays of objects", () => {
    expect(compileDsl("{user: {id: integer, email?: string}, items: {sku: string, qty: number}[]}")).toStrictEqual({
      type: "object",
      properties: {
        user: {
          type: "object",
          properties: { id: { type: "integer" }, email: { type: "string" } },
          required: ["id"],
          additionalProperties: false,
        },
        items: {
          type: "array",
          items: {
            type: "object",
            properties: { sku: { type: "string" }, qty: { type: "number" } },
            required: ["sku", "qty"],
            additionalProperties: false,
          },
        },
      },
      required: ["user", "items"],
      additionalProperties: false,
    });
  });

  it("compiles nested arrays and parenthesised unions inside arrays", () => {
    const properties = compileDsl("{grid: number[][], mixed: (string | number)[]}").properties;
    expect(properties).toStrictEqual({
      grid: { type: "array", items: { type: "array", items: { type: "number" } } },
      mixed: { type: "array", items: { type: ["string", "number"] } },
    });
  });

  it("compiles string-literal unions to enum, with null folded in", () => {
    expect(compileDsl(`{mood: "happy" | "sad" | 'meh'}`).properties).toStrictEqual({
      mood: { type: "string", enum: ["happy", "sad", "meh"] },
    });
    expect(compileDsl(`{mood: "happy" | "sad" | null}`).properties).toStrictEqual({
      mood: { type: ["string", "null"], enum: ["happy", "sad", null] },
    });
  });

  it("compiles nullable primitives to a type array and nullable objects to anyOf", () => {
    expect(compileDsl("{a: string | null, b: {x: number} | null}").properties).toStrictEqual({
      a: { type: ["string", "null"] },
      b: {
        anyOf: [
          { type: "object", properties: { x: { type: "number" } }, required: ["x"], additionalProperties: false },
          { type: "null" },
        ],
      },
    });
  });

  it("collapses a union with any to an unconstrained schema and deduplicates members", () => {
    expect(compileDsl("{a: string | any, b: string | string}").properties).toStrictEqual({ a: {}, b: { type: "string" } });
  });

  it("groups literals and primitives of a mixed union into one branch each, in the order written", () => {
    expect(compileDsl(`{a: number[] | "x" | string | "y" | null}`).properties).toStrictEqual({
      a: { anyOf: [{ type: "array", items: { type: "number" } }, { type: "string", enum: ["x", "y"] }, { type: ["string", "null"] }] },
    });
  });

  it("unescapes quoted keys and literals", () => {
    expect(compileDsl(`{"say \\"hi\\"": "a\\nb" | 'it\\'s'}`).properties).toStrictEqual({ 'say "hi"': { type: "string", enum: ["a\nb", "it's"] } });
  });

  it("accepts quoted keys, a leading pipe and a top-level array of objects", () => {
    expect(compileDsl(`{"first name": string, 'x-id': integer, __proto__: boolean}`)).toMatchObject({
      properties: { "first name": { type: "string" }, "x-id": { type: "integer" } },
      required: ["first name", "x-id", "__proto__"],
    });
    expect(Object.keys(compileDsl(`{__proto__: boolean}`).properties as object)).toEqual(["__proto__"]);
    expect(compileDsl(`{kind: | "a" | "b"}[]`)).toStrictEqual({
      type: "array",
      items: { type: "object", properties: { kind: { type: "string", enum: ["a", "b"] } }, required: ["kind"], additionalProperties: false },
    });
  });

  it("accepts commas, semicolons, newlines and trailing separators alike", () => {
    const expected = compileDsl("{a: string, b: number}");
    expect(compileDsl("{a: string; b: number;}")).toStrictEqual(expected);
    expect(compileDsl("{a: string, b: number,}")).toStrictEqual(expected);
    expect(compileDsl("{\n  a: string\n  b: number\n}")).toStrictEqual(expected);
    expect(compileDsl("{\n  a: string,\n  b: number,\n}")).toStrictEqual(expected);
    expect(compileDsl("{ a: string  \r\n\t b: number }")).toStrictEqual(expected);
    expect(compileDsl("{}")).toStrictEqual({ type: "object", properties: {}, required: [], additionalProperties: false });
  });

  it("reports a missing type with its position and what it found", () => {
    const err = compileError("{name: }");
    expect(err.code).toBe("invalid_request");
    expect(err.param).toBe("output_schema");
    expect(err.message).toBe('output schema: expected a type at position 7, found "}"');
  });

  it("reports a missing colon", () => {
    expect(compileError("{name string}").message).toBe('output schema: expected ":" at position 6 after field "name", found "string"');
  });

  it("reports an unterminated object with where it was opened", () => {
    expect(compileError("{name: string").message).toBe(
      'output schema: unterminated "{" opened at position 0: expected "," or "}" at position 13, found end of input',
    );
    expect(compileError("{a: {b: string,").message).toBe(
      'output schema: unterminated "{" opened at position 4: expected a field or "}" at position 15, found end of input',
    );
  });

  it("says a type is unknown, suggests the closest one and lists the known ones", () => {
    const err = compileError("{a: strng}");
    expect(err.message).toBe(
      'output schema: unknown type "strng" at position 4 (did you mean "string"?); known types are string, number, integer, boolean, null, any, unknown, object literals {...}, arrays T[] and quoted string literals',
    );
    expect(compileError("{a: Date}").message).not.toContain("did you mean");
  });

  it("rejects other malformed input with a positioned message", () => {
    expect(compileError("{a: string b: number}").message).toBe('output schema: expected "," or "}" at position 11 after field "a", found "b"');
    expect(compileError("{a: string, a: number}").message).toBe('output schema: duplicate field "a" at position 12');
    expect(compileError('{a: "open}').message).toBe("output schema: unterminated string starting at position 4");
    expect(compileError("{a: string[}").message).toBe('output schema: expected "]" at position 11 to close "[", found "}"');
    expect(compileError("{a: (string}").message).toBe('output schema: expected ")" at position 11 to close the "(" at position 4, found "}"');
    expect(compileError("{a: string} extra").message).toBe('output schema: expected end of input at position 12, found "extra"');
    expect(compileError("{a: @}").message).toBe('output schema: unexpected character "@" at position 4');
    expect(compileError("{1: string}").message).toBe('output schema: unexpected character "1" at position 1');
    expect(compileError("").message).toBe("output schema: expected a type at position 0, found end of input");
  });

  it("requires an object literal or an array of one at the top level", () => {
    expect(compileError("string[]").message).toBe(
      "output schema: the top level must be an object literal such as {name: string} or an array of one such as {name: string}[], found an array of string",
    );
    expect(compileError("{a: string} | null").message).toContain("found a union");
  });

  it("bounds nesting so hostile input cannot exhaust the stack", () => {
    expect(compileError(`${"{a: ".repeat(100)}string${"}".repeat(100)}`).message).toMatch(/nested too deeply at position \d+/);
    expect(compileError(`{a: string${"[]".repeat(1000)}}`).message).toMatch(/nested too deeply/);
    expect(compileError(`{a: ${"(".repeat(1000)}string${")".repeat(1000)}}`).message).toMatch(/nested too deeply/);
  });
});
