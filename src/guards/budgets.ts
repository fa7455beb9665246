import type { AirlockConfig } from "../config/schema.js";
import { AirlockError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { costUnits, costUnitsText, type CostUnits, type UnitPrice } from "../ledger/pricing.js";
import {
  budgetExceeded,
  unpricedUnderBudget,
  windowAt,
  worstCostUnits,
  type BudgetDefinition,
  type BudgetSubject,
  type WorstCase,
} from "../policy/budgets.js";
import type { CatalogModel } from "../routing/catalog.js";
import type { Db } from "../store/database.js";
import * as q from "../store/queries/budgets.js";
import type { BudgetCharge } from "../store/schema/index.js";
import { BudgetBook, type BudgetStatus } from "./budget-book.js";
import type { Principal } from "../auth/principal.js";
import type { BudgetInput } from "../store/queries/budgets.js";
import { BudgetHold } from "./budget-hold.js";
import { withDeadline } from "../core/deadline.js";
import { BudgetSyncPlan } from "./budget-sync-plan.js";
import { Reloader } from "../core/reloader.js";

export type BudgetEventType = "budget.window_opened" | "budget.warning" | "budget.exhausted";

/** What the notification hook hears; change control sends these on to webhooks. */
export interface BudgetEvent {
  type: BudgetEventType;
  budget: string;
  scope: string;
  target: string;
  windowStart: string;
  windowEnd: string;
  limit: string;
  spent?: string;
}

export interface BudgetsOptions {
  db: Db;
  logger: Logger;
  /** This instance's lease holder id: random per process start. */
  holder: string;
  /** False while this instance has the store to itself (see joinStore): sync rounds then send only what is due (see BudgetSyncPlan). */
  sharedStore(): boolean;
  settings: AirlockConfig["budgeting"];
  seeds: readonly BudgetInput[];
  /** Epoch milliseconds: decides which window a call falls in. */
  now(): number;
  /** Monotonic milliseconds: decides whether a lease is still safe to spend from. */
  monotonic?(): number;
  /** Tells other instances that budgets changed or allowance was freed; never throws. */
  announce(): Promise<void>;
  onEvent(event: BudgetEvent): void;
  /** Writes pending ledger rows, whose insert moves the counters, so that status reads what was spent. */
  flushLedger(): Promise<void>;
  /** Ledger rows written so far. */
  ledgerWrites(): number;
}

/** A call's hold on its budgets: what it took from each, until it settles. */
export interface Reservation {
  parts: Array<{ hold: BudgetHold; amount: CostUnits; epoch: number }>;
}

/** A store statement on the budget path waits this long, then the call is refused as `unavailable`. */
const STORE_DEADLINE_MS = 1_500;

/**
 * Budgets, held so that a call rarely waits on the store: each instance leases allowance from a
 * window's shared counter and reserves each call's worst case from it in memory. Leases are taken,
 * renewed and returned in single atomic statements; the ledger insert moves the counter by the exact
 * cost. No instance can spend beyond what it leased, so the windows' limits hold across instances.
 */
export class Budgets {
  readonly book: BudgetBook;
  private holds = new Map<string, BudgetHold>();
  /** Budgets whose open window has passed its warning amount, as of the last sync. */
  private warnedBudgets = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** Sync rounds never overlap, and sync() called during one runs one more after it (see Reloader). */
  private readonly rounds = new Reloader(() => this.runSync());
  private syncFailing = false;
  private leaseFailing = false;
  private readonly monotonic: () => number;
  private readonly plan: BudgetSyncPlan;

  constructor(private readonly options: BudgetsOptions) {
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.book = new BudgetBook(options.db, options.seeds);
    this.plan = new BudgetSyncPlan({ shared: options.sharedStore, syncIntervalMs: options.settings.syncIntervalMs, ledgerWrites: options.ledgerWrites });
  }

  async start(): Promise<void> {
    await this.book.start();
    this.timer = setInterval(() => void this.rounds.tick(), this.options.settings.syncIntervalMs);
    this.timer.unref();
  }

  /**
   * Reads every budget again, and forgets what this instance knew of full windows: allowance may have
   * been freed. A lower limit applies at once: what this instance leased under the old one goes back to
   * the window, so that its next calls lease under the new one. So does the allowance of a budget that
   * was removed or now counts other windows, which no call would spend again.
   */
  async reload(): Promise<void> {
    await this.book.reload();
    this.plan.readWarningsAgain();
    const returned: Array<Promise<void>> = [];
    for (const [name, hold] of this.holds) {
      const def = this.book.get(name);
      if (!def || def.period !== hold.def.period || def.timezone !== hold.def.timezone) {
        this.holds.delete(name);
        returned.push(this.relinquish(hold));
        continue;
      }
      if (def.limit.lt(hold.def.limit)) returned.push(this.relinquish(hold));
      hold.def = def;
    }
    for (const hold of this.holds.values()) hold.knownFree = undefined;
    await Promise.all(returned);
  }

  /**
   * Returns the hold's whole allowance to its window: what it holds now, taken at once so that no call
   * spends it, and what a lease under way adds to it. What the store does not take back (it fails) is
   * dropped, not spent, since spending it could pass the new limit; it stays reserved until this lease ends.
   */
  private async relinquish(hold: BudgetHold): Promise<void> {
    const now = hold.surrender();
    await hold.serially(async () => {
      const later = hold.surrender();
      const amount = (now.epoch === hold.epoch ? now.amount : 0n) + (later.epoch === hold.epoch ? later.amount : 0n);
      if (amount === 0n) return;
      await q.returnGrant(this.options.db, { budget: hold.def.name, start: hold.startDate, holder: this.options.holder, amount: costUnitsText(amount) }).catch(() => false);
    });
  }

  /** Every budget, with its open window's counters. */
  async status(): Promise<BudgetStatus[]> {
    await this.options.flushLedger();
    return this.book.status();
  }

  /** Creates or replaces a budget (admin keys), audited and announced to every instance. */
  async put(name: string, input: unknown, actor: Principal): Promise<BudgetStatus> {
    await this.book.put(name, input, actor);
    await this.reload();
    await this.options.announce();
    return (await this.status()).find((b) => b.name === name)!;
  }

  async remove(name: string, actor: Principal): Promise<boolean> {
    const removed = await this.book.remove(name, actor);
    await this.reload();
    await this.options.announce();
    return removed;
  }

  /** The budgets a call runs under, most specific first. Memory only. */
  applying(subject: BudgetSubject): BudgetDefinition[] {
    return this.book.applying(subject);
  }

  get defaultMaxTokens(): number {
    return this.options.settings.defaultMaxTokens;
  }

  /** True when any budget this call runs under has passed its warning amount in the current window (as of the last sync). */
  warned(subject: BudgetSubject): boolean {
    if (this.warnedBudgets.size === 0) return false;
    return this.applying(subject).some((def) => this.warnedBudgets.has(def.name));
  }

  /**
   * Reserves the call's worst case from every budget it runs under, or refuses it: `budget_exceeded`
   * when a budget has no room, `misconfigured` when a candidate has no price to hold a budget with,
   * `unavailable` when the store does not answer in time. Synchronous while local allowance lasts.
   */
  reserve(defs: BudgetDefinition[], candidates: readonly CatalogModel[], worst: WorstCase, missingPrice: UnitPrice): Reservation | Promise<Reservation> {
    // In cost units, rounded up: counters hold COST_SCALE digits, so memory and store agree exactly.
    let need = 0n;
    for (const model of candidates) {
      if (!model.price) throw unpricedUnderBudget(model.id, defs[0]!);
      // Units the price leaves out are billed at the missing price (see priceUsage), so they are reserved
      // at it too. A chat call reserves no units and uses the price as it is, without a copy per call.
      const units = worst.characters || worst.audioSeconds;
      const price = units ? { ...model.price, character: model.price.character ?? missingPrice.character, audioMinute: model.price.audioMinute ?? missingPrice.audioMinute } : model.price;
      const cost = worstCostUnits(price, worst);
      if (cost > need) need = cost;
    }
    const now = this.options.now();
    const mono = this.monotonic();
    const holds = defs.map((def) => this.holdFor(def, now));
    if (holds.every((hold) => hold.canTake(need, mono))) return { parts: holds.map((hold) => hold.take(need, mono)) };
    return this.reserveSlowly(holds, need);
  }

  private async reserveSlowly(holds: BudgetHold[], need: CostUnits): Promise<Reservation> {
    const parts: Reservation["parts"] = [];
    try {
      for (const hold of holds) {
        const part = await this.takeOrLease(hold, need);
        if (!part) {
          this.reportExhausted(hold);
          throw budgetExceeded(hold.def, hold.window, this.options.now());
        }
        parts.push(part);
      }
      return { parts };
    } catch (err) {
      for (const part of parts) part.hold.giveBack(part.amount, part.epoch);
      throw err;
    }
  }

  /** Takes `need` from the hold, leasing more from the window when the hold is short. One lease at a time per window. */
  private takeOrLease(hold: BudgetHold, need: CostUnits): Promise<Reservation["parts"][number] | undefined> {
    return hold.serially(async () => {
      if (hold.canTake(need, this.monotonic())) return hold.take(need, this.monotonic());
      if (hold.knownShort(need, this.monotonic())) return undefined;
      // A lease that answers after the deadline still lands in the hold, for later calls.
      await this.storeCall(this.lease(hold, need));
      const now = this.monotonic();
      return hold.canTake(need, now) ? hold.take(need, now) : undefined;
    });
  }

  /** Hands back the hold's leftover and takes a fresh grant, in one statement (see acquireGrant). */
  private async lease(hold: BudgetHold, need: CostUnits): Promise<void> {
    await hold.opened(() => this.open(hold), this.monotonic);
    // A call that costs nothing (a model priced at zero) still asks for the smallest amount: the grant's
    // arithmetic divides by what is asked, and an exhausted window refuses it like any other call.
    const asked = need > 0n ? need : 1n;
    const request = { budget: hold.def.name, start: hold.startDate, holder: this.options.holder, need: costUnitsText(asked), chunk: costUnitsText(hold.chunk), ttlMs: this.options.settings.leaseTtlMs };
    const sentAt = this.monotonic();
    const leftover = hold.surrender();
    let grant: q.Grant | undefined;
    try {
      grant = await q.acquireGrant(this.options.db, { ...request, give: costUnitsText(leftover.amount) });
    } catch (err) {
      hold.giveBack(leftover.amount, leftover.epoch);
      throw err;
    }
    if (!grant) {
      // The store reaped this instance's lease (it was presumed dead): what it held is gone; start a new one.
      hold.leaseLost();
      await hold.opened(() => this.open(hold), this.monotonic);
      grant = await q.acquireGrant(this.options.db, { ...request, give: "0" });
      if (!grant) throw new AirlockError("misconfigured", `budget "${hold.def.name}" no longer exists in the store`);
    }
    const granted = hold.granted(grant, hold.epoch, sentAt + this.safeLeaseMs());
    // A leftover handed back to a full window may be just what another instance lacks.
    if (leftover.amount > 0n && granted === 0n) void this.options.announce();
  }

  private async open(hold: BudgetHold): Promise<void> {
    const { opened } = await q.openWindow(this.options.db, { budget: hold.def.name, start: hold.startDate, end: new Date(hold.window.end), holder: this.options.holder, ttlMs: this.options.settings.leaseTtlMs });
    if (opened) this.emit("budget.window_opened", hold.def, hold.window);
  }

  /**
   * Settles a call: its exact cost leaves the reservation, what was reserved and not spent returns to
   * this instance's allowance, and the charges go on the call's ledger row, whose insert moves the
   * shared counters. `cost` is the ledger's own figure. Never throws.
   */
  settle(reservation: Reservation, cost: string): BudgetCharge[] | undefined {
    const spent = costUnits(cost);
    const charges: BudgetCharge[] = [];
    for (const { hold, amount, epoch } of reservation.parts) {
      const released = hold.settle(amount, epoch, spent);
      if (released < spent) this.options.logger.warn({ budget: hold.def.name, cost, reserved: costUnitsText(amount) }, "a call cost more than its reservation; the budget may be exceeded by the difference");
      if (spent === 0n) continue;
      charges.push({ budget: hold.def.name, window: hold.startIso, holder: this.options.holder, spent: cost, released: released === spent ? cost : costUnitsText(released) });
    }
    return charges.length > 0 ? charges : undefined;
  }

  /**
   * Renews this instance's leases, frees dead instances' leases, returns idle allowance, raises warnings,
   * in a round that starts after this call: a round already out may have read the store before the
   * caller's own writes landed, so the caller waits for it and then for one more.
   */
  sync(): Promise<void> {
    return this.rounds.reload();
  }

  private async runSync(): Promise<void> {
    const { db } = this.options;
    // No budget anywhere: nothing to renew, reap or warn of, and an idle gateway stays asleep.
    if (this.book.size === 0 && this.holds.size === 0) return;
    try {
      // The warning read needs nothing from the renewal, so both go out at once and their answers wake
      // this process once a round, not twice (about 1 ms of CPU each: docs/performance.md, "Background
      // round trips"). Both settle before the round goes on or fails, so no read outlives its round.
      const warnings = this.plan.warningReadDue(this.options.now()) ? this.readWarnings() : undefined;
      const [renewal, warned] = await Promise.allSettled([this.renewLeases(), warnings]);
      if (renewal.status === "rejected") throw renewal.reason;
      let freed = renewal.value;
      for (const hold of this.holds.values()) {
        const idle = hold.surrenderIdle(this.monotonic(), this.options.settings.syncIntervalMs * 2);
        if (!idle) continue;
        const returned = await q.returnGrant(db, { budget: hold.def.name, start: hold.startDate, holder: this.options.holder, amount: costUnitsText(idle.amount) }).catch(() => false);
        if (returned) freed = true;
        else hold.giveBack(idle.amount, idle.epoch);
      }
      if (freed) await this.options.announce();
      if (warned.status === "rejected") throw warned.reason;
      for (const hold of this.holds.values()) hold.knownFree = undefined;
      if (this.syncFailing) this.options.logger.info("budget store reachable again");
      this.syncFailing = false;
    } catch (err) {
      if (!this.syncFailing) this.options.logger.error({ err: err instanceof Error ? err.message : String(err) }, "budget sync failed; allowances lapse unless renewed");
      this.syncFailing = true;
    }
  }

  /** Renews this instance's leases and frees dead ones, when this round is due to. Answers whether allowance was freed. */
  private async renewLeases(): Promise<boolean> {
    const work = this.plan.leaseWork(this.holds.values(), this.monotonic());
    if (!work) return false;
    const sentAt = this.monotonic();
    const leases = await q.renewAndReapLeases(this.options.db, this.options.holder, this.options.settings.leaseTtlMs, work === "renew-and-reap-every-other");
    this.plan.leaseWorkDone();
    const live = new Set(leases.live.map((k) => `${k.budget}\u0000${k.start.getTime()}`));
    for (const hold of this.holds.values()) {
      if (live.has(`${hold.def.name}\u0000${hold.window.start}`)) hold.renewed(sentAt + this.safeLeaseMs());
      else if (hold.openBefore(sentAt)) hold.leaseLost();
    }
    return leases.freed > 0;
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
      const def = this.book.get(row.budget);
      if (def) this.emit("budget.warning", def, windowAt(def.period, def.timezone, row.start.getTime()), row.spent);
    }
    this.warnedBudgets = new Set(read.warned);
  }

  /** The current window for a budget, opened afresh when the clock passes the last one's end. */
  private holdFor(def: BudgetDefinition, now: number): BudgetHold {
    let hold = this.holds.get(def.name);
    if (!hold || now >= hold.window.end || now < hold.window.start) {
      hold = new BudgetHold(def, windowAt(def.period, def.timezone, now));
      this.holds.set(def.name, hold);
    }
    return hold;
  }

  /** How long after a renewal this instance spends from a lease: its TTL less two sync rounds, so it stops before any reaper could free it. */
  private safeLeaseMs(): number {
    return this.options.settings.leaseTtlMs - 2 * this.options.settings.syncIntervalMs;
  }

  private async storeCall<T>(call: Promise<T>): Promise<T> {
    try {
      const answer = await withDeadline(call, STORE_DEADLINE_MS);
      this.leaseFailing = false;
      return answer;
    } catch (err) {
      if (err instanceof AirlockError) throw err;
      // Once per outage, not once per refused call.
      if (!this.leaseFailing) this.options.logger.error({ err: err instanceof Error ? err.message : String(err) }, "budget store unreachable; refusing budgeted calls");
      this.leaseFailing = true;
      throw new AirlockError("unavailable", "budget state cannot be read: the store is unreachable. The call was not made.", { retryAfterSeconds: 1 });
    }
  }

  private reportExhausted(hold: BudgetHold): void {
    if (hold.exhaustionReported) return;
    hold.exhaustionReported = true;
    q.markExhausted(this.options.db, { budget: hold.def.name, start: hold.startDate }).then(
      (first) => {
        if (first) this.emit("budget.exhausted", hold.def, hold.window);
      },
      () => {
        hold.exhaustionReported = false;
      },
    );
  }

  private emit(type: BudgetEventType, def: BudgetDefinition, window: { start: number; end: number }, spent?: string): void {
    this.options.onEvent({
      type,
      budget: def.name,
      scope: def.scope,
      target: def.target,
      windowStart: new Date(window.start).toISOString(),
      windowEnd: new Date(window.end).toISOString(),
      limit: def.limit.toFixed(),
      ...(spent === undefined ? {} : { spent }),
    });
  }

  /** Returns what this instance holds and stops renewing: other instances may spend it at once. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.rounds.settled();
    for (const hold of this.holds.values()) {
      const { amount } = hold.surrender();
      if (amount === 0n) continue;
      await q.returnGrant(this.options.db, { budget: hold.def.name, start: hold.startDate, holder: this.options.holder, amount: costUnitsText(amount) }).catch(() => undefined);
    }
    await q.dropEmptyLeases(this.options.db, this.options.holder).catch(() => undefined);
    await this.options.announce();
  }
}

