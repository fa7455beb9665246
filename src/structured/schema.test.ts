import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { AirlockError } from "../core/errors.js";
import { compileOutputSchema, compileOutputSchemaCached, type SchemaIssue } from "./schema.js";

const example = compileOutputSchema("{name: string, tags: string[], score?: number}");

function issue(path: string, expected: string, received: string): SchemaIssue {
  return { path, expected, received, message: `${path}: expected ${expected}, received ${received}` };
}

function rejection(run: () => unknown): AirlockError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(AirlockError);
    return err as AirlockError;
  }
  throw new Error("expected the schema to be rejected");
}

describe("compileOutputSchema", () => {
  it("compiles a DSL string and validates a matching value with no issues", () => {
    expect(example.name).toBe("output");
    expect(example.jsonSchema.required).toEqual(["name", "tags"]);
    expect(example.validate({ name: "a", tags: ["x", "y"] })).toEqual([]);
    expect(example.validate({ name: "a", tags: [], score: 1.5 })).toEqual([]);
  });

  it("reports a wrong type inside an array by its index", () => {
    expect(example.validate({ name: "a", tags: ["x", 2] })).toEqual([issue("tags.1", "string", "number")]);
  });

  it("reports a missing required field at the field's own path", () => {
    expect(example.validate({ tags: [] })).toEqual([issue("name", "required property", "undefined")]);
  });

  it("reports an enum mismatch with the allowed values and what was received", () => {
    const schema = compileOutputSchema(`{mood: "happy" | "sad"}`);
    expect(schema.validate({ mood: "meh" })).toEqual([issue("mood", 'one of "happy", "sad"', '"meh"')]);
  });

  it("reports an extra property", () => {
    expect(example.validate({ name: "a", tags: [], extra: true })).toEqual([issue("extra", "no additional property", "boolean")]);
  });

  it("reports every issue at once, and (root) for the value itself", () => {
    expect(example.validate({ name: 1, tags: "x" })).toEqual([issue("name", "string", "number"), issue("tags", "array", "string")]);
    expect(example.validate([1])).toEqual([issue("(root)", "object", "array")]);
    expect(example.validate(null)).toEqual([issue("(root)", "object", "null")]);
  });

  it("reports the fitting branch of a union rather than every branch", () => {
    const schema = compileOutputSchema("{owner: {id: integer} | null}");
    expect(schema.validate({ owner: { id: "7" } })).toEqual([issue("owner.id", "integer", "string")]);
    expect(schema.validate({ owner: null })).toEqual([]);
    expect(schema.validate({ owner: 3 })).toEqual([issue("owner", "object or null", "number")]);
    expect(compileOutputSchema("{a: string | null}").validate({ a: 1 })).toEqual([issue("a", "string or null", "number")]);
  });

  it("phrases common JSON Schema constraints readably", () => {
    const schema = compileOutputSchema({
      type: "object",
      properties: {
        n: { type: "number", minimum: 1 },
        s: { type: "string", maxLength: 2 },
        p: { type: "string", pattern: "^a" },
        l: { type: "array", minItems: 2 },
        c: { const: "x" },
        m: { type: "integer", multipleOf: 3 },
      },
    });
    expect(schema.validate({ n: 0, s: "abc", p: "b", l: [1], c: "y", m: 4 })).toEqual([
      issue("n", "number >= 1", "0"),
      issue("s", "string of at most 2 characters", '"abc"'),
      issue("p", "string matching /^a/", '"b"'),
      issue("l", "at least 2 items", "1 items"),
      issue("c", '"x"', '"y"'),
      issue("m", "be multiple of 3", "4"),
    ]);
  });

  it("keeps JSON Schema objects as given, with $ref, $id and a foreign $schema", () => {
    const input = {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      $id: "https://example.com/person",
      $defs: { name: { type: "string" } },
      type: "object",
      properties: { first: { $ref: "#/$defs/name" } },
      required: ["first"],
    };
    const schema = compileOutputSchema(input, "person");
    expect(schema.jsonSchema).toStrictEqual(input);
    expect(schema.jsonSchema).not.toBe(input);
    expect(schema.validate({ first: 1 })).toEqual([issue("first", "string", "number")]);
    // The same $id again must not collide with the first compile.
    expect(compileOutputSchema({ ...input }).validate({ first: "Ada" })).toEqual([]);
  });

  it("rejects non-objects and schemas Ajv cannot compile as invalid_request on output_schema", () => {
    for (const bad of [[], null, 42, true] as unknown[]) {
      const err = rejection(() => compileOutputSchema(bad as Record<string, unknown>));
      expect(err.code).toBe("invalid_request");
      expect(err.param).toBe("output_schema");
      expect(err.message).toMatch(/^output schema: expected a DSL string or a JSON Schema object, received (array|null|number|boolean)$/);
    }
    const err = rejection(() => compileOutputSchema({ type: "strnig" }));
    expect(err.param).toBe("output_schema");
    expect(err.message).toMatch(/^output schema: the JSON Schema is invalid: /);
    expect(rejection(() => compileOutputSchema({ properties: { a: { $ref: "#/nowhere" } } })).code).toBe("invalid_request");
  });

  it("converts zod schemas and drops their $schema key", () => {
    const schema = compileOutputSchema(z.object({ id: z.number().int(), label: z.string().nullable(), kind: z.enum(["a", "b"]) }));
    expect(schema.jsonSchema).not.toHaveProperty("$schema");
    expect(schema.jsonSchema).toMatchObject({ type: "object", required: ["id", "label", "kind"], additionalProperties: false });
    expect(schema.validate({ id: 1, label: null, kind: "a" })).toEqual([]);
    expect(schema.validate({ id: 1.5, label: null, kind: "c" })).toEqual([issue("id", "integer", "number"), issue("kind", 'one of "a", "b"', '"c"')]);
    expect(rejection(() => compileOutputSchema(z.object({ when: z.date() }))).message).toMatch(/^output schema: the zod schema cannot be expressed as JSON Schema/);
  });

  it("treats a client's JSON object with a _zod key as JSON Schema, not as a zod schema", () => {
    const schema = compileOutputSchema({ type: "object", _zod: { run: "not a function" } });
    expect(schema.jsonSchema).toStrictEqual({ type: "object", _zod: { run: "not a function" } });
    expect(schema.validate([])).toEqual([issue("(root)", "object", "array")]);
  });

  it("sanitizes the name to OpenAI's pattern", () => {
    expect(compileOutputSchema("{a: string}", "invoice_v2-final").name).toBe("invoice_v2-final");
    expect(compileOutputSchema("{a: string}", "my schema.v1").name).toBe("my_schema_v1");
    expect(compileOutputSchema("{a: string}", "x".repeat(100)).name).toBe("x".repeat(64));
    expect(compileOutputSchema("{a: string}", "").name).toBe("output");
    expect(compileOutputSchema("{a: string}", "???").name).toBe("output");
  });

  it("formats are not enforced, and do not make compilation fail", () => {
    const schema = compileOutputSchema({ type: "string", format: "email" });
    expect(schema.validate("not an email")).toEqual([]);
  });

  it("validation of any value never throws, only reports issues", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const issues = example.validate(value);
        for (const found of issues) expect(found.message).toBe(`${found.path}: expected ${found.expected}, received ${found.received}`);
      }),
    );
  });

  it("reports an answer nested too deep for a recursive schema as an issue, not a stack overflow", () => {
    const nested = compileOutputSchema({ type: "array", items: { $ref: "#" } });
    expect(nested.validate([[[]]])).toEqual([]);
    const depth = 50_000;
    const [found, ...more] = nested.validate(JSON.parse("[".repeat(depth) + "]".repeat(depth)));
    expect(more).toEqual([]);
    expect(found).toMatchObject({ path: "(root)", received: "a value nested too deeply to check" });
    expect(found!.message).toBe(`${found!.path}: expected ${found!.expected}, received ${found!.received}`);
  });
});

