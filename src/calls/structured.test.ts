import { describe, expect, it } from "vitest";
import type { Plan } from "../routing/plan.js";
import { outputContract } from "./structured.js";

const plan: Plan = { operation: undefined, candidates: [], routeReason: undefined, named: true };
const body = { model: "m", messages: [] };

describe("outputContract", () => {
  it("refuses a client schema with a regular expression, wherever it sits", () => {
    const nested = { type: "object", properties: { code: { type: "string", pattern: "^(a+)+$" } } };
    expect(() => outputContract(body, nested, plan)).toThrow(expect.objectContaining({ code: "invalid_request", param: "output_schema" }));
    const viaFormat = { ...body, response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object", patternProperties: { "^a": {} } } } } };
    expect(() => outputContract(viaFormat, undefined, plan)).toThrow(expect.objectContaining({ code: "invalid_request", param: "response_format" }));
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
