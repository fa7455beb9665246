import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { compileDsl } from "./dsl.js";
import type { InferOutput } from "./infer.js";
import { compileOutputSchema, type JsonSchema } from "./schema.js";

// These assertions are checked by tsc (`npm run typecheck`); each test also compiles the same schema
// at runtime and checks a value of the inferred type against it, so the two cannot drift apart.

describe("InferOutput from a DSL string", () => {
  it("infers the documented example", () => {
    const dsl = "{name: string, tags: string[], score?: number}";
    type Out = InferOutput<typeof dsl>;
    expectTypeOf<Out>().toEqualTypeOf<{ name: string; tags: string[]; score?: number }>();
    const value: Out = { name: "Ada", tags: ["math"] };
    expect(compileOutputSchema(dsl).validate(value)).toEqual([]);
  });

  it("infers every primitive, nested objects, arrays, literal unions and nullables", () => {
    const dsl = `{
      id: integer; ok: boolean; nothing: null; anything: any
      owner: {name: string, "e-mail"?: string} | null
      items: {sku: string, qty: number}[]
      grid: number[][]
      mood: "happy" | 'sad'
      mixed: (string | number)[]
    }`;
    type Out = InferOutput<typeof dsl>;
    expectTypeOf<Out>().toEqualTypeOf<{
      id: number;
      ok: boolean;
      nothing: null;
      anything: unknown;
      owner: { name: string; "e-mail"?: string } | null;
      items: { sku: string; qty: number }[];
      grid: number[][];
      mood: "happy" | "sad";
      mixed: (string | number)[];
    }>();
    const value: Out = { id: 1, ok: true, nothing: null, anything: [1], owner: null, items: [], grid: [[1]], mood: "sad", mixed: ["a", 1] };
    expect(compileOutputSchema(dsl).validate(value)).toEqual([]);
  });

  it("infers a top-level array of objects and tolerates trailing separators", () => {
    const dsl = "{a: string,}[]";
    expectTypeOf<InferOutput<typeof dsl>>().toEqualTypeOf<{ a: string }[]>();
    expect(compileDsl(dsl)).toMatchObject({ type: "array" });
  });

  it("handles a ten-field schema without hitting tsc's recursion limits", () => {
    const dsl = `{f0: string, f1: number, f2?: boolean, f3: string[], f4: {x: number, y: number},
      f5: "a" | "b" | "c", f6: string | null, f7?: {deep: {deeper: string[]}[]}, f8: integer, f9: null}`;
    type Out = InferOutput<typeof dsl>;
    expectTypeOf<Out>().toEqualTypeOf<{
      f0: string;
      f1: number;
      f2?: boolean;
      f3: string[];
      f4: { x: number; y: number };
      f5: "a" | "b" | "c";
      f6: string | null;
      f7?: { deep: { deeper: string[] }[] };
      f8: number;
      f9: null;
    }>();
    const value: Out = { f0: "", f1: 1, f3: [], f4: { x: 1, y: 2 }, f5: "c", f6: null, f8: 3, f9: null };
    expect(compileOutputSchema(dsl).validate(value)).toEqual([]);
  });

  it("gives unknown for malformed DSL and for a wide string", () => {
    const unterminated = "{name: string";
    const missingColon = "{name string}";
    const unknownType = "{a: strng}";
    expectTypeOf<InferOutput<typeof unterminated>>().toBeUnknown();
    expectTypeOf<InferOutput<typeof missingColon>>().toBeUnknown();
    expectTypeOf<InferOutput<typeof unknownType>>().toBeUnknown();
    expectTypeOf<InferOutput<string>>().toBeUnknown();
    for (const bad of [unterminated, missingColon, unknownType]) expect(() => compileDsl(bad)).toThrow(/^output schema: /);
  });
});

describe("InferOutput from a JSON Schema declared as const", () => {
  it("maps object, properties, required, arrays, primitives, enum and nullable types", () => {
    const schema = {
      type: "object",
      properties: {
        name: { type: "string" },
        age: { type: "integer" },
        score: { type: "number" },
        active: { type: "boolean" },
        tags: { type: "array", items: { type: "string" } },
        kind: { type: "string", enum: ["a", "b"] },
        note: { type: ["string", "null"] },
        parent: { anyOf: [{ type: "object", properties: { id: { type: "string" } }, required: ["id"] }, { type: "null" }] },
        meta: { type: "object" },
        free: {},
      },
      required: ["name", "tags", "kind", "note", "parent"],
    } as const;
    type Out = InferOutput<typeof schema>;
    expectTypeOf<Out>().toEqualTypeOf<{
      name: string;
      tags: string[];
      kind: "a" | "b";
      note: string | null;
      parent: { id: string } | null;
      age?: number;
      score?: number;
      active?: boolean;
      meta?: Record<string, unknown>;
      free?: unknown;
    }>();
    const value: Out = { name: "x", tags: [], kind: "a", note: null, parent: { id: "p" }, meta: { any: 1 } };
    expect(compileOutputSchema(schema).validate(value)).toEqual([]);
  });

  it("infers a top-level array and a const", () => {
    const schema = { type: "array", items: { type: "object", properties: { v: { const: "fixed" } }, required: ["v"] } } as const;
    expectTypeOf<InferOutput<typeof schema>>().toEqualTypeOf<{ v: "fixed" }[]>();
    expect(compileOutputSchema(schema).validate([{ v: "fixed" }])).toEqual([]);
  });

  it("gives unknown for a wide schema type", () => {
    expectTypeOf<InferOutput<JsonSchema>>().toBeUnknown();
    expectTypeOf<InferOutput<Record<string, unknown>>>().toBeUnknown();
    expectTypeOf<InferOutput<number>>().toBeUnknown();
  });
});

describe("InferOutput from a zod schema", () => {
  it("is z.infer of the schema", () => {
    const schema = z.object({ id: z.number(), label: z.string().nullable(), tags: z.array(z.enum(["a", "b"])).optional() });
    type Out = InferOutput<typeof schema>;
    expectTypeOf<Out>().toEqualTypeOf<z.infer<typeof schema>>();
    expectTypeOf<Out>().toEqualTypeOf<{ id: number; label: string | null; tags?: ("a" | "b")[] | undefined }>();
    const value: Out = { id: 1, label: null, tags: ["b"] };
    expect(compileOutputSchema(schema).validate(value)).toEqual([]);
  });
});
