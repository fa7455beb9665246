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
import { BudgetBook } from "./budget-book.js";
import type { BudgetEvent, BudgetEventType, BudgetStatus } from "./budget-status.js";

export type { BudgetEvent, BudgetEventType } from "./budget-status.js";
import type { Principal } from "../auth/principal.js";
import type { BudgetInput } from "../store/queries/budgets.js";
import type { BudgetHold } from "./budget-hold.js";
import { BudgetLeases } from "./budget-leases.js";
import { withDeadline } from "../core/deadline.js";
import { BudgetSyncPlan } from "./budget-sync-plan.js";
import { Reloader } from "../core/reloader.js";

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

/**
 * The dearest worst case of the route's candidates, in cost units rounded up: counters hold COST_SCALE
 * digits, so memory and store agree exactly. An unpriced candidate is charged the missing price, so it
 * is held at it (a budget refuses such a route: see Budgets.reserve). A HIGH-criticality call works this
 * out once for its grant's spend limit and its budgets.
 */
export function worstCallCost(candidates: readonly CatalogModel[], worst: WorstCase, missingPrice: UnitPrice): CostUnits {
  let need = 0n;
  for (const model of candidates) {
    const base = model.price ?? missingPrice;
    // Units the price leaves out are billed at the missing price (see priceUsage), so they are reserved
    // at it too. A chat call reserves no units and uses the price as it is, without a copy per call.
    const units = worst.characters || worst.audioSeconds;
    const price = units ? { ...base, character: base.character ?? missingPrice.character, audioMinute: base.audioMinute ?? missingPrice.audioMinute } : base;
    const cost = worstCostUnits(price, worst);
    if (cost > need) need = cost;
  }
  return need;
}

/** A call's hold on its budgets: what it took from each, until it settles. */
export interface Reservation {
  parts: Array<{ hold: BudgetHold; amount: CostUnits; epoch: number }>;
}

/** A store statement on the budget path waits this long, then the call is refused as `unavailable`. */
const STORE_DEADLINE_MS = 1_500;

/**
 * Budgets not closed. A process that ends without `close()` (a script that makes its calls and stops)
 * would leave its leases held until their TTL runs out, and every other instance sharing the budget
 * short of that headroom meanwhile. When the event loop runs dry (`beforeExit`, see LedgerWriter), each
 * returns what it holds, in one try: the allowance is taken out of its holds first, so a store that is
 * down costs one failed statement per lease and the loop runs dry again with nothing left to return.
 */
