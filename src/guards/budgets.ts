import type { AirlockConfig } from "../config/schema.js";
import type { Logger } from "../core/logger.js";
import type { CostUnits } from "../ledger/pricing.js";
import type { BudgetDefinition, BudgetSubject } from "../policy/budgets.js";
import type { CatalogModel } from "../routing/catalog.js";
import type { Db } from "../store/database.js";
import type { Principal } from "../auth/principal.js";
import type { BudgetInput } from "../store/queries/budgets.js";
import type { BudgetCharge } from "../store/schema/index.js";
import { BudgetBook } from "./budget-book.js";
import { budgetEvent } from "./budget-events.js";
import type { BudgetHold } from "./budget-hold.js";
import { BudgetLeases } from "./budget-leases.js";
import { BudgetReservations, type Reservation } from "./budget-reservations.js";
import type { BudgetEvent, BudgetStatus } from "./budget-status.js";
import { BudgetSync } from "./budget-sync.js";

export type { BudgetEvent, BudgetEventType } from "./budget-status.js";

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
 * window's shared counter and reserves each call's worst case from it in memory (BudgetReservations).
 * Leases are taken, renewed and returned in single atomic statements, renewed in background rounds
 * (BudgetSync); the ledger insert moves the counter by the exact cost. No instance can spend beyond
 * what it leased, so the windows' limits hold across instances.
 */
export class Budgets {
  readonly book: BudgetBook;
  private readonly holds = new Map<string, BudgetHold>();
  private timer: NodeJS.Timeout | undefined;
  private readonly leases: BudgetLeases;
  private readonly reservations: BudgetReservations;
  private readonly background: BudgetSync;

  constructor(private readonly options: BudgetsOptions) {
    const monotonic = options.monotonic ?? (() => performance.now());
    this.book = new BudgetBook(options.db, options.seeds);
    this.leases = new BudgetLeases({
      db: options.db,
      process: options.holder,
      settings: options.settings,
      monotonic,
      announce: options.announce,
      onWindowOpened: (hold) => options.onEvent(budgetEvent("budget.window_opened", hold.def, hold.window)),
    });
    const shared = { db: options.db, logger: options.logger, leases: this.leases, holds: this.holds, now: options.now, monotonic, onEvent: options.onEvent };
    this.reservations = new BudgetReservations(shared);
    this.background = new BudgetSync({
      ...shared,
      book: this.book,
      settings: options.settings,
      sharedStore: options.sharedStore,
      announce: options.announce,
      ledgerWrites: options.ledgerWrites,
    });
  }

  async start(): Promise<void> {
    UNCLOSED.add(this);
    hookExit();
    await this.book.start();
    this.timer = setInterval(() => void this.background.rounds.tick(), this.options.settings.syncIntervalMs);
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
    this.background.budgetsChanged();
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
    if (!this.background.anyWarned) return false;
    return this.applying(subject).some((def) => this.background.isWarned(def.name));
  }

  /** See BudgetReservations.reserve. */
  reserve(defs: BudgetDefinition[], candidates: readonly CatalogModel[], need: CostUnits): Reservation | Promise<Reservation> {
    return this.reservations.reserve(defs, candidates, need);
  }

  /** See BudgetReservations.settle. */
  settle(reservation: Reservation, cost: string, spent?: CostUnits): BudgetCharge[] | undefined {
    return this.reservations.settle(reservation, cost, spent);
  }

  /**
   * Renews this instance's leases, frees dead instances' leases, returns idle allowance, raises warnings,
   * in a round that starts after this call: a round already out may have read the store before the
   * caller's own writes landed, so the caller waits for it and then for one more.
   */
  sync(): Promise<void> {
    return this.background.rounds.reload();
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
    await this.background.rounds.settled();
    await this.leases.returnAll(this.holds.values());
    await this.options.announce();
  }
}
