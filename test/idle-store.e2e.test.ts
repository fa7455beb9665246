import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { resolveConfig } from "../src/config/load.js";
import type { AirlockConfigInput } from "../src/config/schema.js";
import { ControlPlane } from "../src/control-plane.js";
import { worstCallCost } from "../src/guards/budget-reservations.js";
import { windowAt } from "../src/policy/budgets.js";
import { acquireGrant, openWindow, seedBudgets } from "../src/store/queries/budgets.js";
import { rowsOf } from "../src/store/queries/rows.js";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { startTestGateway, type TestGateway } from "./support/gateway.js";
import { freshStore, STORE_KINDS, type TestStore } from "./support/stores.js";
import { waitFor } from "./support/wait.js";

/**
 * What a gateway sends its store between calls. The embedded store belongs to this process alone,
 * so an idle gateway sends it nothing: budget leases are renewed only as they near their end, warnings
 * are read only after the ledger wrote, and directives are dispatched when approved, not polled for.
 * PostgreSQL is shared with other instances, so each budget sync round still renews this instance's
 * leases there, and frees only leases that stopped being renewed.
 *
 * A "$0.01 call" asks for max_tokens 100 from a model priced at $100 per 1M output tokens, and the
 * upstream answers with exactly 100 completion tokens.
 */
const SYNC_MS = 100;
const budgeting = { syncIntervalMs: SYNC_MS, leaseTtlMs: 1_000 };
const budget = { name: "daily", scope: "global" as const, limit: "1", warnAt: "0.02" };

