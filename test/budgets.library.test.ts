import { afterEach, describe, expect, it } from "vitest";
import { createAirlock, type BudgetEvent } from "../src/index.js";
import { startFakeUpstream } from "./fakes/upstream.js";

/**
 * Budgets in process: an end-user budget named by the library's `user`, the notification hook hearing
 * each event once, and budgets set and read through the library.
 */
describe("budgets in the library", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("holds an end user's budget, raises window-opened, warning and exhausted once each, and takes new limits", async () => {
    const upstream = await startFakeUpstream("openai", { chatFixture: "openai/chat-length" });
    cleanups.push(() => upstream.close());
    const events: BudgetEvent[] = [];
    const airlock = createAirlock({
      config: {
        providers: { oai: { type: "openai-compatible", baseUrl: upstream.url, apiKey: "k" } },
        // $100 per 1M output tokens, input free: a 100-token answer costs exactly $0.01.
        models: [{ id: "oai/gpt-4o-mini", price: { input: "0", output: "100", per: "1M" } }],
        budgets: [{ name: "alice-daily", scope: "user", target: "alice", limit: "0.03", warnAt: "0.02" }],
        budgeting: { syncIntervalMs: 50, leaseTtlMs: 500 },
      },
      inMemory: true,
      onBudgetEvent: (event) => events.push(event),
    });
    cleanups.push(() => airlock.close());
    const ask = (user: string) => airlock.chat({ model: "oai/gpt-4o-mini", user, maxTokens: 100, messages: [{ role: "user", content: "hi" }] });

    for (let i = 0; i < 3; i++) expect((await ask("alice")).cost).toBe("0.01");
    await expect(ask("alice")).rejects.toMatchObject({ code: "budget_exceeded", status: 429, details: { budget: "alice-daily", scope: "user" } });
    // Another end user is not under alice's budget.
    expect((await ask("bob")).cost).toBe("0.01");

    const [status] = await airlock.budgets();
    expect(status).toMatchObject({ name: "alice-daily", limit: "0.03", current: { spent: "0.03", exhausted: true } });
    // The warning is raised by the next sync round after the spend is written.
    for (let i = 0; i < 100 && !events.some((e) => e.type === "budget.warning"); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events.map((e) => e.type).sort()).toEqual(["budget.exhausted", "budget.warning", "budget.window_opened"]);
    expect(events.find((e) => e.type === "budget.warning")).toMatchObject({ budget: "alice-daily", scope: "user", target: "alice", limit: "0.03" });

    const raised = await airlock.setBudget("alice-daily", { scope: "user", target: "alice", limit: "0.05" });
    expect(raised).toMatchObject({ limit: "0.05", source: "admin", updatedBy: "library" });
    expect((await ask("alice")).cost).toBe("0.01");
    expect(await airlock.deleteBudget("alice-daily")).toBe(true);
    expect(await airlock.budgets()).toEqual([]);
  });

  it("refuses a HIGH-criticality operation until the library grants itself one, then counts its calls", async () => {
    const upstream = await startFakeUpstream("openai");
    cleanups.push(() => upstream.close());
    const airlock = createAirlock({
      config: {
        providers: { oai: { type: "openai-compatible", baseUrl: upstream.url, apiKey: "k" } },
        models: [{ id: "oai/gpt-4o-mini", price: { input: "0.15", output: "0.60", per: "1M" } }],
        operations: { payout: { model: "oai/gpt-4o-mini", criticality: "HIGH" } },
      },
      inMemory: true,
    });
    cleanups.push(() => airlock.close());
    const pay = () => airlock.chat({ operation: "payout", messages: [{ role: "user", content: "pay" }] });
    await expect(pay()).rejects.toMatchObject({ code: "approval_required", status: 403, details: { operation: "payout", approval_request: expect.stringMatching(/^chg_/) } });
    expect(upstream.requests).toHaveLength(0);
    await airlock.grant({ operation: "payout", maxCalls: 1 });
    expect((await pay()).model).toBe("oai/gpt-4o-mini");
    await expect(pay()).rejects.toMatchObject({ code: "approval_required" });
  });
});
