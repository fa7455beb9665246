import { describe, expect, it } from "vitest";
import { checkRoutes, type RouteShape } from "./routes.js";

const world = { modelIds: new Set(["a/fast", "a/smart"]), tiers: { strong: "a/smart" } };
const routes = (entries: Record<string, RouteShape>) => new Map(Object.entries(entries));
const messages = (entries: Record<string, RouteShape>) => checkRoutes(world, routes(entries)).map((i) => `${i.operation}${i.field ? `.${i.field}` : ""}: ${i.message}`);

describe("checkRoutes", () => {
  it("accepts models, mapped tiers and other operations as targets", () => {
    expect(messages({ chat: { model: "strong", fallbacks: ["summarize", "a/fast"] }, summarize: { model: "a/fast", fallbacks: [] } })).toEqual([]);
  });

  it("names unknown targets and unmapped tiers by field", () => {
    expect(messages({ chat: { model: "a/nope", fallbacks: ["cheap"] } })).toEqual([
      'chat.model: unknown model, operation or unmapped tier "a/nope"',
      'chat.fallbacks.0: unknown model, operation or unmapped tier "cheap"',
    ]);
  });

  it("rejects a chain that leads back to itself, spelling out the loop", () => {
    expect(messages({ a: { model: "a/fast", fallbacks: ["b"] }, b: { model: "c", fallbacks: [] }, c: { model: "a/smart", fallbacks: ["a"] } })).toEqual([
      "a: fallback cycle: a → b → c → a",
      "b: fallback cycle: a → b → c → a",
      "c: fallback cycle: a → b → c → a",
    ]);
    expect(messages({ a: { model: "a/fast", fallbacks: ["a"] } })).toEqual(["a.fallbacks.0: fallback cycle: a → a"]);
  });

  it("allows the same operation twice in one chain when there is no loop", () => {
    expect(messages({ a: { model: "b", fallbacks: ["b"] }, b: { model: "a/fast", fallbacks: [] } })).toEqual([]);
  });

  it("refuses an operation named like a model", () => {
    expect(messages({ "a/fast": { model: "a/smart", fallbacks: [] } })).toEqual(['a/fast: operation "a/fast" has the same name as a model']);
  });
});
