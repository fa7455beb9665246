import { sql } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { freshStore, STORE_KINDS, type TestStore } from "../../test/support/stores.js";
import { acquireGrant, markWarned, openWindow, renewAndReapLeases, seedBudgets } from "./queries/budgets.js";

const HOUR = 3_600_000;

/** The statements of one budget sync round, which each instance runs every second, against the real store. */
describe.each(STORE_KINDS)("budget sync statements on %s", (kind) => {
  let store: TestStore;
  beforeEach(async () => {
    store = await freshStore(kind);
    await seedBudgets(store.database.db, [
      { name: "daily", scope: "global", target: "", period: "daily", timezone: "UTC", limitUsd: "10", warnUsd: "8" },
      { name: "old", scope: "global", target: "", period: "daily", timezone: "UTC", limitUsd: "10", warnUsd: null },
    ]);
  });
  afterEach(async () => {
    await store.cleanup();
  });

  /** Process "a", whose current lease is its first. */
  const A = { process: "a", current: ["a.1"] };

  async function lease(budget: string, start: Date, end: Date, holder: string, amount: string): Promise<void> {
    await openWindow(store.database.db, { budget, start, end, holder, ttlMs: 60_000 });
    const grant = await acquireGrant(store.database.db, { budget, start, holder, give: "0", need: amount, chunk: amount, ttlMs: 60_000 });
    expect(grant?.granted).toBe(amount);
  }

  async function leases(): Promise<Array<{ budget: string; holder: string; amount: string; expiresInMs: number }>> {
    const result = await store.database.db.execute(sql`
      select budget_name as budget, holder, trim_scale(amount)::text as amount, (extract(epoch from expires_at - now()) * 1000)::int as "expiresInMs"
      from budget_leases order by budget_name, holder`);
    return (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<{ budget: string; holder: string; amount: string; expiresInMs: number }>;
  }

  async function reserved(budget: string, start: Date): Promise<string> {
    const result = await store.database.db.execute(sql`select trim_scale(reserved)::text as reserved from budget_windows where budget_name = ${budget} and start = ${start.toISOString()}::timestamptz`);
    const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<{ reserved: string }>;
    return rows[0]!.reserved;
  }

  it("renews the holder's leases and frees another holder's expired lease, in one statement", async () => {
    const start = new Date(Date.now() - HOUR);
    const end = new Date(Date.now() + HOUR);
    await lease("daily", start, end, "a.1", "1");
    await lease("daily", start, end, "b.1", "0.5");
    // b stopped renewing (killed) long enough ago that its lease expired; a's lease is about to.
    await store.database.execute(`update budget_leases set expires_at = now() - interval '1 second'`);
    expect(await reserved("daily", start)).toBe("1.5");

    const { live, freed } = await renewAndReapLeases(store.database.db, A, 30_000);

    expect(live).toEqual([{ budget: "daily", start, holder: "a.1" }]);
    expect(freed).toBe(1);
    const after = await leases();
    expect(after.map((l) => [l.holder, l.amount])).toEqual([["a.1", "1"]]);
    expect(after[0]!.expiresInMs).toBeGreaterThan(25_000);
    expect(await reserved("daily", start)).toBe("1");
  });

  it("drops every lease of a window that ended over an hour ago, the holder's own too, and frees nothing else", async () => {
    const oldStart = new Date(Date.now() - 26 * HOUR);
    const oldEnd = new Date(Date.now() - 2 * HOUR);
    await lease("old", oldStart, oldEnd, "a.1", "2");
    await lease("daily", new Date(Date.now() - HOUR), new Date(Date.now() + HOUR), "b.1", "1");

    const { live, freed } = await renewAndReapLeases(store.database.db, A, 30_000);

    expect(live).toEqual([]);
    expect(freed).toBe(1);
    expect((await leases()).map((l) => [l.budget, l.holder])).toEqual([["daily", "b.1"]]);
    expect(await reserved("old", oldStart)).toBe("0");
  });

  it("frees every other holder's lease, expired or not, when told they are all gone (the embedded store's first round)", async () => {
    const start = new Date(Date.now() - HOUR);
    const end = new Date(Date.now() + HOUR);
    await lease("daily", start, end, "a.1", "1");
    // b renewed a moment ago, but on a store only one process opens, b is a process that no longer runs.
    await lease("daily", start, end, "b.1", "0.5");

    const { live, freed } = await renewAndReapLeases(store.database.db, A, 30_000, true);

    expect(live).toEqual([{ budget: "daily", start, holder: "a.1" }]);
    expect(freed).toBe(1);
    expect((await leases()).map((l) => [l.holder, l.amount])).toEqual([["a.1", "1"]]);
    expect(await reserved("daily", start)).toBe("1");
  });

  it("leaves another holder's lease alone while it has not expired, unless told otherwise", async () => {
    const start = new Date(Date.now() - HOUR);
    await lease("daily", start, new Date(Date.now() + HOUR), "b.1", "0.5");
    expect(await renewAndReapLeases(store.database.db, A, 30_000)).toEqual({ live: [], freed: 0 });
    expect((await leases()).map((l) => [l.holder, l.amount])).toEqual([["b.1", "0.5"]]);
  });

  it("frees a lease this process gave up once it expires, renews only its current ones, and keeps its own fresh rows when told every other is gone", async () => {
    const start = new Date(Date.now() - HOUR);
    const end = new Date(Date.now() + HOUR);
    await lease("daily", start, end, "a.1", "1"); // given up (a statement on it went unanswered)
    await lease("daily", start, end, "a.3", "0.25"); // opened a moment ago, after the round's list was taken
    await store.database.execute(`update budget_leases set expires_at = now() - interval '1 second' where holder = 'a.1'`);
    const otherStart = new Date(start.getTime() + 1_000);
    await lease("old", otherStart, end, "a.2", "0.5");

    const { live, freed } = await renewAndReapLeases(store.database.db, { process: "a", current: ["a.2"] }, 30_000, true);

    expect(live).toEqual([{ budget: "old", start: otherStart, holder: "a.2" }]);
    expect(freed).toBe(1);
    expect((await leases()).map((l) => [l.budget, l.holder, l.amount])).toEqual([
      ["daily", "a.3", "0.25"],
      ["old", "a.2", "0.5"],
    ]);
    expect(await reserved("daily", start)).toBe("0.25");
  });

  it("answers nothing to renew and nothing freed when there are no leases", async () => {
    expect(await renewAndReapLeases(store.database.db, A, 30_000)).toEqual({ live: [], freed: 0 });
  });

  it("marks a window past its warning amount once, and reads it as warned on every round", async () => {
    const start = new Date(Date.now() - HOUR);
    await lease("daily", start, new Date(Date.now() + HOUR), "a", "1");
    expect(await markWarned(store.database.db)).toEqual({ marked: [], warned: [], warnedUntil: Number.POSITIVE_INFINITY });
    await store.database.execute(`update budget_windows set spent = 8.5 where budget_name = 'daily'`);

    const first = await markWarned(store.database.db);
    expect(first.marked).toEqual([{ budget: "daily", start, spent: "8.500000000000", limit: "10.000000000000" }]);
    expect(first.warned).toEqual(["daily"]);

    const second = await markWarned(store.database.db);
    expect(second).toMatchObject({ marked: [], warned: ["daily"] });
  });

  it("reads when the first warned window ends, so that a reader knows when to look again", async () => {
    const start = new Date(Date.now() - HOUR);
    const soon = new Date(Math.floor(Date.now() / 1000) * 1000 + 30 * 60_000);
    await lease("daily", start, soon, "a", "1");
    await lease("old", start, new Date(soon.getTime() + HOUR), "a", "1");
    await store.database.execute(`update budget_windows set spent = 9`);
    await store.database.execute(`update budgets set warn_usd = 8`);

    // Newly marked windows count, as do those marked before.
    expect(await markWarned(store.database.db)).toMatchObject({ warned: ["daily", "old"], warnedUntil: soon.getTime() });
    expect(await markWarned(store.database.db)).toMatchObject({ marked: [], warned: ["daily", "old"], warnedUntil: soon.getTime() });
  });
});