describe("compileOutputSchemaCached", () => {
  it("returns the same compiled schema for a repeated DSL string, JSON Schema or zod schema", () => {
    expect(compileOutputSchemaCached("{cached: string}")).toBe(compileOutputSchemaCached("{cached: string}"));
    expect(compileOutputSchemaCached({ type: "object", properties: { c: { type: "string" } } })).toBe(
      compileOutputSchemaCached({ type: "object", properties: { c: { type: "string" } } }),
    );
    const zod = z.object({ c: z.string() });
    expect(compileOutputSchemaCached(zod)).toBe(compileOutputSchemaCached(zod));
  });

  it("keys on the name too, and rejects a broken schema on every call rather than caching a hole", () => {
    expect(compileOutputSchemaCached("{named: string}", "a").name).toBe("a");
    expect(compileOutputSchemaCached("{named: string}", "b").name).toBe("b");
    expect(() => compileOutputSchemaCached("{broken")).toThrow(AirlockError);
    expect(() => compileOutputSchemaCached("{broken")).toThrow(AirlockError);
  });

  it("evicts the least recently used entry beyond 256 entries", () => {
    const first = compileOutputSchemaCached("{evict0: string}");
    const hot = compileOutputSchemaCached("{hot: string}");
    for (let i = 1; i <= 300; i++) {
      compileOutputSchemaCached(`{evict${i}: string}`);
      // Touched every 100 inserts, so it outlives 300 newer entries; first-in-first-out would drop it.
      if (i % 100 === 0) expect(compileOutputSchemaCached("{hot: string}")).toBe(hot);
    }
    expect(compileOutputSchemaCached("{evict0: string}")).not.toBe(first);
    expect(compileOutputSchemaCached("{evict300: string}")).toBe(compileOutputSchemaCached("{evict300: string}"));
  });
});

