import pg from "pg";
import { describe, expect, it } from "vitest";
import type { FakeUpstream, FakeScenario } from "./fakes/upstream.js";
import { rawChat, routesSuite } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";
import { databaseBehindProxy } from "./support/tcp-proxy.js";
import { waitFor } from "./support/wait.js";

/**
 * Budgets under store faults on PostgreSQL, where a lease request can go unanswered (its connection
 * was terminated after the store acted on it). The instance then gives that lease up; calls it had
 * already reserved from the lease are still running, and may run for longer than the lease's TTL
 * (a long stream). Their reservations must stay held until they settle, or the window would lend
 * the same dollars twice.
 *
 * p1/m1 costs $2 per 1M output tokens (input $1): `max_tokens: 400_000` reserves a little over $0.80.
 */
const SYNC_MS = 200;
const LEASE_TTL_MS = 2_000;

if (STORE_KINDS.includes("postgres")) {
  describe("a lease given up while calls reserved from it still run", () => {
    let upstream: FakeUpstream;
    const { config, store, instance } = routesSuite("postgres", ([u1]) => (upstream = u1));
    const big = { prompt_tokens: 12, completion_tokens: 400_000, total_tokens: 400_012 };

    it("keeps a running call's reservation held past the given-up lease's TTL, so no other call is lent it and the window is never overspent", async () => {
      const shared = await store();
      const cfg = config({
        budgets: [{ name: "daily", scope: "global", limit: "1" }],
        budgeting: { syncIntervalMs: SYNC_MS, leaseTtlMs: LEASE_TTL_MS },
        ledger: { flushIntervalMs: 100 },
      });
      const { database, proxy, close: closeProxied } = await databaseBehindProxy(shared.url!);
      const faulty = await instance(database, cfg);
      const other = await instance(shared.database, cfg);
      const checker = new pg.Client({ connectionString: shared.url! });
      await checker.connect();
      const window = async () =>
        (
          await checker.query<{ spent: string; reserved: string; ledger: string }>(
            `select trim_scale(spent)::text as spent, trim_scale(reserved)::text as reserved,
               (select coalesce(trim_scale(sum(cost)), 0)::text from ledger) as ledger
             from budget_windows where budget_name = 'daily'`,
          )
        ).rows[0]!;
      let release!: (scenario: FakeScenario) => void;
      try {
        // A long call: its upstream answers only when the test says, with the usage it was allowed.
        upstream.push({ kind: "held", until: new Promise<FakeScenario>((resolve) => (release = resolve)) });
        const long = rawChat(faulty, faulty.adminKey, { max_tokens: 400_000 });
        await waitFor(async () => upstream.requests.length, (n) => n === 1, 10_000);

        // The next call asks for more; the store grants it, but the answer is lost with its connection.
        proxy.dropAnswerTo("grant_");
        expect(await rawChat(faulty, faulty.adminKey, { max_tokens: 50_000 })).toMatchObject({ status: 503, body: { error: { code: "unavailable" } } });

        // Well past the given-up lease's TTL, while the long call still runs.
        await new Promise((resolve) => setTimeout(resolve, LEASE_TTL_MS + 4 * SYNC_MS));
        expect(Number((await window()).reserved)).toBeGreaterThanOrEqual(0.8);

        // Another instance asks for the same again: only what no running call holds is free.
        upstream.push({ kind: "ok", usage: big });
        const second = await rawChat(other, other.adminKey, { max_tokens: 400_000 });
        expect(second).toMatchObject({ status: 429, body: { error: { code: "budget_exceeded" } } });

        release({ kind: "ok", usage: big });
        expect((await long).status).toBe(200);
        // Its call settled, the given-up lease is renewed no more: it expires and is freed with what it held.
        await waitFor(window, (w) => w.reserved === "0", 10_000);
        await faulty.close();
        await other.close();
        const after = await window();
        expect(after.spent).toBe(after.ledger);
        expect(Number(after.spent)).toBeLessThanOrEqual(1);
        expect(after.reserved).toBe("0");
      } finally {
        release?.({ kind: "ok" });
        await checker.end();
        await closeProxied();
      }
    });
  });

  describe("instances coming back from a store outage longer than the lease TTL", () => {
    let upstream: FakeUpstream;
    const { config, store, instance } = routesSuite("postgres", ([u1]) => (upstream = u1));
    const big = { prompt_tokens: 12, completion_tokens: 400_000, total_tokens: 400_012 };

    it("do not free one another's leases before each had a lease TTL to renew its own and write its held rows", async () => {
      const shared = await store();
      const cfg = config({
        budgets: [{ name: "daily", scope: "global", limit: "1" }],
        budgeting: { syncIntervalMs: SYNC_MS, leaseTtlMs: LEASE_TTL_MS },
        ledger: { flushIntervalMs: 100 },
      });
      const viaA = await databaseBehindProxy(shared.url!);
      const viaB = await databaseBehindProxy(shared.url!);
      const a = await instance(viaA.database, cfg);
      const b = await instance(viaB.database, cfg);
      const checker = new pg.Client({ connectionString: shared.url! });
      await checker.connect();
      const spent = async () =>
        (await checker.query<{ spent: string; ledger: string }>(
          `select trim_scale(spent)::text as spent, (select coalesce(trim_scale(sum(cost)), 0)::text from ledger) as ledger from budget_windows where budget_name = 'daily'`,
        )).rows[0]!;
      let release!: (scenario: FakeScenario) => void;
      try {
        expect((await rawChat(a, a.adminKey)).status).toBe(200);
        // B's long call holds $0.80 of the $1.00 budget in B's lease.
        upstream.push({ kind: "held", until: new Promise<FakeScenario>((resolve) => (release = resolve)) });
        const long = rawChat(b, b.adminKey, { max_tokens: 400_000 });
        await waitFor(async () => upstream.requests.length, (n) => n === 2, 10_000);

        // The store goes away for both, for longer than the lease TTL. B's call ends meanwhile: answered,
        // its row waits in B's memory.
        viaA.proxy.cut();
        viaB.proxy.cut();
        release({ kind: "ok", usage: big });
        expect((await long).status).toBe(200);
        await new Promise((resolve) => setTimeout(resolve, LEASE_TTL_MS + 4 * SYNC_MS));

        // A reconnects a moment before B, as one instance always does.
        viaA.proxy.restore();
        await waitFor(() => rawChat(a, a.adminKey).catch(() => undefined), (r) => r?.status === 200, 15_000);
        // A's sync rounds run while B is still away; B's lease, expired in the outage, still holds B's spend.
        await new Promise((resolve) => setTimeout(resolve, 5 * SYNC_MS));
        upstream.push({ kind: "ok", usage: big });
        expect(await rawChat(a, a.adminKey, { max_tokens: 400_000 })).toMatchObject({ status: 429, body: { error: { code: "budget_exceeded" } } });

        viaB.proxy.restore();
        await waitFor(spent, (w) => Number(w.ledger) >= 0.8, 10_000);
        await a.close();
        await b.close();
        const after = await spent();
        expect(after.spent).toBe(after.ledger);
        expect(Number(after.spent)).toBeLessThanOrEqual(1);
      } finally {
        release?.({ kind: "ok" });
        await checker.end();
        await viaA.close();
        await viaB.close();
      }
    });
  });
}
