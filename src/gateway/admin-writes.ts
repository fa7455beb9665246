import type { Principal } from "../auth/principal.js";
import type { RateLimitConfig } from "../config/schema.js";
import { AirlockError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { RateLimits } from "../guards/rate-limits.js";
import type { Db } from "../store/database.js";
import { dropOldRateWindows } from "../store/queries/rate-limits.js";

/**
 * The shared counter's name. A space is in no name a configured rate limit may have, so this one never
 * shares a counter with one of them.
 */
const LIMIT_NAME = "admin api writes";

/** How often a gateway that takes writes drops the counter's past minutes (only while writes come in). */
const SWEEP_EVERY_MS = 10 * 60_000;

/**
 * The changes a key that is not an admin's may send to the admin API in a minute (`server.adminWritesPerMinute`).
 * A pending-request limit caps how many of its proposals are open at once, not how fast it files and
 * withdraws them, and each proposal may queue a webhook delivery per webhook and replay the ledger for its
 * impact estimate. The count is the gateway's own rate-limit machinery, a key's counter per fixed minute in
 * the store, so it holds across workers and instances as `rateLimits` do.
 *
 * Admin keys are not counted: an admin's writes in an incident (the kill switch, revoking a key, rejecting
 * a flood of requests) must never wait on a limit, and an admin key can change everything anyway, so a
 * limit would not bound what it may do.
 */
export class AdminWrites {
  private readonly limits: RateLimits;
  private readonly limit: RateLimitConfig;
  private sweptAt = 0;

  constructor(
    private readonly db: Db,
    logger: Logger,
    readonly perMinute: number,
  ) {
    this.limit = { name: LIMIT_NAME, scope: "key", requestsPerMinute: perMinute };
    // Never started: its timer would sweep the store every minute, writes or not (see sweep below).
    this.limits = new RateLimits({ db, logger, limits: [this.limit], now: Date.now });
  }

  /** Counts one write by `principal`, or refuses it with `rate_limited` (429, `Retry-After` at the minute's end). */
  async admit(principal: Principal): Promise<void> {
    if (principal.kind === "admin") return;
    this.sweep();
    try {
      await this.limits.hold({ principal, endUser: undefined, operation: undefined }, 0);
    } catch (err) {
      if (!(err instanceof AirlockError) || err.code !== "rate_limited") throw err;
      throw new AirlockError(
        "rate_limited",
        `this key has made its ${this.perMinute} changes through the admin API for this minute (server.adminWritesPerMinute; admin keys are not limited)`,
        { retryAfterSeconds: err.retryAfterSeconds, details: { ...err.details, rate_limit: "server.adminWritesPerMinute" } },
      );
    }
  }

  /** Past minutes' counters are dropped now and then, while writes come in: an idle gateway sends the store nothing. */
  private sweep(): void {
    const now = Date.now();
    if (now - this.sweptAt < SWEEP_EVERY_MS) return;
    this.sweptAt = now;
    dropOldRateWindows(this.db).catch(() => undefined);
  }
}