const UNCLOSED = new Set<Budgets>();
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on("beforeExit", () => UNCLOSED.forEach((budgets) => budgets.returnBeforeExit()));
}

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
  /**
   * Monotonic ms from which sync rounds free other holders' expired leases. After this instance lost the
   * store, it waits one lease TTL: the store was likely gone for every instance, whose leases expired
   * only because they could not renew them, and whose answered calls' rows still wait to be written.
   * Freed at once, their spend would be lent again before it lands.
   */
  private reapFrom = Number.NEGATIVE_INFINITY;
  private leaseFailing = false;
  private readonly monotonic: () => number;
  private readonly plan: BudgetSyncPlan;
  private readonly leases: BudgetLeases;

  constructor(private readonly options: BudgetsOptions) {
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.book = new BudgetBook(options.db, options.seeds);
    this.leases = new BudgetLeases({
      db: options.db,
      process: options.holder,
      settings: options.settings,
      monotonic: this.monotonic,
      announce: options.announce,
      onWindowOpened: (hold) => this.emit("budget.window_opened", hold.def, hold.window),
    });
    this.plan = new BudgetSyncPlan({ shared: options.sharedStore, syncIntervalMs: options.settings.syncIntervalMs, ledgerWrites: options.ledgerWrites });
  }

  async start(): Promise<void> {
    UNCLOSED.add(this);
    hookExit();
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
        returned.push(this.leases.relinquish(hold));
        continue;
      }
      if (def.limit.lt(hold.def.limit)) returned.push(this.leases.relinquish(hold));
      // The store reopened the window (see writeBudget): its next refusal is reported again.
      if (def.limit.gt(hold.def.limit)) hold.exhaustionReported = false;
      hold.def = def;
    }
    for (const hold of this.holds.values()) hold.knownFree = undefined;
    await Promise.all(returned);
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
   * Reserves the call's worst case (`need`, from worstCallCost) from every budget it runs under, or
   * refuses it: `budget_exceeded` when a budget has no room, `misconfigured` when a candidate has no
   * price to hold a budget with, `unavailable` when the store does not answer in time. Synchronous
   * while local allowance lasts.
   */
  reserve(defs: BudgetDefinition[], candidates: readonly CatalogModel[], need: CostUnits): Reservation | Promise<Reservation> {
    for (const model of candidates) if (!model.price) throw unpricedUnderBudget(model.id, defs[0]!);
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
      for (const part of parts) part.hold.unreserve(part.amount, part.epoch);
      throw err;
    }
  }

  /**
   * Takes `need` from the hold, leasing more from the window when the hold is short. One lease statement
   * at a time per window: the queue waits for its answer even after the calls waiting on it gave up, so
   * a store that holds statements (a lock on the window's row) holds one connection per window, not one
   * per call, and leaves the pool to the kill switch and the ledger. The deadline counts the call's whole
   * wait, in the queue too; a call that gave up takes nothing, and its lease still lands, for later calls.
   */
  private takeOrLease(hold: BudgetHold, need: CostUnits): Promise<Reservation["parts"][number] | undefined> {
    let abandoned = false;
    const work = hold.serially(async () => {
      if (abandoned) return undefined;
      if (hold.canTake(need, this.monotonic())) return hold.take(need, this.monotonic());
      if (hold.knownShort(need, this.monotonic())) return undefined;
      await this.leases.lease(hold, need);
      const now = this.monotonic();
      return !abandoned && hold.canTake(need, now) ? hold.take(need, now) : undefined;
    });
    work.then((part) => part && abandoned && hold.unreserve(part.amount, part.epoch), () => undefined);
    return this.storeCall(work).catch((err: unknown) => {
      abandoned = true;
      throw err;
    });
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
      const holder = hold.holderOf(epoch);
      const released = hold.settle(amount, epoch, spent);
      if (released < spent) this.options.logger.warn({ budget: hold.def.name, cost, reserved: costUnitsText(amount) }, "a call cost more than its reservation; the budget may be exceeded by the difference");
      if (spent === 0n) continue;
      charges.push({ budget: hold.def.name, window: hold.startIso, holder, spent: cost, released: released === spent ? cost : costUnitsText(released) });
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
        if (idle && (await this.leases.returnAllowance(hold, idle, true))) freed = true;
      }
      if (freed) await this.options.announce();
      if (warned.status === "rejected") throw warned.reason;
      for (const hold of this.holds.values()) hold.knownFree = undefined;
      if (this.syncFailing) {
        this.options.logger.info("budget store reachable again");
        this.reapFrom = this.monotonic() + this.options.settings.leaseTtlMs;
      }
      this.syncFailing = false;
    } catch (err) {
      if (!this.syncFailing) this.options.logger.error({ err: err instanceof Error ? err.message : String(err) }, "budget sync failed; allowances lapse unless renewed");
      this.syncFailing = true;
      this.reapFrom = Number.POSITIVE_INFINITY;
    }
  }

  /** Renews this instance's leases and frees dead ones, when this round is due to. Answers whether allowance was freed. */
  private async renewLeases(): Promise<boolean> {
    const work = this.plan.leaseWork(this.holds.values(), this.monotonic());
    if (!work) return false;
    const freed = await this.leases.renew([...this.holds.values()], work, this.monotonic() >= this.reapFrom);
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
      const def = this.book.get(row.budget);
      if (def) this.emit("budget.warning", def, windowAt(def.period, def.timezone, row.start.getTime()), row.spent);
    }
    this.warnedBudgets = new Set(read.warned);
  }

  /** The current window for a budget, opened afresh when the clock passes the last one's end. */
  private holdFor(def: BudgetDefinition, now: number): BudgetHold {
    let hold = this.holds.get(def.name);
    if (!hold || now >= hold.window.end || now < hold.window.start) {
      hold = this.leases.newHold(def, windowAt(def.period, def.timezone, now));
      this.holds.set(def.name, hold);
    }
    return hold;
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
      ...(def.scope === "global" ? {} : { target: def.target }),
      windowStart: new Date(window.start).toISOString(),
      windowEnd: new Date(window.end).toISOString(),
      limit: def.limit.toFixed(),
      ...(spent === undefined ? {} : { spent }),
    });
  }

  /**
   * The event loop ran dry on an instance that was not closed: what it holds goes back to the windows,
   * for other instances to spend at once. Nothing is in flight now (a round or a lease would hold the
   * loop open), and a call made after this leases anew.
   */
  returnBeforeExit(): void {
    let holding = false;
    for (const hold of this.holds.values()) if (hold.allowance > 0n) holding = true;
    if (!holding) return;
    void this.leases.returnAll(this.holds.values()).then(() => this.options.announce().catch(() => undefined));
  }

  /** Returns what this instance holds and stops renewing: other instances may spend it at once. */
  async close(): Promise<void> {
    UNCLOSED.delete(this);
    clearInterval(this.timer);
    await this.rounds.settled();
    await this.leases.returnAll(this.holds.values());
    await this.options.announce();
  }
}

