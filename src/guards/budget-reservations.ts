import { AirlockError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { costUnits, costUnitsText, type CostUnits, type UnitPrice } from "../ledger/pricing.js";
import { budgetExceeded, unpricedUnderBudget, windowAt, worstCostUnits, type BudgetDefinition, type WorstCase } from "../policy/budgets.js";
import type { CatalogModel } from "../routing/catalog.js";
import type { Db } from "../store/database.js";
import * as q from "../store/queries/budgets.js";
import type { BudgetCharge } from "../store/schema/index.js";
import type { BudgetHold } from "./budget-hold.js";
import type { BudgetLeases } from "./budget-leases.js";
import { budgetEvent } from "./budget-events.js";
import type { BudgetEvent } from "./budget-status.js";

/**
 * The dearest worst case of the route's candidates, in cost units rounded up: counters hold COST_SCALE
 * digits, so memory and store agree exactly. An unpriced candidate is charged the missing price, so it
 * is held at it (a budget refuses such a route: see BudgetReservations.reserve). A HIGH-criticality
 * call works this out once for its grant's spend limit and its budgets.
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

export interface BudgetReservationsOptions {
  db: Db;
  logger: Logger;
  leases: BudgetLeases;
  /** This instance's holds, one per budget, shared with the sync rounds. */
  holds: Map<string, BudgetHold>;
  /** Epoch milliseconds: decides which window a call falls in. */
  now(): number;
  /** Monotonic milliseconds: decides whether a lease is still safe to spend from. */
  monotonic(): number;
  onEvent(event: BudgetEvent): void;
}

/**
 * The call's side of budgets: each call's worst case reserved from what this instance holds of each
 * window, leased from the window when that runs short, and settled at its exact cost.
 */
export class BudgetReservations {
  private leaseFailing = false;

  constructor(private readonly options: BudgetReservationsOptions) {}

  /**
   * Reserves the call's worst case (`need`, from worstCallCost) from every budget it runs under, or
   * refuses it: `budget_exceeded` when a budget has no room, `misconfigured` when a candidate has no
   * price to hold a budget with, `unavailable` when the store does not answer in time. Synchronous
   * while local allowance lasts.
   */
  reserve(defs: BudgetDefinition[], candidates: readonly CatalogModel[], need: CostUnits): Reservation | Promise<Reservation> {
    for (const model of candidates) if (!model.price) throw unpricedUnderBudget(model.id, defs[0]!);
    const now = this.options.now();
    const mono = this.options.monotonic();
    const holds = defs.map((def) => this.holdFor(def, now));
    if (holds.every((hold) => hold.canTake(need, mono))) return { parts: holds.map((hold) => hold.take(need, mono)) };
    return this.reserveSlowly(holds, need);
  }

  /**
   * Settles a call: its exact cost (`cost`, the ledger's own figure, `spent` in cost units) leaves the
   * reservation, what was reserved and not spent returns to this instance's allowance, and the charges
   * go on the call's ledger row, whose insert moves the shared counters. Never throws.
   */
  settle(reservation: Reservation, cost: string, spent: CostUnits = costUnits(cost)): BudgetCharge[] | undefined {
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
   * Takes `need` from the hold, leasing more from the window when the hold is short, one lease request
   * per window at a time (see SerialQueue.runWithin): a store that holds statements (a lock on the
   * window's row) holds one connection per window, not one per call, and leaves the pool to the kill
   * switch and the ledger. A call that gave up takes nothing, and its lease still lands, for later calls.
   */
  private async takeOrLease(hold: BudgetHold, need: CostUnits): Promise<Reservation["parts"][number] | undefined> {
    const { leases, monotonic } = this.options;
    try {
      const part = await hold.seriallyWithin(
        STORE_DEADLINE_MS,
        async (gaveUp) => {
          if (hold.canTake(need, monotonic())) return hold.take(need, monotonic());
          if (hold.knownShort(need, monotonic())) return undefined;
          await leases.lease(hold, need);
          const now = monotonic();
          return !gaveUp() && hold.canTake(need, now) ? hold.take(need, now) : undefined;
        },
        (late) => late && hold.unreserve(late.amount, late.epoch),
      );
      this.leaseFailing = false;
      return part;
    } catch (err) {
      if (err instanceof AirlockError) throw err;
      // Once per outage, not once per refused call.
      if (!this.leaseFailing) this.options.logger.error({ err: err instanceof Error ? err.message : String(err) }, "budget store unreachable; refusing budgeted calls");
      this.leaseFailing = true;
      throw new AirlockError("unavailable", "budget state cannot be read: the store is unreachable. The call was not made.", { retryAfterSeconds: 1 });
    }
  }

  /** The current window for a budget, opened afresh when the clock passes the last one's end. */
  private holdFor(def: BudgetDefinition, now: number): BudgetHold {
    const { holds } = this.options;
    let hold = holds.get(def.name);
    if (!hold || now >= hold.window.end || now < hold.window.start) {
      hold = this.options.leases.newHold(def, windowAt(def.period, def.timezone, now));
      holds.set(def.name, hold);
    }
    return hold;
  }

  private reportExhausted(hold: BudgetHold): void {
    if (hold.exhaustionReported) return;
    hold.exhaustionReported = true;
    q.markExhausted(this.options.db, { budget: hold.def.name, start: hold.startDate }).then(
      (first) => {
        if (first) this.options.onEvent(budgetEvent("budget.exhausted", hold.def, hold.window));
      },
      () => {
        hold.exhaustionReported = false;
      },
    );
  }
}
