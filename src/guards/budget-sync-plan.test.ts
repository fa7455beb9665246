import { describe, expect, it } from "vitest";
import { BudgetSyncPlan } from "./budget-sync-plan.js";

const SYNC_MS = 1_000;

function planOn(shared: boolean): { plan: BudgetSyncPlan; ledger: { writes: number } } {
  const ledger = { writes: 0 };
  return { plan: new BudgetSyncPlan({ shared: () => shared, syncIntervalMs: SYNC_MS, ledgerWrites: () => ledger.writes }), ledger };
}

describe("BudgetSyncPlan on a shared store", () => {
  it("renews, reaps and reads warnings on every round: other instances spend and die at any time", () => {
    const { plan } = planOn(true);
    for (let round = 0; round < 3; round++) {
      expect(plan.leaseWork([], round * SYNC_MS)).toBe("renew");
      plan.leaseWorkDone();
      expect(plan.warningReadDue(round * SYNC_MS)).toBe(true);
      plan.warningsRead(Number.POSITIVE_INFINITY);
    }
  });
});

describe("BudgetSyncPlan on a store this process alone opens", () => {
  it("frees every other holder's lease on its first round, and again only if that round failed", () => {
    const { plan } = planOn(false);
    expect(plan.leaseWork([], 0)).toBe("renew-and-reap-every-other");
    // The round failed before leaseWorkDone: the next one tries again.
    expect(plan.leaseWork([], SYNC_MS)).toBe("renew-and-reap-every-other");
    plan.leaseWorkDone();
    expect(plan.leaseWork([], 2 * SYNC_MS)).toBeUndefined();
  });

  it("renews a lease that holds allowance only once its safe time is within three rounds of running out", () => {
    const { plan } = planOn(false);
    plan.leaseWork([], 0);
    plan.leaseWorkDone();
    const hold = { allowance: 5n, validUntil: 8_000 };
    expect(plan.leaseWork([hold], 4_999)).toBeUndefined();
    expect(plan.leaseWork([hold], 5_000)).toBe("renew");
    // Past its safe time too: a call would lease afresh, but renewing keeps the allowance usable.
    expect(plan.leaseWork([hold], 9_000)).toBe("renew");
    // Nothing held: nothing worth renewing, however close the end.
    expect(plan.leaseWork([{ allowance: 0n, validUntil: 8_000 }], 7_500)).toBeUndefined();
    expect(plan.leaseWork([{ allowance: 0n, validUntil: 8_000 }, hold], 7_500)).toBe("renew");
  });

  it("reads warnings first, then only after the ledger wrote rows", () => {
    const { plan, ledger } = planOn(false);
    expect(plan.warningReadDue(0)).toBe(true);
    plan.warningsRead(Number.POSITIVE_INFINITY);
    expect(plan.warningReadDue(SYNC_MS)).toBe(false);
    ledger.writes = 3;
    expect(plan.warningReadDue(2 * SYNC_MS)).toBe(true);
    plan.warningsRead(Number.POSITIVE_INFINITY);
    expect(plan.warningReadDue(3 * SYNC_MS)).toBe(false);
  });

  it("reads again the rows written while a read was out", () => {
    const { plan, ledger } = planOn(false);
    expect(plan.warningReadDue(0)).toBe(true);
    ledger.writes = 1; // landed after the read went out: it may not have seen them
    plan.warningsRead(Number.POSITIVE_INFINITY);
    expect(plan.warningReadDue(SYNC_MS)).toBe(true);
  });

  it("reads again after the budgets changed, even when the change landed while a read was out", () => {
    const { plan } = planOn(false);
    expect(plan.warningReadDue(0)).toBe(true);
    plan.warningsRead(Number.POSITIVE_INFINITY);
    plan.readWarningsAgain();
    expect(plan.warningReadDue(SYNC_MS)).toBe(true);
    plan.readWarningsAgain();
    plan.warningsRead(Number.POSITIVE_INFINITY);
    expect(plan.warningReadDue(2 * SYNC_MS)).toBe(true);
    plan.warningsRead(Number.POSITIVE_INFINITY);
    expect(plan.warningReadDue(3 * SYNC_MS)).toBe(false);
  });

  it("reads again after a failed read", () => {
    const { plan } = planOn(false);
    expect(plan.warningReadDue(0)).toBe(true);
    plan.warningsRead(Number.POSITIVE_INFINITY);
    plan.readWarningsAgain();
    expect(plan.warningReadDue(SYNC_MS)).toBe(true);
    plan.readWarningsAgain();
    expect(plan.warningReadDue(2 * SYNC_MS)).toBe(true);
  });

  it("reads again once a warned window has ended, so that its budget stops counting as warned", () => {
    const { plan } = planOn(false);
    const windowEnd = 86_400_000;
    expect(plan.warningReadDue(0)).toBe(true);
    plan.warningsRead(windowEnd);
    expect(plan.warningReadDue(windowEnd - 1)).toBe(false);
    expect(plan.warningReadDue(windowEnd)).toBe(true);
    plan.warningsRead(Number.POSITIVE_INFINITY);
    expect(plan.warningReadDue(windowEnd + SYNC_MS)).toBe(false);
  });
});
