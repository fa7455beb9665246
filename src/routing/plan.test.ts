import { describe, expect, it } from "vitest";
import { resolveConfig } from "../config/load.js";
import { createProvider } from "../providers/registry.js";
import { buildCatalog, withRoutes } from "./catalog.js";
import { planCall } from "./plan.js";

const config = resolveConfig(
  {
    providers: { a: { type: "mock" }, b: { type: "mock" } },
    models: [
      { id: "a/fast", price: { input: "1" } },
      { id: "a/smart", price: { input: "2" } },
      { id: "b/smart", price: { input: "2" } },
      { id: "b/off", status: "disabled" },
      { id: "a/embed", kind: "embedding" },
    ],
    tiers: { strong: "a/smart", cheap: "a/fast" },
    operations: {
      chat_message: { model: "strong", fallbacks: ["b/off", "cheap", "a/smart"] },
      paused: { model: "a/fast", enabled: false },
      only_off: { model: "b/off" },
      nested: { model: "b/smart", fallbacks: ["chat_message"] },
    },
  },
  "test",
  {},
).config;
const catalog = buildCatalog(config, createProvider);

const ids = (plan: ReturnType<typeof planCall>) => plan.candidates.map((c) => c.id);

describe("planCall", () => {
  it("routes an operation through its primary and fallbacks, skipping disabled and repeated targets", () => {
    expect(ids(planCall(catalog, { model: "chat_message", operation: undefined, endpoint: "chat" }))).toEqual(["a/smart", "a/fast"]);
  });

  it("uses the operation header when the model field names none", () => {
    const plan = planCall(catalog, { model: undefined, operation: "chat_message", endpoint: "chat" });
    expect(plan.operation?.name).toBe("chat_message");
    expect(ids(plan)).toEqual(["a/smart", "a/fast"]);
  });

  it("lets a named model win over the operation's route, keeping the operation for the record", () => {
    const plan = planCall(catalog, { model: "a/fast", operation: "chat_message", endpoint: "chat" });
    expect(ids(plan)).toEqual(["a/fast"]);
    expect(plan.operation?.name).toBe("chat_message");
  });

  it("resolves tiers and bare ids that name one model", () => {
    expect(ids(planCall(catalog, { model: "cheap", operation: undefined, endpoint: "chat" }))).toEqual(["a/fast"]);
    expect(ids(planCall(catalog, { model: "fast", operation: undefined, endpoint: "chat" }))).toEqual(["a/fast"]);
    // "smart" is ambiguous (a/smart and b/smart), so it is not an alias.
    expect(() => planCall(catalog, { model: "smart", operation: undefined, endpoint: "chat" })).toThrow(/unknown model/);
  });

  it("refuses unknown, disabled and mismatched targets with the right codes", () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return (err as { code?: string }).code;
      }
      return "none";
    };
    expect(code(() => planCall(catalog, { model: "z/none", operation: undefined, endpoint: "chat" }))).toBe("not_found");
    expect(code(() => planCall(catalog, { model: undefined, operation: "nope", endpoint: "chat" }))).toBe("not_found");
    expect(code(() => planCall(catalog, { model: "paused", operation: undefined, endpoint: "chat" }))).toBe("disabled");
    expect(code(() => planCall(catalog, { model: "only_off", operation: undefined, endpoint: "chat" }))).toBe("disabled");
    expect(code(() => planCall(catalog, { model: "a/embed", operation: undefined, endpoint: "chat" }))).toBe("invalid_request");
    expect(code(() => planCall(catalog, { model: undefined, operation: undefined, endpoint: "chat" }))).toBe("invalid_request");
  });

  it("expands an operation named as a target into its whole chain, in place", () => {
    expect(ids(planCall(catalog, { model: "nested", operation: undefined, endpoint: "chat" }))).toEqual(["b/smart", "a/smart", "a/fast"]);
  });

  it("refuses a stored route that no longer fits the catalog as misconfigured, naming why", () => {
    const broken = withRoutes(catalog, config, new Map([["stale", { model: "a/gone", fallbacks: [], enabled: true, criticality: "MEDIUM" as const, repair: true }]]));
    expect(() => planCall(broken, { model: "stale", operation: undefined, endpoint: "chat" })).toThrow(/cannot be served: model: unknown model, operation or unmapped tier "a\/gone"/);
  });
});

describe("planCall with an org policy", () => {
  const orgConfig = (onDisallowedModel: "default" | "refuse") =>
    resolveConfig(
      {
        providers: { a: { type: "mock" } },
        models: [{ id: "a/fast" }, { id: "a/smart" }, { id: "a/banned" }],
        org: { defaultModel: "a/fast", enabledModels: ["a/fast", "a/smart"], onDisallowedModel },
        operations: { chat: { model: "a/banned", fallbacks: ["a/smart"] }, only_banned: { model: "a/banned" } },
      },
      "test",
      {},
    ).config;
  const lenient = buildCatalog(orgConfig("default"), createProvider);
  const strict = buildCatalog(orgConfig("refuse"), createProvider);

  it("serves a named model outside the enabled list with the org default, and says why", () => {
    const plan = planCall(lenient, { model: "a/banned", operation: undefined, endpoint: "chat" });
    expect(ids(plan)).toEqual(["a/fast"]);
    expect(plan.routeReason).toBe("model_not_allowed");
    expect(plan.disallowedModel).toBe("a/banned");
  });

  it("refuses it with forbidden when the policy says refuse", () => {
    expect(() => planCall(strict, { model: "a/banned", operation: undefined, endpoint: "chat" })).toThrow(expect.objectContaining({ code: "forbidden" }));
  });

  it("serves a request that names nothing with the default", () => {
    const plan = planCall(lenient, { model: undefined, operation: undefined, endpoint: "chat" });
    expect(ids(plan)).toEqual(["a/fast"]);
    expect(plan.routeReason).toBe("org_default");
  });

  it("drops models outside the list from operation chains, and refuses a chain with none left", () => {
    expect(ids(planCall(lenient, { model: "chat", operation: undefined, endpoint: "chat" }))).toEqual(["a/smart"]);
    expect(() => planCall(lenient, { model: "only_banned", operation: undefined, endpoint: "chat" })).toThrow(expect.objectContaining({ code: "forbidden" }));
  });
});
