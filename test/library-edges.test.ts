import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, createAirlock, type BudgetEvent } from "../src/index.js";
import { startFakeUpstream } from "./fakes/upstream.js";
import { captureLogs } from "./support/routing.js";

/** What a library user meets off the happy path: their own code failing inside Airlock's, and untyped arguments. */
describe("the library's rough edges", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const budgeted = (baseUrl: string) => ({
    providers: { oai: { type: "openai-compatible" as const, baseUrl, apiKey: "k" } },
    // $100 per 1M output tokens, input free: the fixture's 100-token answer costs exactly $0.01.
    models: [{ id: "oai/gpt-4o-mini", price: { input: "0", output: "100", per: "1M" as const } }],
    budgets: [{ name: "alice-daily", scope: "user" as const, target: "alice", limit: "0.03", warnAt: "0.02" }],
    budgeting: { syncIntervalMs: 50, leaseTtlMs: 500 },
  });

  // A listener that throws (or rejects) is the application's bug: Airlock logs it and goes on, instead of
  // losing the events after it, its budget bookkeeping, or the process to an unhandled rejection.
  it.each([
    ["throws", (): void => {
      throw new Error("listener bug");
    }],
    ["rejects", async (): Promise<void> => {
      throw new Error("listener bug");
    }],
  ])("goes on delivering budget events when onBudgetEvent %s, and logs it", async (_how, fail) => {
    const upstream = await startFakeUpstream("openai", { chatFixture: "openai/chat-length" });
    cleanups.push(() => upstream.close());
    const logs = captureLogs();
    const events: BudgetEvent["type"][] = [];
    const airlock = createAirlock({
      config: budgeted(upstream.url),
      inMemory: true,
      logger: logs.logger,
      onBudgetEvent: (event) => {
        events.push(event.type);
        return fail();
      },
    });
    cleanups.push(() => airlock.close());
    const ask = () => airlock.chat({ model: "oai/gpt-4o-mini", user: "alice", maxTokens: 100, messages: [{ role: "user", content: "hi" }] });
    for (let i = 0; i < 3; i++) expect((await ask()).cost).toBe("0.01");
    await expect(ask()).rejects.toMatchObject({ code: "budget_exceeded" });
    await expect.poll(() => [...events].sort(), { timeout: 5_000 }).toEqual(["budget.exhausted", "budget.warning", "budget.window_opened"]);
    await expect.poll(() => logs.lines.filter((l) => l.msg === "onBudgetEvent failed").length, { timeout: 5_000 }).toBe(3);
    expect(logs.lines.find((l) => l.msg === "onBudgetEvent failed")).toMatchObject({ level: 50, err: { message: "listener bug" } });
  });

  it("refuses a budget or toggle name that is not a string with invalid_request, before the store is asked", async () => {
    const airlock = createAirlock({ inMemory: true });
    cleanups.push(() => airlock.close());
    const untyped = airlock as unknown as Record<"deleteBudget" | "setBudget" | "isEnabled" | "enforce", (...args: unknown[]) => Promise<unknown>>;
    await expect(untyped.deleteBudget()).rejects.toMatchObject({ name: "AirlockError", code: "invalid_request", param: "name", message: "the budget's name must be a non-empty string" });
    await expect(untyped.deleteBudget(7)).rejects.toMatchObject({ code: "invalid_request", param: "name" });
    await expect(untyped.setBudget(undefined, { scope: "global", limit: "1" })).rejects.toMatchObject({ code: "invalid_request", param: "name" });
    await expect(untyped.isEnabled(undefined)).rejects.toMatchObject({ code: "invalid_request", param: "name", message: "the toggle's name must be a non-empty string" });
    await expect(untyped.enforce(42)).rejects.toMatchObject({ code: "invalid_request", param: "name" });
    expect(await airlock.isEnabled("helix_can_change_models")).toBe(false);
  });

  it("refuses execution modules without a name and an execute function where createAirlock is called", () => {
    for (const modules of [[null], [{}], [{ name: "lookup" }], [{ name: "", execute: async () => ({}) }]]) {
      expect(() => createAirlock({ inMemory: true, modules: modules as never })).toThrow(ConfigError);
    }
    expect(() => createAirlock({ inMemory: true, modules: [null] as never })).toThrow(
      "createAirlock(): modules[0] must be an execution module ({ name, execute }), not null",
    );
  });
});