// ---- Property: values built to match a random DSL schema always validate ----

type Shape =
  | { kind: "primitive"; name: "string" | "number" | "integer" | "boolean" | "null" | "any" }
  | { kind: "literals"; values: string[] }
  | { kind: "nullable"; inner: Shape }
  | { kind: "array"; items: Shape }
  | { kind: "object"; fields: Array<{ key: string; optional: boolean; shape: Shape }> };

const keyArb = fc.oneof(fc.constantFrom("id", "name", "tags", "score", "string", "a_b", "$x"), fc.string({ minLength: 1, maxLength: 6 }));

const shapeArb = fc.letrec<{ shape: Shape; object: Shape }>((tie) => ({
  shape: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ kind: fc.constant("primitive" as const), name: fc.constantFrom("string", "number", "integer", "boolean", "null", "any") as fc.Arbitrary<"string"> }),
    fc.record({ kind: fc.constant("literals" as const), values: fc.uniqueArray(fc.string({ maxLength: 5 }), { minLength: 1, maxLength: 4 }) }),
    fc.record({ kind: fc.constant("nullable" as const), inner: tie("shape") }),
    fc.record({ kind: fc.constant("array" as const), items: tie("shape") }),
    tie("object"),
  ),
  object: fc.record({
    kind: fc.constant("object" as const),
    fields: fc.uniqueArray(fc.record({ key: keyArb, optional: fc.boolean(), shape: tie("shape") }), { maxLength: 4, selector: (field) => field.key }),
  }),
})).object;

function renderDsl(shape: Shape, separator: string): string {
  switch (shape.kind) {
    case "primitive":
      return shape.name;
    case "literals":
      return shape.values.map((value) => JSON.stringify(value)).join(" | ");
    case "nullable":
      return `(${renderDsl(shape.inner, separator)}) | null`;
    case "array":
      return `(${renderDsl(shape.items, separator)})[]`;
    case "object":
      return `{${shape.fields.map((field) => `${JSON.stringify(field.key)}${field.optional ? "?" : ""}: ${renderDsl(field.shape, separator)}`).join(separator)}}`;
  }
}

function valueArb(shape: Shape): fc.Arbitrary<unknown> {
  switch (shape.kind) {
    case "primitive":
      return {
        string: fc.string(),
        number: fc.double({ noNaN: true, noDefaultInfinity: true }),
        integer: fc.integer(),
        boolean: fc.boolean(),
        null: fc.constant(null),
        any: fc.jsonValue(),
      }[shape.name];
    case "literals":
      return fc.constantFrom(...shape.values);
    case "nullable":
      return fc.option(valueArb(shape.inner), { nil: null });
    case "array":
      return fc.array(valueArb(shape.items), { maxLength: 3 });
    case "object":
      return fc
        .tuple(...shape.fields.map((field) => fc.record({ present: field.optional ? fc.boolean() : fc.constant(true), value: valueArb(field.shape) })))
        .map((entries) => Object.fromEntries(shape.fields.flatMap((field, i) => (entries[i]!.present ? [[field.key, entries[i]!.value]] : []))));
  }
}

describe("DSL schemas and the values they describe", () => {
  it("a value built to match a random DSL schema has no issues", () => {
    const caseArb = fc
      .tuple(shapeArb, fc.constantFrom(", ", "; ", "\n", ",\n"))
      .chain(([shape, separator]) => fc.tuple(fc.constant(renderDsl(shape, separator)), valueArb(shape)));
    fc.assert(
      fc.property(caseArb, ([dsl, value]) => {
        expect(compileOutputSchema(dsl).validate(value)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it("the same values, with one required field removed, report exactly that field", () => {
    const caseArb = shapeArb
      .filter((shape) => shape.kind === "object" && shape.fields.some((field) => !field.optional))
      .chain((shape) => fc.tuple(fc.constant(shape as Extract<Shape, { kind: "object" }>), valueArb(shape)));
    fc.assert(
      fc.property(caseArb, ([shape, value]) => {
        const field = shape.fields.find((candidate) => !candidate.optional)!;
        const { [field.key]: _removed, ...rest } = value as Record<string, unknown>;
        const issues = compileOutputSchema(renderDsl(shape, ", ")).validate(rest);
        expect(issues).toContainEqual(issue(field.key, "required property", "undefined"));
      }),
      { numRuns: 100 },
    );
  });
});
