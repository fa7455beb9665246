import type { AirlockConfig } from "../config/schema.js";
import { AirlockError } from "../core/errors.js";
import { costUnitsText, type CostUnits } from "../ledger/pricing.js";
import type { BudgetDefinition, Window } from "../policy/budgets.js";
import type { Db } from "../store/database.js";
import * as q from "../store/queries/budgets.js";
import { BudgetHold } from "./budget-hold.js";
import type { LeaseWork } from "./budget-sync-plan.js";

export interface BudgetLeasesOptions {
  db: Db;
  /** This process's holder id: random per process start. Each lease row's holder is it and a serial. */
  process: string;
  settings: AirlockConfig["budgeting"];
  monotonic(): number;
  /** Tells other instances that allowance was freed; never throws. */
  announce(): Promise<void>;
  /** This call opened the window: its reset happened here. */
  onWindowOpened(hold: BudgetHold): void;
}

/**
 * The store statements behind a budget hold: opening its lease row, leasing, returning and renewing.
 * Each lease row this process opens has a holder of its own (`<process>.<serial>`, see
 * BudgetHold.leaseHolder), so a lease given up or reaped is never confused with the one after it.
 */
export class BudgetLeases {
  private serial = 0;

  constructor(private readonly options: BudgetLeasesOptions) {}

  newHold(def: BudgetDefinition, window: Window): BudgetHold {
    return new BudgetHold(def, window, this.nextHolder());
  }

  /** Hands back the hold's leftover and takes a fresh grant, in one statement (see acquireGrant). */
  async lease(hold: BudgetHold, need: CostUnits): Promise<void> {
    const { db, settings, monotonic } = this.options;
    await hold.opened(() => this.open(hold), monotonic);
    // A call that costs nothing (a model priced at zero) still asks for the smallest amount: the grant's
    // arithmetic divides by what is asked, and an exhausted window refuses it like any other call.
    const asked = need > 0n ? need : 1n;
    const request = { budget: hold.def.name, start: hold.startDate, holder: hold.leaseHolder, need: costUnitsText(asked), chunk: costUnitsText(hold.chunk), ttlMs: settings.leaseTtlMs };
    const sentAt = monotonic();
    const leftover = hold.surrender();
    let grant: q.Grant | undefined;
    try {
      grant = await q.acquireGrant(db, { ...request, give: costUnitsText(leftover.amount) });
    } catch (err) {
      // Unanswered: the store may have taken the leftover back and granted more. Putting the leftover
      // back could spend it twice, so the lease is given up (see returnAllowance).
      if (leftover.epoch === hold.epoch) this.loseLease(hold);
      throw err;
    }
    if (!grant) {
      // The store reaped this instance's lease (it was presumed dead): what it held is gone; start a new one.
      this.loseLease(hold);
      await hold.opened(() => this.open(hold), monotonic);
      grant = await q.acquireGrant(db, { ...request, holder: hold.leaseHolder, give: "0" });
      if (!grant) throw new AirlockError("misconfigured", `budget "${hold.def.name}" no longer exists in the store`);
    }
    const granted = hold.granted(grant, hold.epoch, sentAt + this.safeLeaseMs());
    // A leftover handed back to a full window may be just what another instance lacks.
    if (leftover.amount > 0n && granted === 0n) void this.options.announce();
  }

  /**
   * Returns allowance to the window. Refused (the lease holds less: it was reaped), it is put back, or
   * dropped when `keep` is false. Unanswered, the store may or may not have taken it: the lease is given
   * up, since spending it might spend what the window already has back, and reaped once it expires.
   * Answers whether the window has it back.
   */
  async returnAllowance(hold: BudgetHold, part: { amount: CostUnits; epoch: number }, keep: boolean): Promise<boolean> {
    try {
      const returned = await q.returnGrant(this.options.db, { budget: hold.def.name, start: hold.startDate, holder: hold.leaseHolder, amount: costUnitsText(part.amount) });
      if (!returned && keep) hold.giveBack(part.amount, part.epoch);
      return returned;
    } catch {
      if (part.epoch === hold.epoch) this.loseLease(hold);
      return false;
    }
  }

  /**
   * Returns the hold's whole allowance to its window: what it holds now, taken at once so that no call
   * spends it, and what a lease under way adds to it. What the store does not take back (it fails) is
   * dropped, not spent, since spending it could pass a new limit; it stays reserved until this lease ends.
   */
  async relinquish(hold: BudgetHold): Promise<void> {
    const now = hold.surrender();
    await hold.serially(async () => {
      const later = hold.surrender();
      const amount = (now.epoch === hold.epoch ? now.amount : 0n) + (later.epoch === hold.epoch ? later.amount : 0n);
      if (amount > 0n) await this.returnAllowance(hold, { amount, epoch: hold.epoch }, false);
    });
  }

  /** Renews the holds' leases and, when `reap`, frees dead ones (see renewAndReapLeases). Answers whether allowance was freed. */
  async renew(holds: BudgetHold[], work: NonNullable<LeaseWork>, reap: boolean): Promise<boolean> {
    const sentAt = this.options.monotonic();
    const current = holds.map((hold) => hold.leaseHolder);
    // Given-up leases that running calls were reserved from are renewed too, so none is reaped under them.
    const retired = holds.flatMap((hold) => hold.retiredHolders());
    const leases = await q.renewAndReapLeases(this.options.db, { process: this.options.process, current: [...current, ...retired] }, this.options.settings.leaseTtlMs, work === "renew-and-reap-every-other", reap);
    const live = new Set(leases.live.map((k) => `${k.budget}\u0000${k.start.getTime()}\u0000${k.holder}`));
    holds.forEach((hold, i) => {
      // A hold whose lease changed while the round was out is judged by the next round.
      if (hold.leaseHolder !== current[i]) return;
      if (live.has(`${hold.def.name}\u0000${hold.window.start}\u0000${hold.leaseHolder}`)) hold.renewed(sentAt + this.safeLeaseMs());
      else if (hold.openBefore(sentAt)) this.loseLease(hold);
    });
    return leases.freed > 0;
  }

  /** Returns what the holds hold and drops this process's empty leases: at shutdown. Never throws. */
  async returnAll(holds: Iterable<BudgetHold>): Promise<void> {
    const { db } = this.options;
    for (const hold of holds) {
      const { amount } = hold.surrender();
      if (amount === 0n) continue;
      await q.returnGrant(db, { budget: hold.def.name, start: hold.startDate, holder: hold.leaseHolder, amount: costUnitsText(amount) }).catch(() => undefined);
    }
    await q.dropEmptyLeases(db, this.options.process).catch(() => undefined);
  }

  private async open(hold: BudgetHold): Promise<void> {
    const { opened } = await q.openWindow(this.options.db, { budget: hold.def.name, start: hold.startDate, end: new Date(hold.window.end), holder: hold.leaseHolder, ttlMs: this.options.settings.leaseTtlMs });
    if (opened) this.options.onWindowOpened(hold);
  }

  private loseLease(hold: BudgetHold): void {
    hold.leaseLost(this.nextHolder());
  }

  private nextHolder(): string {
    return `${this.options.process}.${++this.serial}`;
  }

  /** How long after a renewal this instance spends from a lease: its TTL less two sync rounds, so it stops before any reaper could free it. */
  private safeLeaseMs(): number {
    return this.options.settings.leaseTtlMs - 2 * this.options.settings.syncIntervalMs;
  }
}
