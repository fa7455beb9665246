import { describe, expect, it } from "vitest";
import type { Plan } from "../routing/plan.js";
import { compileOutputSchema } from "../structured/schema.js";
import { outputContract, StreamedAnswers } from "./structured.js";

const plan: Plan = { operation: undefined, candidates: [], routeReason: undefined, named: true };
const body = { model: "m", messages: [] };

describe("outputContract", () => {
  it("refuses a client schema with a regular expression, wherever it sits", () => {
    const nested = { type: "object", properties: { code: { type: "string", pattern: "^(a+)+$" } } };
    expect(() => outputContract(body, nested, plan)).toThrow(expect.objectContaining({ code: "invalid_request", param: "output_schema" }));
    const viaFormat = { ...body, response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object", patternProperties: { "^a": {} } } } } };
    expect(() => outputContract(viaFormat, undefined, plan)).toThrow(expect.objectContaining({ code: "invalid_request", param: "response_format" }));
  });

  it("refuses a client schema of more than 1,000 objects or 5,000 values before compiling it, however it is written", () => {
    const fields = Array.from({ length: 1_000 }, (_, i) => `f${i}`);
    const wide = { type: "object", properties: Object.fromEntries(fields.map((f) => [f, { type: "string" }])), required: fields };
    const tooLarge = expect.objectContaining({ code: "invalid_request", message: expect.stringContaining("at most 1000 objects (subschemas and their properties) and 5000 values") });
    expect(() => outputContract(body, wide, plan)).toThrow(expect.objectContaining({ param: "output_schema" }));
    expect(() => outputContract(body, wide, plan)).toThrow(tooLarge);
    const viaFormat = { ...body, response_format: { type: "json_schema", json_schema: { name: "wide", schema: wide } } };
    expect(() => outputContract(viaFormat, undefined, plan)).toThrow(expect.objectContaining({ param: "response_format" }));
    expect(() => outputContract(body, `{${fields.map((f) => `${f}: string`).join(", ")}}`, plan)).toThrow(tooLarge);
    // Few objects, many values: a long enum compiles worse than linearly (60,000 values took 18 s).
    const values = Array.from({ length: 5_000 }, (_, i) => `v${i}`);
    expect(() => outputContract(body, { type: "object", properties: { v: { enum: values } } }, plan)).toThrow(tooLarge);
    expect(outputContract(body, { type: "object", properties: { v: { enum: values.slice(0, 500) } } }, plan)?.schema.validate({ v: "v1" })).toEqual([]);
    // An operation's schema, compiled once when its route loads, is not bounded.
    expect(compileOutputSchema(wide).validate(Object.fromEntries(fields.map((f) => [f, "x"])))).toEqual([]);
  });

  it("still accepts a field that is merely called pattern", () => {
    const schema = { type: "object", properties: { pattern: { type: "string" } }, required: ["pattern"] };
    const contract = outputContract(body, schema, plan);
    expect(contract?.schema.validate({ pattern: "x" })).toEqual([]);
    expect(contract?.clientFormat).toBe(false);
  });

  it("keeps a client's own response_format for native targets, and repairs by default", () => {
    const withFormat = { ...body, response_format: { type: "json_schema", json_schema: { name: "person", schema: { type: "object", properties: { name: { type: "string" } } } } } };
    expect(outputContract(withFormat, undefined, plan)).toMatchObject({ clientFormat: true, repair: true });
    expect(outputContract(body, undefined, plan)).toBeUndefined();
  });
});

describe("StreamedAnswers", () => {
  const schema = compileOutputSchema("{name: string}");

  it("checks every choice of an n > 1 stream, and names the first that does not fit", () => {
    const answers = new StreamedAnswers();
    answers.add(0, { content: '{"name":' });
    answers.add(1, { content: '{"name":42}' });
    answers.add(0, { content: '"Ada"}' });
    expect(() => answers.check(schema)).toThrow(expect.objectContaining({ code: "schema_validation", details: expect.objectContaining({ raw: '{"name":42}' }) }));
  });

  it("passes when every choice fits, and leaves out choices that call tools or refuse", () => {
    const answers = new StreamedAnswers();
    answers.add(0, { content: '{"name":"Ada"}' });
    answers.add(1, { tool_calls: [{ index: 0, function: { name: "f", arguments: "{}" } }] });
    answers.add(2, { refusal: "no" });
    expect(() => answers.check(schema)).not.toThrow();
  });

  it("refuses a stream that never sent choice 0, as an empty answer", () => {
    const answers = new StreamedAnswers();
    answers.add(1, { content: '{"name":"Ada"}' });
    expect(() => answers.check(schema)).toThrow(expect.objectContaining({ code: "schema_validation", details: expect.objectContaining({ raw: "" }) }));
  });
});
