import { SerialQueue } from "../core/serial-queue.js";
import { costUnits, costUnitsOf, Money, type CostUnits } from "../ledger/pricing.js";
import type { BudgetDefinition, Window } from "../policy/budgets.js";
import type { Grant } from "../store/queries/budgets.js";

/** The share of a limit one lease asks for at most: small enough that a few instances cannot strand much of it. */
const LEASE_SHARE = 20;

/**
 * What this instance holds of one budget window: allowance leased from the shared counter and not yet
 * reserved by a call, in cost units (bigints of 10^-12 dollars, the store's own scale). Every change is
 * a sum or a difference, so a late store answer, a settle and a lease can interleave in any order and
 * the books still balance. `epoch` counts lost leases: a reservation from an earlier epoch returns
 * nothing, since the store already took that lease back.
 */
export class BudgetHold {
  allowance: CostUnits = 0n;
  epoch = 0;
  /** Monotonic ms until which the lease is certainly still held in the store. */
  validUntil = Number.NEGATIVE_INFINITY;
  /** After a refused lease: what the window had free then, so that calls needing more are refused without asking again. */
  knownFree: CostUnits | undefined;
  exhaustionReported = false;
  readonly startDate: Date;
  /** The window's start as the ledger's budget charges name it, formatted once rather than per call. */
  readonly startIso: string;
  private lastUsed = 0;
  private readonly queue = new SerialQueue();
  private opening: Promise<void> | undefined;
  private isOpen = false;
  private openedAt = Number.POSITIVE_INFINITY;
  /** Reservations taken in this epoch that have not settled yet. */
  private running = 0;
  /**
   * Leases given up (or lost) while calls reserved from them still ran, by epoch: each is still renewed,
   * and its calls settle against it, until the last of them settles. Freed earlier, the reservation of a
   * call still running (a long stream) would be lent again, and the window spent twice over.
   */
  private readonly retired = new Map<number, { holder: string; running: number }>();

  constructor(
    public def: BudgetDefinition,
    readonly window: Window,
    /**
     * The lease row's holder: this process's holder id and a serial, new with every lease this hold opens.
     * A ledger row's budget charge names it, so that a charge settled against a lease the store has since
     * reaped frees nothing from the lease opened after it (see BUDGET_CHARGES).
     */
    public leaseHolder: string,
  ) {
    this.startDate = new Date(window.start);
    this.startIso = this.startDate.toISOString();
  }

  get chunk(): CostUnits {
    return costUnitsOf(this.def.limit.div(LEASE_SHARE), Money.ROUND_DOWN);
  }

  canTake(need: CostUnits, now: number): boolean {
    return now < this.validUntil && this.allowance >= need;
  }

  take(need: CostUnits, now: number): { hold: BudgetHold; amount: CostUnits; epoch: number } {
    this.allowance -= need;
    this.lastUsed = now;
    this.running++;
    return { hold: this, amount: need, epoch: this.epoch };
  }

  /** Ends a reservation that never ran (a later budget refused the call): it goes back to the allowance. */
  unreserve(amount: CostUnits, epoch: number): void {
    this.ended(epoch);
    this.giveBack(amount, epoch);
  }

  /** The lease holder a reservation of `epoch` was taken under: its charge names it. */
  holderOf(epoch: number): string {
    return this.retired.get(epoch)?.holder ?? this.leaseHolder;
  }

  /** Holders of given-up leases that calls still running were reserved from: renewed until those settle. */
  retiredHolders(): string[] {
    return [...this.retired.values()].map((lease) => lease.holder);
  }

  knownShort(need: CostUnits, now: number): boolean {
    return this.knownFree !== undefined && now < this.validUntil && this.knownFree + this.allowance < need;
  }

  /** Empties the allowance to hand it back in a lease request; nothing can be taken from it meanwhile. */
  surrender(): { amount: CostUnits; epoch: number } {
    const amount = this.allowance;
    this.allowance = 0n;
    return { amount, epoch: this.epoch };
  }

  /** Puts back what a reservation or a failed request took, unless the lease it came from was lost. */
  giveBack(amount: CostUnits, epoch: number): void {
    if (epoch === this.epoch) this.allowance += amount;
  }

  /** Adds a grant to the allowance, unless the lease it was asked under was lost. Answers the amount granted. */
  granted(grant: Grant, epoch: number, validUntil: number): CostUnits {
    const amount = costUnits(grant.granted);
    if (epoch !== this.epoch) return amount;
    this.allowance += amount;
    this.validUntil = Math.max(this.validUntil, validUntil);
    this.knownFree = amount === 0n ? costUnits(grant.free) : undefined;
    return amount;
  }

  renewed(validUntil: number): void {
    if (this.isOpen) this.validUntil = Math.max(this.validUntil, validUntil);
  }

  /**
   * The store no longer has this instance's lease (it was presumed dead), or may not hold what this
   * instance thinks (a statement on it failed without an answer): what it held is gone, and the next
   * lease opens a new row, as `nextHolder`. A row left behind is reaped once it expires, with all it held.
   */
  leaseLost(nextHolder: string): void {
    if (!this.isOpen) return;
    if (this.running > 0) this.retired.set(this.epoch, { holder: this.leaseHolder, running: this.running });
    this.running = 0;
    this.leaseHolder = nextHolder;
    this.allowance = 0n;
    this.epoch++;
    this.isOpen = false;
    this.validUntil = Number.NEGATIVE_INFINITY;
  }

  /** Allowance no call has touched for `idleMs`, taken out to be returned to the window. */
  surrenderIdle(now: number, idleMs: number): { amount: CostUnits; epoch: number } | undefined {
    if (this.allowance === 0n || now - this.lastUsed < idleMs) return undefined;
    return this.surrender();
  }

  /**
   * Ends a reservation at the call's exact cost. Answers how much of the cost the lease covered: the
   * reservation, and more from the allowance if the call cost more than its worst case.
   */
  settle(amount: CostUnits, epoch: number, spent: CostUnits): CostUnits {
    const retired = this.ended(epoch);
    // A reservation from a given-up lease is covered by that lease, which still holds it; its unspent
    // part and the lease's uncertain remainder are freed when the lease, no longer renewed, expires.
    if (retired) return spent < amount ? spent : amount;
    if (epoch !== this.epoch) return 0n;
    if (spent <= amount) {
      this.allowance += amount - spent;
      return spent;
    }
    const over = spent - amount;
    const extra = over < this.allowance ? over : this.allowance;
    this.allowance -= extra;
    return amount + extra;
  }

  /** Counts a reservation of `epoch` as ended; answers whether it came from a given-up lease still held for it. */
  private ended(epoch: number): boolean {
    if (epoch === this.epoch) {
      this.running--;
      return false;
    }
    const retired = this.retired.get(epoch);
    if (!retired) return false;
    if (--retired.running === 0) this.retired.delete(epoch);
    return true;
  }

  /** Runs lease requests for this window one at a time. */
  serially<T>(work: () => Promise<T>): Promise<T> {
    return this.queue.run(work);
  }

  /** A call's lease request, in turn with the others, for a call that waits at most `ms` (see SerialQueue.runWithin). */
  seriallyWithin<T>(ms: number, work: (gaveUp: () => boolean) => Promise<T>, giveBack: (late: T) => void): Promise<T> {
    return this.queue.runWithin(ms, work, giveBack);
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
