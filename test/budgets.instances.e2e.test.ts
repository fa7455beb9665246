import pg from "pg";
import { waitFor } from "./support/wait.js";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { resolveConfig } from "../src/config/load.js";
import type { AirlockConfigInput } from "../src/config/schema.js";
import { ControlPlane } from "../src/control-plane.js";
import { systemClock } from "../src/core/clock.js";
import type { BudgetEvent } from "../src/guards/budgets.js";
import { openDatabase } from "../src/store/database.js";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { api, ask, BURST_KILL_SWITCH, rawChat, refusal, routesSuite } from "./support/routing.js";
import { databaseBehindProxy } from "./support/tcp-proxy.js";
import { chatStatus, startCluster, type Cluster } from "./support/cluster.js";
import { killAll, removeTempDirs, type GatewayProcess } from "./support/process.js";
import { createScratchDatabase, dropScratchDatabase, STORE_KINDS } from "./support/stores.js";

/**
 * Budgets across instances sharing one PostgreSQL: three gateway processes admit no more than the
 * limit together and strand less than one call's worth of it; a SIGKILLed instance's lease is freed
 * within its TTL plus one sync round; a window opens (the daily reset) exactly once however many
 * instances cross midnight together. Needs PostgreSQL: the embedded store is one process.
 *
 * A "$0.01 call" asks for max_tokens 100 from a model priced at $100 per 1M output tokens (input free);
 * the fake upstream answers every call with exactly 100 completion tokens.
 */
const SYNC_MS = 200;
const LEASE_TTL_MS = 2_000;

function gatewayConfig(upstreamUrl: string, limit: string): string {
  return `
providers:
  oai: { type: openai-compatible, baseUrl: "${upstreamUrl}", apiKey: sk-upstream }
models:
  - { id: oai/gpt-4o-mini, price: { input: "0", output: "100", per: 1M } }
budgets:
  - { name: dollar, scope: global, limit: "${limit}" }
budgeting: { syncIntervalMs: ${SYNC_MS}, leaseTtlMs: ${LEASE_TTL_MS} }
# Rows land before an idle instance hands its allowance back (after two sync rounds), so a lease is still seen holding it.
ledger: { flushIntervalMs: 100 }
killSwitch: ${JSON.stringify(BURST_KILL_SWITCH)}
`;
}

afterEach(killAll);
afterAll(removeTempDirs);