function config(upstreamUrl: string, sync: typeof budgeting = budgeting): AirlockConfigInput {
  return {
    providers: { p1: { type: "openai-compatible", baseUrl: upstreamUrl, apiKey: "sk-upstream" } },
    models: [{ id: "p1/m1", price: { input: "0", output: "100", per: "1M" } }],
    budgets: [budget],
    budgeting: sync,
    ledger: { flushIntervalMs: 50 },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A caller every global budget applies to. */
const ANYONE = { principal: { keyId: "key_any", userId: null, teamId: null, orgId: null }, endUser: undefined, operation: undefined };

interface LeaseRow {
  holder: string;
  amount: string;
  expiresAt: string;
}

async function leaseRows(store: TestStore): Promise<LeaseRow[]> {
  const result = await store.database.db.execute(sql`select holder, trim_scale(amount)::text as amount, expires_at::text as "expiresAt" from budget_leases order by holder`);
  return rowsOf<LeaseRow>(result);
}

async function windowCounters(store: TestStore): Promise<{ spent: string; reserved: string; warned: boolean }> {
  const result = await store.database.db.execute(sql`select trim_scale(spent)::text as spent, trim_scale(reserved)::text as reserved, warned_at is not null as warned from budget_windows where budget_name = 'daily'`);
  return rowsOf<{ spent: string; reserved: string; warned: boolean }>(result)[0]!;
}

describe.each(STORE_KINDS)("a gateway between calls, on %s", (kind) => {
  let upstream: FakeUpstream | undefined;
  let gw: TestGateway | undefined;
  let plane: ControlPlane | undefined;
  let store: TestStore | undefined;
  afterEach(async () => {
    await plane?.close();
    await gw?.close();
    await store?.cleanup();
    await upstream?.close();
    gw = plane = store = upstream = undefined;
  });

  async function startGateway(sync: typeof budgeting = budgeting): Promise<TestGateway> {
    upstream = await startFakeUpstream("openai", { chatFixture: "openai/chat-length" });
    gw = await startTestGateway(kind, config(upstream.url, sync));
    return gw;
  }

  async function centCalls(n: number): Promise<void> {
    const client = gw!.client();
    for (let i = 0; i < n; i++) {
      const answer = await client.chat.completions.create({ model: "p1/m1", max_tokens: 100, messages: [{ role: "user", content: "hi" }] });
      expect(answer.usage?.completion_tokens).toBe(100);
    }
  }

  it("settles its calls, raises the budget's warning, hands back idle allowance, and then stays off the embedded store", async () => {
    await startGateway();
    await centCalls(3);

    // The rows land, the warning amount ($0.02) is passed and read, and two idle rounds later the allowance goes back.
    const { value: settled } = await waitFor(() => windowCounters(gw!.store), (c) => c.spent === "0.03" && c.reserved === "0" && c.warned, 10_000);
    expect(settled).toEqual({ spent: "0.03", reserved: "0", warned: true });
    await sleep(5 * SYNC_MS);
    const leases = await leaseRows(gw!.store);
    expect(leases.map((l) => l.amount)).toEqual(["0"]);

    const requestsSent = gw!.store.database.requestsSent;
    const before = requestsSent?.();
    await sleep(15 * SYNC_MS); // past the lease's TTL: a shared store must renew within it
    const sentMeanwhile = requestsSent && requestsSent() - before!;
    const after = await leaseRows(gw!.store);
    if (kind === "pglite") {
      expect(sentMeanwhile).toBe(0);
      expect(after).toEqual(leases);
    } else {
      expect(requestsSent).toBeUndefined();
      expect(after).toHaveLength(1);
      expect(Date.parse(after[0]!.expiresAt)).toBeGreaterThan(Date.parse(leases[0]!.expiresAt));
    }

    // The next call leases afresh and is charged exactly; the budget still reads as warned.
    await centCalls(1);
    await waitFor(() => windowCounters(gw!.store), (c) => c.spent === "0.04", 10_000);
    const status = await gw!.plane.budgets.status();
    expect(status.find((b) => b.name === "daily")).toMatchObject({ current: { spent: "0.04", warned: true } });
    expect(gw!.plane.budgets.warned(ANYONE)).toBe(true);
  });

  it("renews a lease that keeps holding allowance before its safe time runs out, so calls go on without waiting on the store", async () => {
    // Slower rounds than the other tests', so that a busy test machine's pauses stay well inside the margin.
    const slower = { syncIntervalMs: 200, leaseTtlMs: 2_000 };
    const { budgets, catalog } = (await startGateway(slower)).plane;
    const model = catalog.models.get("p1/m1")!;
    const defs = budgets.applying(ANYONE);
    const need = worstCallCost([model], { inputTokens: 10, outputTokens: 100, answers: 1 }, catalog.missingPrice);
    // The first reservation leases from the store; settling at no cost keeps the allowance whole.
    budgets.settle(await budgets.reserve(defs, [model], need), "0");
    // Two lease TTLs of reservations, one every 50 ms: each one is served from memory, none waits on a lease.
    const until = performance.now() + 2 * slower.leaseTtlMs;
    let served = 0;
    while (performance.now() < until) {
      const reservation = budgets.reserve(defs, [model], need);
      expect(reservation).not.toBeInstanceOf(Promise);
      budgets.settle(reservation as Exclude<typeof reservation, Promise<unknown>>, "0");
      served++;
      await sleep(50);
    }
    expect(served).toBeGreaterThan(20);
  });

  it("renews every round once a second control plane shares the embedded store, as instances on PostgreSQL do", async () => {
    await startGateway();
    await centCalls(1);
    await waitFor(() => windowCounters(gw!.store), (c) => c.spent === "0.01" && c.reserved === "0", 10_000);
    const [alone] = (await leaseRows(gw!.store)).map((l) => l.holder);
    const expiresAt = async () => Date.parse((await leaseRows(gw!.store)).find((l) => l.holder === alone)!.expiresAt);
    const before = await expiresAt();
    await sleep(5 * SYNC_MS);
    // Alone on the embedded store, an idle plane leaves its empty lease as it is; on PostgreSQL it renews it.
    if (kind === "pglite") expect(await expiresAt()).toBe(before);
    else expect(await expiresAt()).toBeGreaterThan(before);
    plane = await ControlPlane.create({ config: resolveConfig(config(upstream!.url), "test"), database: gw!.store.database, adminKey: "sk-test-admin-second" });
    const shared = await expiresAt();
    await sleep(5 * SYNC_MS);
    expect(await expiresAt()).toBeGreaterThan(shared);
    if (kind === "pglite") expect(shared).toBeGreaterThan(before); // renewed at once when the second plane came
  });

  it(kind === "pglite" ? "frees a gone process's lease in its first sync round, however recently it was renewed" : "leaves another instance's unexpired lease alone", async () => {
    store = await freshStore(kind);
    const { db } = store.database;
    const window = windowAt("daily", "UTC", Date.now());
    const start = new Date(window.start);
    await seedBudgets(db, [{ name: "daily", scope: "global", target: "", period: "daily", timezone: "UTC", limitUsd: "1", warnUsd: null }]);
    await openWindow(db, { budget: "daily", start, end: new Date(window.end), holder: "holder_gone", ttlMs: 600_000 });
    expect(await acquireGrant(db, { budget: "daily", start, holder: "holder_gone", give: "0", need: "0.05", chunk: "0.05", ttlMs: 600_000 })).toMatchObject({ granted: "0.05" });

    plane = await ControlPlane.create({ config: resolveConfig(config("http://127.0.0.1:9"), "test"), database: store.database, adminKey: "sk-test-admin-idle" });
    await sleep(10 * SYNC_MS);
    const counters = await windowCounters(store);
    const holders = (await leaseRows(store)).map((l) => [l.holder, l.amount]);
    if (kind === "pglite") {
      expect(counters.reserved).toBe("0");
      expect(holders).toEqual([]);
    } else {
      expect(counters.reserved).toBe("0.05");
      expect(holders).toEqual([["holder_gone", "0.05"]]);
    }
  });
});
