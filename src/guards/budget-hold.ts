import { SerialQueue } from "../core/serial-queue.js";
import { COST_SCALE, Money } from "../ledger/pricing.js";
import type { BudgetDefinition, Window } from "../policy/budgets.js";
import type { Grant } from "../store/queries/budgets.js";

const ZERO = new Money(0);

/** The share of a limit one lease asks for at most: small enough that a few instances cannot strand much of it. */
const LEASE_SHARE = 20;

/**
 * What this instance holds of one budget window: allowance leased from the shared counter and not yet
 * reserved by a call. Every change is a sum or a difference, so a late store answer, a settle and a
 * lease can interleave in any order and the books still balance. `epoch` counts lost leases: a
 * reservation from an earlier epoch returns nothing, since the store already took that lease back.
 */
export class BudgetHold {
  allowance: Money = ZERO;
  epoch = 0;
  /** Monotonic ms until which the lease is certainly still held in the store. */
  validUntil = Number.NEGATIVE_INFINITY;
  /** After a refused lease: what the window had free then, so that calls needing more are refused without asking again. */
  knownFree: Money | undefined;
  exhaustionReported = false;
  readonly startDate: Date;
  /** The window's start as the ledger's budget charges name it, formatted once rather than per call. */
  readonly startIso: string;
  private lastUsed = 0;
  private readonly queue = new SerialQueue();
  private opening: Promise<void> | undefined;
  private isOpen = false;
  private openedAt = Number.POSITIVE_INFINITY;

  constructor(
    public def: BudgetDefinition,
    readonly window: Window,
  ) {
    this.startDate = new Date(window.start);
    this.startIso = this.startDate.toISOString();
  }

  get chunk(): Money {
    return this.def.limit.div(LEASE_SHARE).toDecimalPlaces(COST_SCALE, Money.ROUND_DOWN);
  }

  canTake(need: Money, now: number): boolean {
    return now < this.validUntil && this.allowance.gte(need);
  }

  take(need: Money, now: number): { hold: BudgetHold; amount: Money; epoch: number } {
    this.allowance = this.allowance.sub(need);
    this.lastUsed = now;
    return { hold: this, amount: need, epoch: this.epoch };
  }

  knownShort(need: Money, now: number): boolean {
    return this.knownFree !== undefined && now < this.validUntil && this.knownFree.add(this.allowance).lt(need);
  }

  /** Empties the allowance to hand it back in a lease request; nothing can be taken from it meanwhile. */
  surrender(): { amount: Money; epoch: number } {
    const amount = this.allowance;
    this.allowance = ZERO;
    return { amount, epoch: this.epoch };
  }

  /** Puts back what a reservation or a failed request took, unless the lease it came from was lost. */
  giveBack(amount: Money, epoch: number): void {
    if (epoch === this.epoch) this.allowance = this.allowance.add(amount);
  }

  granted(grant: Grant, epoch: number, validUntil: number): void {
    if (epoch !== this.epoch) return;
    const amount = new Money(grant.granted);
    this.allowance = this.allowance.add(amount);
    this.validUntil = Math.max(this.validUntil, validUntil);
    this.knownFree = amount.isZero() ? new Money(grant.free) : undefined;
  }

  renewed(validUntil: number): void {
    if (this.isOpen) this.validUntil = Math.max(this.validUntil, validUntil);
  }

  /** The store no longer has this instance's lease (it was presumed dead): what it held is gone. */
  leaseLost(): void {
    if (!this.isOpen) return;
    this.allowance = ZERO;
    this.epoch++;
    this.isOpen = false;
    this.validUntil = Number.NEGATIVE_INFINITY;
  }

  /** Allowance no call has touched for `idleMs`, taken out to be returned to the window. */
  surrenderIdle(now: number, idleMs: number): { amount: Money; epoch: number } | undefined {
    if (this.allowance.isZero() || now - this.lastUsed < idleMs) return undefined;
    return this.surrender();
  }

  /**
   * Ends a reservation at the call's exact cost. Answers how much of the cost the lease covered: the
   * reservation, and more from the allowance if the call cost more than its worst case.
   */
  settle(amount: Money, epoch: number, spent: Money): Money {
    if (epoch !== this.epoch) return ZERO;
    if (spent.lte(amount)) {
      this.allowance = this.allowance.add(amount.sub(spent));
      return spent;
    }
    const extra = Money.min(spent.sub(amount), this.allowance);
    this.allowance = this.allowance.sub(extra);
    return amount.add(extra);
  }

  /** Runs lease requests for this window one at a time. */
  serially<T>(work: () => Promise<T>): Promise<T> {
    return this.queue.run(work);
  }

  /** True when the lease row existed before `moment`: a renewal sent then must have seen it. */
  openBefore(moment: number): boolean {
    return this.isOpen && this.openedAt < moment;
  }

  /** Opens the window and this instance's lease row, once per epoch. */
  async opened(open: () => Promise<void>, now: () => number): Promise<void> {
    if (this.isOpen) return;
    this.opening ??= open()
      .then(() => {
        this.isOpen = true;
        this.openedAt = now();
      })
      .finally(() => {
        this.opening = undefined;
      });
    await this.opening;
  }
}
