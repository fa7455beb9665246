/** What a sync round needs to know of one window this instance holds allowance from. */
export interface HeldLease {
  readonly allowance: bigint;
  /** Monotonic ms until which the lease is certainly still held in the store. */
  readonly validUntil: number;
}

export interface BudgetSyncPlanOptions {
  /**
   * True while other instances may use the store (PostgreSQL, always). False while this instance has
   * the embedded store to itself: then nothing else moves the counters or holds leases.
   */
  shared(): boolean;
  syncIntervalMs: number;
  /** Ledger rows written so far: their insert moves the windows' spend, which warnings are read from. */
  ledgerWrites(): number;
}

export type LeaseWork = "renew" | "renew-and-reap-every-other" | undefined;

/**
 * Decides which statements a budget sync round sends. With a shared store, every round renews this
 * instance's leases, frees dead instances' leases and reads warnings: other instances spend and die
 * at any time. With a store this process alone opens, a round only does what has become due:
 * - every other holder's lease belongs to a process that is gone, so the first round frees them all
 *   at once, however recently they were renewed;
 * - no other instance can reap this one's leases, so a lease is renewed only as its safe time runs
 *   out, and only while it holds allowance (a call that finds it lapsed leases afresh anyway);
 * - only this instance's ledger moves the spend, so warnings are read again only after the ledger
 *   wrote, after the budgets changed, or once a warned window has ended.
 * An idle gateway on the embedded store then sends no statement at all.
 */
export class BudgetSyncPlan {
  private firstRound = true;
  /** Ledger writes as of the last warning read; undefined until one succeeds. */
  private writesAtWarningRead: number | undefined;
  private writesAtReadSent: number | undefined;
  /** Set when the next round must read whatever else: the budgets changed, or the last read failed. */
  private mustRead = true;
  /** Epoch ms at which the earliest warned window ends: its budget is no longer warned after it. */
  private warnedUntil = Number.POSITIVE_INFINITY;

  constructor(private readonly options: BudgetSyncPlanOptions) {}

  /** The lease statement this round sends, if any. */
  leaseWork(holds: Iterable<HeldLease>, monotonicNow: number): LeaseWork {
    if (this.options.shared()) return "renew";
    if (this.firstRound) return "renew-and-reap-every-other";
    // Renewed with three rounds to spare: a round can run two late, as on a shared store, and still renew in time.
    const margin = 3 * this.options.syncIntervalMs;
    for (const hold of holds) if (hold.allowance > 0n && hold.validUntil - monotonicNow <= margin) return "renew";
    return undefined;
  }

  leaseWorkDone(): void {
    this.firstRound = false;
  }

  /** Whether this round reads warnings. When it does, `warningsRead` or `readWarningsAgain` follows. */
  warningReadDue(epochNow: number): boolean {
    const writes = this.options.ledgerWrites();
    const due = this.options.shared() || this.mustRead || writes !== this.writesAtWarningRead || epochNow >= this.warnedUntil;
    if (!due) return false;
    // Taken before the read goes out: rows written and budgets changed while it runs are read next round.
    this.writesAtReadSent = writes;
    this.mustRead = false;
    return true;
  }

  /** `warnedUntil`: the earliest end of a window the read found warned. */
  warningsRead(warnedUntil: number): void {
    this.writesAtWarningRead = this.writesAtReadSent;
    this.warnedUntil = warnedUntil;
  }

  /**
   * The next round reads warnings: a budget was created, changed or removed (its warning amount may now
   * be passed, or no longer apply), or the last read failed.
   */
  readWarningsAgain(): void {
    this.mustRead = true;
  }
}
