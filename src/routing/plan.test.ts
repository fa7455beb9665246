import { describe, expect, it } from "vitest";
import { resolveConfig } from "../config/load.js";
import { createProvider } from "../providers/registry.js";
import { buildCatalog } from "./catalog.js";
import { planCall } from "./plan.js";

const catalog = buildCatalog(
  resolveConfig(
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
      },
    },
    "test",
    {},
  ).config,
  createProvider,
);

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
});