if (STORE_KINDS.includes("postgres")) {
  describe("budgets across gateway processes on one PostgreSQL", () => {
    let upstream: FakeUpstream | undefined;
    let running: Cluster | undefined;
    let client: pg.Client | undefined;
    afterEach(async () => {
      await running?.close();
      await upstream?.close();
      running = undefined;
      upstream = undefined;
    });

    async function cluster(limit: string, names: string[]): Promise<{ gateways: GatewayProcess[]; adminKey: string }> {
      upstream = await startFakeUpstream("openai", { chatFixture: "openai/chat-length" });
      running = await startCluster(gatewayConfig(upstream.url, limit), names);
      client = running.client;
      return running;
    }

    const counters = async () => {
      const { rows } = await client!.query<{ spent: string; reserved: string; ledger: string; rows: string }>(
        `select w.spent::text, w.reserved::text, (select coalesce(sum(cost), 0)::text from ledger) as ledger, (select count(*)::text from ledger) as rows
         from budget_windows w where w.budget_name = 'dollar'`,
      );
      return rows[0];
    };

    it("admits at least $0.99 and at most $1.00 of 1000 concurrent $0.01 calls spread over three instances", async () => {
      const { gateways, adminKey } = await cluster("1.00", ["a", "b", "c"]);
      const statuses = await Promise.all(Array.from({ length: 1000 }, (_, i) => chatStatus(gateways[i % 3]!.url, adminKey)));
      const admitted = statuses.filter((s) => s === 200).length;
      expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
      const perInstance = [0, 1, 2].map((g) => statuses.filter((s, i) => i % 3 === g && s === 200).length);
      // Every row is written (each instance flushes its ledger within 100 ms here).
      const { value } = await waitFor(counters, (c) => c !== undefined && Number(c.rows) === 1000, 10_000);
      console.log(
        `3 instances, 1000 concurrent $0.01 calls, $1.00 budget: admitted ${admitted} ($${(admitted / 100).toFixed(2)}; a/b/c ${perInstance.join("/")}), ledger $${Number(value!.ledger)}, counter $${Number(value!.spent)}, upstream saw ${upstream!.requests.length}`,
      );
      expect(admitted).toBeGreaterThanOrEqual(99);
      expect(admitted).toBeLessThanOrEqual(100);
      expect(upstream!.requests.length).toBe(admitted);
      expect(Number(value!.ledger)).toBe(admitted / 100);
      expect(value!.spent).toBe(value!.ledger);
    });

    it(`frees the lease of a SIGKILLed instance within its TTL plus one sync round (${LEASE_TTL_MS} + ${SYNC_MS} ms)`, async () => {
      const { gateways, adminKey } = await cluster("100", ["a", "b"]);
      expect(await chatStatus(gateways[0]!.url, adminKey)).toBe(200);
      expect(await chatStatus(gateways[1]!.url, adminKey)).toBe(200);
      const held = await waitFor(counters, (c) => c !== undefined && Number(c.rows) === 2, 5_000);
      // Both hold a lease: a grant of up to 5% of the limit each, less what they spent.
      expect(Number(held.value!.reserved)).toBeGreaterThan(0);
      const { rows: leases } = await client!.query<{ holder: string; amount: string }>(`select holder, amount::text from budget_leases order by holder`);
      expect(leases).toHaveLength(2);

      const killedAt = performance.now();
      gateways[0]!.proc.kill("SIGKILL");
      await gateways[0]!.exited;
      const survivorLease = await waitFor(
        async () => (await client!.query<{ n: string; reserved: string }>(`select count(*)::text as n, (select reserved::text from budget_windows) as reserved from budget_leases`)).rows[0]!,
        (r) => r.n === "1",
        LEASE_TTL_MS + 10 * SYNC_MS,
      );
      const freedMs = Math.round(performance.now() - killedAt);
      console.log(`SIGKILLed instance's lease freed ${freedMs} ms after the kill (bound: lease TTL ${LEASE_TTL_MS} ms + sync ${SYNC_MS} ms after its last renewal)`);
      expect(freedMs).toBeLessThanOrEqual(LEASE_TTL_MS + SYNC_MS + 500);
      // What is still reserved is exactly the survivor's lease.
      const { rows: left } = await client!.query<{ amount: string }>(`select amount::text from budget_leases`);
      expect(survivorLease.value.reserved).toBe(left[0]!.amount);
      expect(await chatStatus(gateways[1]!.url, adminKey)).toBe(200);
    });
  });

  describe("budgets and rate limits when the store is lost", () => {
    const { config, store, instance } = routesSuite("postgres");

    it("refuses budgeted calls with a 503 within 2 s, never a 401 for a known key, and recovers without a restart with ledger and counter agreeing", async () => {
      const shared = await store();
      const { database, proxy, close: closeProxied } = await databaseBehindProxy(shared.url!);
      const gw = await instance(
        database,
        config({
          budgets: [{ name: "daily", scope: "global", limit: "100" }],
          rateLimits: [{ name: "per-key", scope: "key", requestsPerMinute: 1_000 }],
          budgeting: { syncIntervalMs: SYNC_MS, leaseTtlMs: LEASE_TTL_MS },
        }),
      );
      const checker = new pg.Client({ connectionString: shared.url! });
      await checker.connect();
      try {
        const userKey = (await api(gw, "POST", "/admin/keys", { name: "known", kind: "user" })).body.key as string;
        for (let i = 0; i < 3; i++) expect((await ask(gw, "p1/m1", { key: userKey })).model).toBe("p1/m1");

        const cutAt = performance.now();
        proxy.cut();
        const stopped = await waitFor(() => refusal(gw, "p1/m1", { key: userKey }).catch(() => undefined), (r) => r?.status === 503, 5_000);
        console.log(`store cut: budgeted calls refused with ${stopped.value?.code} (503) after ${Math.round(performance.now() - cutAt)} ms`);
        expect(performance.now() - cutAt).toBeLessThan(2_000);
        for (let i = 0; i < 3; i++) expect((await refusal(gw, "p1/m1", { key: userKey })).status).toBe(503);

        proxy.restore();
        const recovered = await waitFor(() => ask(gw, "p1/m1", { key: userKey }).catch(() => undefined), (r) => r?.model === "p1/m1", 15_000);
        console.log(`store back: budgeted calls served again after ${recovered.ms} ms`);
        // Every call's spend reached both the ledger and the budget's counter, the refused ones none.
        await gw.plane.reports.recentCalls(1);
        const { rows } = await checker.query<{ spent: string; ledger: string }>(
          `select w.spent::text as spent, (select sum(cost)::text from ledger) as ledger from budget_windows w where w.budget_name = 'daily'`,
        );
        expect(Number(rows[0]!.ledger)).toBeGreaterThan(0);
        expect(Number(rows[0]!.spent)).toBe(Number(rows[0]!.ledger));
      } finally {
        await checker.end();
        await gw.close();
        await closeProxied();
      }
    });
  });

  describe("leases whose store answers are lost", () => {
    const { config, store, instance } = routesSuite("postgres");
    const leaseRows = async (checker: pg.Client) =>
      (await checker.query<{ holder: string; amount: string }>(`select holder, trim_scale(amount)::text as amount from budget_leases order by holder`)).rows;

    it("gives up a lease whose statement went unanswered, leases anew for the next call, and frees the given-up one once it expires", async () => {
      const shared = await store();
      const { database, proxy, close: closeProxied } = await databaseBehindProxy(shared.url!);
      const gw = await instance(database, config({ budgets: [{ name: "daily", scope: "global", limit: "1" }], budgeting: { syncIntervalMs: SYNC_MS, leaseTtlMs: LEASE_TTL_MS } }));
      const checker = new pg.Client({ connectionString: shared.url! });
      await checker.connect();
      try {
        expect((await ask(gw, "p1/m1")).model).toBe("p1/m1");
        const [first] = await leaseRows(checker);
        // A call worth more than the lease holds asks for more, handing back its leftover in the same
        // statement. The store does both; its answer never arrives.
        proxy.dropAnswerTo("grant_");
        const unanswered = await rawChat(gw, gw.adminKey, { max_tokens: 100_000 });
        expect(unanswered).toMatchObject({ status: 503, body: { error: { code: "unavailable" } } });
        // The leftover may be back in the window: it is not spent. The next call leases under a new row.
        expect((await ask(gw, "p1/m1")).model).toBe("p1/m1");
        const holders = (await leaseRows(checker)).map((row) => row.holder);
        expect(holders).toHaveLength(2);
        expect(holders).toContain(first!.holder);
        // Not renewed, the given-up lease expires and is freed with all it held.
        await waitFor(() => leaseRows(checker), (rows) => !rows.some((row) => row.holder === first!.holder), 10_000);
        await gw.close();
        const { rows } = await checker.query<{ reserved: string }>(`select trim_scale(reserved)::text as reserved from budget_windows where budget_name = 'daily'`);
        expect(rows[0]!.reserved).toBe("0");
      } finally {
        await checker.end();
        await gw.close();
        await closeProxied();
      }
    });

    it("frees nothing twice: rows charged against the reaped lease do not draw on the lease opened after it", async () => {
      const shared = await store();
      const cfg = (flushIntervalMs: number) =>
        config({ budgets: [{ name: "daily", scope: "global", limit: "1" }], budgeting: { syncIntervalMs: SYNC_MS, leaseTtlMs: LEASE_TTL_MS }, ledger: { flushIntervalMs } });
      const reaper = await instance(shared.database, cfg(100));
      const { database, proxy, close: closeProxied } = await databaseBehindProxy(shared.url!);
      // Its rows wait in memory, as rows do for up to a second, while the lease they were charged to is reaped.
      const cutOff = await instance(database, cfg(60_000));
      const checker = new pg.Client({ connectionString: shared.url! });
      await checker.connect();
      const books = async () =>
        (
          await checker.query<{ reserved: string; leased: string; leases: number }>(
            `select trim_scale(w.reserved)::text as reserved, trim_scale(coalesce(sum(l.amount), 0))::text as leased, count(l.holder)::int as leases
             from budget_windows w left join budget_leases l on l.budget_name = w.budget_name and l.window_start = w.start
             where w.budget_name = 'daily' group by w.reserved`,
          )
        ).rows[0]!;
      try {
        expect((await ask(reaper, "p1/m1")).model).toBe("p1/m1");
        for (let i = 0; i < 3; i++) expect((await ask(cutOff, "p1/m1")).model).toBe("p1/m1");
        expect((await books()).leases).toBe(2);

        proxy.cut();
        // The reaper frees the silent instance's lease once it expires.
        await waitFor(books, (b) => b.leases === 1, 10_000);
        proxy.restore();
        // Back, the instance leases anew, and its rows charged to the reaped lease land after that.
        await waitFor(() => ask(cutOff, "p1/m1").catch(() => undefined), (r) => r?.model === "p1/m1", 15_000);
        // Closed, each instance writes its rows and returns what it holds: with no call in flight, the
        // window holds nothing reserved, and what it spent is what the ledger says.
        await cutOff.close();
        await reaper.close();
        const after = await books();
        expect(after).toMatchObject({ reserved: "0", leased: "0" });
        const { rows } = await checker.query<{ spent: string; ledger: string }>(
          `select trim_scale(w.spent)::text as spent, trim_scale((select sum(cost) from ledger))::text as ledger from budget_windows w where w.budget_name = 'daily'`,
        );
        expect(rows[0]!.spent).toBe(rows[0]!.ledger);
      } finally {
        await checker.end();
        await cutOff.close();
        await closeProxied();
      }
    });
  });

  describe("the configuration file's budgets across instances", () => {
    const { cleanups, config, store, instance } = routesSuite("postgres");

    it("an instance that starts with another file's budgets tells the running ones, which apply them within 1 s", async () => {
      const shared = await store();
      const adminKey = `sk-test-admin-${Math.random().toString(36).slice(2)}`;
      const budgeted = (limit: string) => config({ budgets: [{ name: "daily", scope: "global", limit }], budgeting: { syncIntervalMs: SYNC_MS, leaseTtlMs: LEASE_TTL_MS } });
      const a = await instance(shared.database, budgeted("100"), adminKey);
      // A holds a lease on the $100 window, from which it could go on admitting calls for a while.
      expect((await ask(a, "p1/m1")).model).toBe("p1/m1");
      const limitOnA = async () => ((await api(a, "GET", "/admin/budgets")).body.data as Array<{ name: string; limit: string }>).find((b) => b.name === "daily")?.limit;

      // The next instance rolled out has the file with the lower limit: the store takes it, and so must A.
      const lowered = await openDatabase({ url: shared.url!, maxConnections: 4 });
      cleanups.push(() => lowered.close());
      const b = await instance(lowered, budgeted("0.000001"), adminKey);
      const startedAt = performance.now();
      const refused = await waitFor(() => refusal(a, "p1/m1").catch(() => undefined), (r) => r?.code === "budget_exceeded", 5_000);
      expect(performance.now() - startedAt).toBeLessThan(1_000);
      expect(refused.value!.message).toContain("$0.000001");
      expect(await limitOnA()).toBe("0.000001");
      await b.close();

      // One more with a file that has no budget any more: the budget is gone from the store, and A stops holding calls to it.
      const dropped = await openDatabase({ url: shared.url!, maxConnections: 4 });
      cleanups.push(() => dropped.close());
      await instance(dropped, config(), adminKey);
      const droppedAt = performance.now();
      await waitFor(() => ask(a, "p1/m1").catch(() => undefined), (r) => r?.model === "p1/m1", 5_000);
      expect(performance.now() - droppedAt).toBeLessThan(1_000);
      expect(await limitOnA()).toBeUndefined();
    });
  });

  describe("the daily reset across instances", () => {
    it("opens the new day's window exactly once when three instances cross midnight together", async () => {
      const upstream = await startFakeUpstream("openai", { chatFixture: "openai/chat-length" });
      const scratch = await createScratchDatabase();
      const planes: ControlPlane[] = [];
      const databases: Array<{ close(): Promise<void> }> = [];
      const events: BudgetEvent[] = [];
      // One clock for the three instances, a second before midnight UTC.
      let now = Date.parse("2031-03-14T23:59:59.000Z");
      const clock = { now: () => now, sleep: systemClock.sleep };
      try {
        const config: AirlockConfigInput = {
          providers: { oai: { type: "openai-compatible", baseUrl: upstream.url, apiKey: "k" } },
          models: [{ id: "oai/gpt-4o-mini", price: { input: "0", output: "100", per: "1M" } }],
          budgets: [{ name: "daily", scope: "global", limit: "0.02" }],
          budgeting: { syncIntervalMs: SYNC_MS, leaseTtlMs: LEASE_TTL_MS },
        };
        for (let i = 0; i < 3; i++) {
          const database = await openDatabase({ url: scratch.href, maxConnections: 4 });
          databases.push(database);
          planes.push(await ControlPlane.create({ config: resolveConfig(config, "test"), database, clock, onBudgetEvent: (e) => events.push(e) }));
        }
        const ctx = (i: number) => ({ principal: { keyId: `k${i}`, name: "k", kind: "service" as const, userId: null, teamId: null, orgId: null }, requestId: `r-${i}-${Math.random()}` });
        const call = (plane: ControlPlane, i: number) =>
          plane.chat({ model: "oai/gpt-4o-mini", max_tokens: 100, messages: [{ role: "user", content: "hi" }] }, ctx(i)).then(
            () => "ok",
            (err: { code?: string }) => err.code ?? "error",
          );

        // The old day: its $0.02 is spent, and the third call is refused.
        expect(await Promise.all(planes.map((p, i) => call(p, i)))).toEqual(expect.arrayContaining(["ok", "ok", "budget_exceeded"]));
        now = Date.parse("2031-03-15T00:00:00.001Z");
        const afterMidnight = await Promise.all(planes.flatMap((p, i) => [call(p, i), call(p, i)]));
        expect(afterMidnight.filter((r) => r === "ok")).toHaveLength(2);
        expect(afterMidnight.filter((r) => r === "budget_exceeded")).toHaveLength(4);
        for (const plane of planes) await plane.reports.recentCalls(1);

        const check = new pg.Client({ connectionString: scratch.href });
        await check.connect();
        databases.push({ close: () => check.end() });
        const { rows: windows } = await check.query<{ start: Date; spent: string }>(`select start, spent::text from budget_windows where budget_name = 'daily' order by start`);
        expect(windows.map((w) => [new Date(w.start).toISOString(), Number(w.spent)])).toEqual([
          ["2031-03-14T00:00:00.000Z", 0.02],
          ["2031-03-15T00:00:00.000Z", 0.02],
        ]);
        const opened = events.filter((e) => e.type === "budget.window_opened").map((e) => e.windowStart);
        console.log(`daily reset across 3 instances: window openings heard ${JSON.stringify(opened)}`);
        expect(opened.sort()).toEqual(["2031-03-14T00:00:00.000Z", "2031-03-15T00:00:00.000Z"]);
      } finally {
        for (const plane of planes) await plane.close();
        for (const database of databases) await database.close();
        await upstream.close();
        await dropScratchDatabase(scratch);
      }
    });
  });
}
