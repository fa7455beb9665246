import type { RateLimitConfig } from "../config/schema.js";
import { AirlockError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { BudgetSubject, Window } from "../policy/budgets.js";
import { limitSubjects, minuteAt, overRateLimit, perMinute, rateLimited, type RateUnit } from "../policy/rate-limits.js";
import type { Db } from "../store/database.js";
import { dropOldRateWindows, leasePermits } from "../store/queries/rate-limits.js";
import { SerialQueue } from "../core/serial-queue.js";

/** One limit's allowance for one subject and unit in one minute, as this instance holds it. */
class Permits {
  allowance = 0;
  /** After a refused lease: what the minute had free then. Nothing is freed within a minute, so it holds until the minute ends. */
  knownFree: number | undefined;

  constructor(
    readonly limit: RateLimitConfig,
    readonly subject: string,
    readonly unit: RateUnit,
    readonly max: number,
    readonly window: Window,
  ) {}

  /** Runs lease requests for these permits one at a time. */
  readonly queue = new SerialQueue();
}

/** What a call took from each limit, given back in part when it settles (tokens) or when it is refused later. */
export interface RateHold {
  parts: Array<{ permits: Permits; amount: number }>;
}

/** A store statement on the rate-limit path waits this long, then the call is refused as `unavailable`. */
const STORE_DEADLINE_MS = 1_500;
/** The share of a limit one lease asks for at most. */
const LEASE_SHARE = 20;

export interface RateLimitsOptions {
  db: Db;
  logger: Logger;
  limits: readonly RateLimitConfig[];
  now(): number;
}

/**
 * Requests and tokens per fixed minute, per key, user, operation or overall. Each instance leases
 * permits from the minute's shared counter (one atomic statement; the counter never passes the limit)
 * and counts them down in memory, so a call waits on the store only when its instance runs short.
 * Token limits reserve the call's worst case and give back what it did not use.
 */
export class RateLimits {
  private permits = new Map<string, Permits>();
  private timer: NodeJS.Timeout | undefined;
  private failing = false;

  private limits: readonly RateLimitConfig[];

  constructor(private readonly options: RateLimitsOptions) {
    this.limits = options.limits;
  }

  /** True when any rate limit is in force. */
  get any(): boolean {
    return this.limits.length > 0;
  }

  start(): void {
    this.timer = setInterval(() => this.sweep(), 60_000);
    this.timer.unref();
  }

  /**
   * Puts a new set of limits in force (an admin changed one). What this instance holds of a limit that
   * is gone or changed is dropped: the new limit starts from the minute's shared counter.
   */
  use(limits: readonly RateLimitConfig[]): void {
    const byName = new Map(limits.map((limit) => [limit.name, JSON.stringify(limit)]));
    for (const [key, permits] of this.permits) if (byName.get(permits.limit.name) !== JSON.stringify(permits.limit)) this.permits.delete(key);
    this.limits = limits;
  }

  /**
   * Takes one request and `tokens` tokens from every limit the call falls under, or refuses it with
   * `rate_limited`. Undefined when no limit applies; synchronous while local permits last.
   */
  hold(subject: BudgetSubject, tokens: number): RateHold | Promise<RateHold> | undefined {
    if (this.limits.length === 0) return undefined;
    const now = this.options.now();
    const wanted: Array<{ permits: Permits; amount: number }> = [];
    for (const limit of this.limits) {
      for (const who of limitSubjects(limit, subject)) {
        for (const unit of ["requests", "tokens"] as const) {
          const max = perMinute(limit, unit);
          const amount = unit === "requests" ? 1 : tokens;
          if (max === undefined || amount <= 0) continue;
          if (amount > max) throw overRateLimit(limit, unit, amount);
          wanted.push({ permits: this.permitsFor(limit, who, unit, max, now), amount });
        }
      }
    }
    if (wanted.length === 0) return undefined;
    if (wanted.every(({ permits, amount }) => permits.allowance >= amount)) {
      for (const { permits, amount } of wanted) permits.allowance -= amount;
      return { parts: wanted };
    }
    return this.holdSlowly(wanted);
  }

  private async holdSlowly(wanted: RateHold["parts"]): Promise<RateHold> {
    const taken: RateHold["parts"] = [];
    try {
      for (const part of wanted) {
        if (!(await this.take(part.permits, part.amount))) {
          const { limit, unit, window } = part.permits;
          throw rateLimited(limit, unit, window, this.options.now());
        }
        taken.push(part);
      }
      return { parts: taken };
    } catch (err) {
      this.release({ parts: taken });
      throw err;
    }
  }

  /**
   * Takes `amount` from the permits, leasing more when they run short, one lease request per limit and
   * minute at a time (see SerialQueue.runWithin): a store that holds statements (a lock on the minute's
   * row) holds one connection per limit, not one per call, and leaves the pool to the kill switch and
   * the ledger. A call that gave up takes nothing, and its lease still lands, for later calls.
   */
  private take(permits: Permits, amount: number): Promise<boolean> {
    return permits.queue
      .runWithin(
        STORE_DEADLINE_MS,
        async (gaveUp) => {
          if (permits.allowance >= amount) {
            permits.allowance -= amount;
            return true;
          }
          // A debt (see settle) goes to the shared counter with the next lease, even one sure to be refused.
          if (permits.allowance >= 0 && permits.knownFree !== undefined && permits.knownFree + permits.allowance < amount) return false;
          const give = permits.allowance;
          permits.allowance = 0;
          let grant: { granted: number; free: number };
          try {
            grant = await leasePermits(this.options.db, {
              limit: permits.limit.name,
              subject: permits.subject,
              unit: permits.unit,
              start: new Date(permits.window.start),
              give,
              need: amount,
              chunk: Math.max(1, Math.floor(permits.max / LEASE_SHARE)),
              max: permits.max,
            });
          } catch (err) {
            // Unanswered, the statement may have taken effect: a leftover the counter may already have back
            // is dropped rather than spent twice (it frees itself when the minute ends); a debt is kept.
            permits.allowance += Math.min(give, 0);
            throw err;
          }
          this.failing = false;
          permits.allowance += grant.granted;
          permits.knownFree = grant.granted === 0 ? grant.free : undefined;
          if (gaveUp() || permits.allowance < amount) return false;
          permits.allowance -= amount;
          return true;
        },
        (took) => {
          if (took) permits.allowance += amount;
        },
      )
      .catch((err: unknown) => {
        // Once per outage, not once per refused call.
        if (!this.failing) this.options.logger.error({ err: err instanceof Error ? err.message : String(err) }, "rate limit store unreachable; refusing rate-limited calls");
        this.failing = true;
        throw new AirlockError("unavailable", "rate limit state cannot be read: the store is unreachable. The call was not made.", { retryAfterSeconds: 1 });
      });
  }

  /**
   * Ends a call: token limits get back what it reserved and did not use. A call that used more than its
   * bound (an upstream that ignored max_tokens) leaves the allowance below zero: a debt, which the next
   * lease hands to the minute's shared counter (as a negative give) before this instance admits another call.
   */
  settle(hold: RateHold, tokensUsed: number): void {
    for (const { permits, amount } of hold.parts) {
      if (permits.unit !== "tokens" || !this.isCurrent(permits)) continue;
      // The debt stops at the limit: past it the minute is used up however much more was reported, and
      // the number handed to the counter stays one it can hold.
      permits.allowance = Math.max(permits.allowance + amount - tokensUsed, -permits.max);
    }
  }

  /** Gives everything back: the call was refused after its permits were taken (by a budget). */
  release(hold: RateHold): void {
    for (const { permits, amount } of hold.parts) if (this.isCurrent(permits)) permits.allowance += amount;
  }

  private isCurrent(permits: Permits): boolean {
    return this.permits.get(keyOf(permits.limit, permits.subject, permits.unit)) === permits;
  }

  private permitsFor(limit: RateLimitConfig, subject: string, unit: RateUnit, max: number, now: number): Permits {
    const key = keyOf(limit, subject, unit);
    let permits = this.permits.get(key);
    if (!permits || now >= permits.window.end || now < permits.window.start) {
      permits = new Permits(limit, subject, unit, max, minuteAt(now));
      this.permits.set(key, permits);
    }
    return permits;
  }

  /** Forgets past minutes, here and in the store. */
  private sweep(): void {
    if (this.limits.length === 0 && this.permits.size === 0) return;
    const now = this.options.now();
    for (const [key, permits] of this.permits) if (permits.window.end <= now) this.permits.delete(key);
    dropOldRateWindows(this.options.db).catch(() => undefined);
  }

  close(): void {
    clearInterval(this.timer);
  }
}

function keyOf(limit: RateLimitConfig, subject: string, unit: RateUnit): string {
  return `${limit.name}\u0000${subject}\u0000${unit}`;
}
