import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { freshStore, STORE_KINDS, type TestStore } from "../../test/support/stores.js";
import { silentLogger } from "../core/logger.js";
import { flipKillSwitch } from "../store/queries/kill-switch.js";
import { KillSwitch } from "./kill-switch.js";

/**
 * A view that went stale only because this process could not run its poll (its event loop was held)
 * must not refuse the calls that queued meanwhile: they wait for the read sent once the loop runs
 * again. The process being held is staged with the switch's own clock, moved past `staleAfterMs`
 * without a poll having run, as a held loop leaves it. The store is real.
 */
describe.each(STORE_KINDS)("kill switch after this instance was held, on %s", (kind) => {
  let store: TestStore;
  let clock: number;
  beforeEach(async () => {
    store = await freshStore(kind);
    clock = 1_000;
  });
  afterEach(async () => {
    await store.cleanup();
  });

  /** Shared, as with PostgreSQL: the view must be confirmed. Its timer never runs here; the test moves time. */
  async function killSwitch(timing = { pollIntervalMs: 30_000, staleAfterMs: 60_000 }): Promise<KillSwitch> {
    const ks = new KillSwitch({ db: store.database.db, logger: silentLogger, now: () => clock, ...timing, shared: true, announce: async () => undefined });
    await ks.reload();
    return ks;
  }

  it("judges a fresh view at once, without a promise", async () => {
    const ks = await killSwitch();
    clock += 59_000;
    expect(ks.settling()).toBeUndefined();
    expect(ks.checkSettled(undefined)).toBeUndefined();
  });

  it("serves a call that finds the view stale once the read it waits for confirms the switch is off", async () => {
    const ks = await killSwitch();
    clock += 61_000;
    expect(ks.check(undefined)).toMatchObject({ code: "kill_switch_active", details: { scope: "unknown" } });
    const waiting = ks.checkSettled(undefined);
    expect(waiting).toBeInstanceOf(Promise);
    expect(await waiting).toBeUndefined();
    expect(ks.check(undefined)).toBeUndefined();
    expect(ks.status().confirmed).toBe(true);
  });

  it("refuses a call that finds the view stale when the read it waited for finds the switch on", async () => {
    const ks = await killSwitch();
    // Another instance flips it while this one is held: only the store knows.
    await flipKillSwitch(store.database.db, { scope: "global", active: true, reason: "held instance test", actor: "key_other", actorKind: "admin", auditId: "audit_held_1" });
    expect(ks.check(undefined)).toBeUndefined();
    clock += 61_000;
    expect(await ks.checkSettled(undefined)).toMatchObject({ code: "kill_switch_active", details: { scope: "global" } });
    expect(await ks.checkSettled("summarize")).toMatchObject({ details: { scope: "global" } });
  });

  it("waits once for every call that queued: one read, shared", async () => {
    const ks = await killSwitch();
    clock += 61_000;
    const first = ks.settling();
    const second = ks.settling();
    expect(first).toBeInstanceOf(Promise);
    expect(second).toBe(first);
    await first;
    expect(ks.settling()).toBeUndefined();
  });

  it("refuses at once, without waiting, once the store is known to fail", async () => {
    const ks = await killSwitch();
    // Every read fails from now on, as when the store refuses them.
    await store.database.execute("alter table kill_switches rename to kill_switches_gone");
    clock += 61_000;
    // The first call asks the store, whose failure it waits for; it is refused all the same.
    expect(await ks.checkSettled(undefined)).toMatchObject({ code: "kill_switch_active", details: { scope: "unknown" } });
    // From then on the state is known to be unreadable: refused without a wait.
    expect(ks.settling()).toBeUndefined();
    expect(ks.checkSettled(undefined)).toMatchObject({ details: { scope: "unknown" } });
  });

  if (kind === "postgres") {
    it("waits for a read that does not answer at most pollIntervalMs, then refuses, and serves once it answers", async () => {
      const ks = await killSwitch({ pollIntervalMs: 200, staleAfterMs: 400 });
      // Another session holds the table: the read waits on its lock, as on a hung store.
      const blocker = new pg.Client({ connectionString: store.url });
      await blocker.connect();
      try {
        await blocker.query("begin");
        await blocker.query("lock table kill_switches in access exclusive mode");
        clock += 500;
        const waited = ks.checkSettled(undefined);
        expect(waited).toBeInstanceOf(Promise);
        expect(await waited).toMatchObject({ details: { scope: "unknown" } });
        await blocker.query("rollback");
        // The read still on its way answers now, and the view is confirmed again.
        await expect.poll(() => ks.check(undefined), { timeout: 5_000 }).toBeUndefined();
      } finally {
        await blocker.end();
      }
    });
  }
});
