import type { AirlockConfig } from "../config/schema.js";
import type { Logger } from "../core/logger.js";
import { Reloader } from "../core/reloader.js";
import { windowAt } from "../policy/budgets.js";
import type { Db } from "../store/database.js";
import * as q from "../store/queries/budgets.js";
import type { BudgetBook } from "./budget-book.js";
import { budgetEvent } from "./budget-events.js";
import type { BudgetHold } from "./budget-hold.js";
import type { BudgetLeases } from "./budget-leases.js";
import type { BudgetEvent } from "./budget-status.js";
import { BudgetSyncPlan } from "./budget-sync-plan.js";

export interface BudgetSyncOptions {
  db: Db;
  logger: Logger;
  book: BudgetBook;
  leases: BudgetLeases;
  /** This instance's holds, one per budget, shared with the calls' reservations. */
  holds: Map<string, BudgetHold>;
  settings: AirlockConfig["budgeting"];
  /** False while this instance has the store to itself: rounds then send only what is due (see BudgetSyncPlan). */
  sharedStore(): boolean;
  now(): number;
  monotonic(): number;
  announce(): Promise<void>;
  onEvent(event: BudgetEvent): void;
  ledgerWrites(): number;
}

/**
 * The background side of budgets: rounds that renew this instance's leases, free dead instances'
 * leases, return idle allowance and read which windows passed their warning amount.
 */
export class BudgetSync {
  /** Rounds never overlap, and reload() called during one runs one more after it (see Reloader). */
  readonly rounds = new Reloader(() => this.runRound());
  private readonly plan: BudgetSyncPlan;
  /** Budgets whose open window has passed its warning amount, as of the last round. */
  private warnedBudgets = new Set<string>();
  private failing = false;
  /**
   * Monotonic ms from which rounds free other holders' expired leases. After this instance lost the
   * store, it waits one lease TTL: the store was likely gone for every instance, whose leases expired
   * only because they could not renew them, and whose answered calls' rows still wait to be written.
   * Freed at once, their spend would be lent again before it lands.
   */
  private reapFrom = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: BudgetSyncOptions) {
    this.plan = new BudgetSyncPlan({ shared: options.sharedStore, syncIntervalMs: options.settings.syncIntervalMs, ledgerWrites: options.ledgerWrites });
  }

  /** True when the budget has passed its warning amount in its open window, as of the last round. */
  isWarned(name: string): boolean {
    return this.warnedBudgets.has(name);
  }

  get anyWarned(): boolean {
    return this.warnedBudgets.size > 0;
  }

  /** The budgets were read again: the next round reads the warnings again too. */
  budgetsChanged(): void {
    this.plan.readWarningsAgain();
  }

  private async runRound(): Promise<void> {
    const { book, holds, leases, logger, settings } = this.options;
    // No budget anywhere: nothing to renew, reap or warn of, and an idle gateway stays asleep.
    if (book.size === 0 && holds.size === 0) return;
    try {
      // The warning read needs nothing from the renewal, so both go out at once and their answers wake
      // this process once a round, not twice (about 1 ms of CPU each:
      // docs/performance-findings.md#background-round-trips). Both settle before the round goes on or
      // fails, so no read outlives its round.
      const warnings = this.plan.warningReadDue(this.options.now()) ? this.readWarnings() : undefined;
      const [renewal, warned] = await Promise.allSettled([this.renewLeases(), warnings]);
      if (renewal.status === "rejected") throw renewal.reason;
      let freed = renewal.value;
      for (const hold of holds.values()) {
        const idle = hold.surrenderIdle(this.options.monotonic(), settings.syncIntervalMs * 2);
        if (idle && (await leases.returnAllowance(hold, idle, true))) freed = true;
      }
      if (freed) await this.options.announce();
      if (warned.status === "rejected") throw warned.reason;
      for (const hold of holds.values()) hold.knownFree = undefined;
      if (this.failing) {
        logger.info("budget store reachable again");
        this.reapFrom = this.options.monotonic() + settings.leaseTtlMs;
      }
      this.failing = false;
    } catch (err) {
      if (!this.failing) logger.error({ err: err instanceof Error ? err.message : String(err) }, "budget sync failed; allowances lapse unless renewed");
      this.failing = true;
      this.reapFrom = Number.POSITIVE_INFINITY;
    }
  }

  /** Renews this instance's leases and frees dead ones, when this round is due to. Answers whether allowance was freed. */
  private async renewLeases(): Promise<boolean> {
    const { holds, monotonic } = this.options;
    const work = this.plan.leaseWork(holds.values(), monotonic());
    if (!work) return false;
    const freed = await this.options.leases.renew([...holds.values()], work, monotonic() >= this.reapFrom);
    this.plan.leaseWorkDone();
    return freed;
  }

  /** Marks windows past their warning amount (each raises its warning once, on one instance) and reads which are warned. */
  private async readWarnings(): Promise<void> {
    let read: q.WarnedWindows;
    try {
      read = await q.markWarned(this.options.db);
    } catch (err) {
      this.plan.readWarningsAgain();
      throw err;
    }
    this.plan.warningsRead(read.warnedUntil);
    for (const row of read.marked) {
      const def = this.options.book.get(row.budget);
      if (def) this.options.onEvent(budgetEvent("budget.warning", def, windowAt(def.period, def.timezone, row.start.getTime()), row.spent));
    }
    this.warnedBudgets = new Set(read.warned);
  }
}
