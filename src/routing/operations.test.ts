import { describe, expect, it } from "vitest";
import { resolveConfig } from "../config/load.js";
import { operationSchema, type OperationConfig } from "../config/schema.js";
import { assertChangeSaves, compileOperations, routeExtrasProblem } from "./operations.js";

const config = resolveConfig(
  { providers: { a: { type: "mock" } }, models: [{ id: "a/fast" }, { id: "a/smart" }], retry: { maxAttempts: 5, maxRetryAfterMs: 1_000 } },
  "test",
  {},
).config;
const world = { modelIds: new Set(["a/fast", "a/smart"]), tiers: {} };
const route = (input: Record<string, unknown>): OperationConfig => operationSchema.parse(input);
const routes = (entries: Record<string, Record<string, unknown>>) => new Map(Object.entries(entries).map(([name, input]) => [name, route(input)]));

describe("compileOperations", () => {
  it("takes each retry field the operation leaves out from the top-level retry", () => {
    const ops = compileOperations(config, world, routes({ chat: { model: "a/fast", retry: { baseDelayMs: 10 } } }));
    expect(ops.get("chat")?.retryPolicy).toEqual({ maxAttempts: 5, baseDelayMs: 10, maxDelayMs: 4_000, maxRetryAfterMs: 1_000 });
  });

  it("marks a route that falls back to an unusable one as unusable too, and every member of a cycle", () => {
    const ops = compileOperations(
      config,
      world,
      routes({ broken: { model: "a/gone" }, leans: { model: "a/fast", fallbacks: ["broken"] }, x: { model: "a/fast", fallbacks: ["y"] }, y: { model: "a/smart", fallbacks: ["x"] } }),
    );
    expect(ops.get("leans")?.problem).toBe('it falls back to operation "broken", which cannot be served');
    expect(ops.get("x")?.problem).toMatch(/fallback cycle/);
    expect(ops.get("y")?.problem).toMatch(/fallback cycle/);
  });

  it("compiles a route's templates and schema once, keeping a malformed one as the route's problem", () => {
    const ops = compileOperations(config, world, routes({ ok: { model: "a/fast", outputSchema: "{name: string}", prompt: { user: "Hi {{name}}" } }, bad: { model: "a/fast", prompt: { user: "Hi {{name" } } }));
    expect(ops.get("ok")?.schema?.jsonSchema).toMatchObject({ required: ["name"] });
    expect(ops.get("ok")?.templates.user?.render({ name: "Ada" })).toBe("Hi Ada");
    expect(ops.get("bad")?.problem).toMatch(/unclosed/);
  });
});

describe("routeExtrasProblem", () => {
  it("names the first route from the file whose template or schema does not compile, and passes good ones", () => {
    expect(routeExtrasProblem(routes({ ok: { model: "a/fast", outputSchema: "{name: string}", prompt: { user: "Hi {{name}}" } } }))).toBeUndefined();
    expect(routeExtrasProblem(routes({ ok: { model: "a/fast" }, bad: { model: "a/fast", prompt: { system: "Hi {{name" } } }))).toMatch(/^operations\.bad: .*unclosed/);
    expect(routeExtrasProblem(routes({ shape: { model: "a/fast", outputSchema: "{name: }" } }))).toMatch(/^operations\.shape: /);
  });
});

describe("assertChangeSaves", () => {
  const before = routes({ legacy: { model: "a/gone" }, base: { model: "a/fast" }, top: { model: "a/smart", fallbacks: ["base"] }, z: { model: "a/fast" } });

  it("lets unrelated changes through while another route is already unusable", () => {
    const after = new Map(before).set("z", route({ model: "a/smart" }));
    expect(() => assertChangeSaves(world, before, after, "z")).not.toThrow();
    const withoutZ = new Map(before);
    withoutZ.delete("z");
    expect(() => assertChangeSaves(world, before, withoutZ, "z")).not.toThrow();
  });

  it("refuses a delete that would break a route falling back to it, naming that route", () => {
    const after = new Map(before);
    after.delete("base");
    expect(() => assertChangeSaves(world, before, after, "base")).toThrow(/route "base": .*unknown model, operation or unmapped tier "base" \(it would break route "top"\)/);
  });

  it("refuses a save that closes a cycle", () => {
    const after = new Map(before).set("base", route({ model: "a/fast", fallbacks: ["top"] }));
    expect(() => assertChangeSaves(world, before, after, "base")).toThrow(expect.objectContaining({ code: "invalid_request", message: expect.stringContaining("fallback cycle") }));
  });
});
