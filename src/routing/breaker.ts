import { AirlockError } from "../core/errors.js";

export interface BreakerPolicy {
  /** Opens after this many consecutive counted failures. */
  failureThreshold: number;
  /** Or when the failure rate over the window exceeds this (0..1)… */
  errorRateThreshold: number;
  /** …measured over this rolling window… */
  windowMs: number;
  /** …once the window holds at least this many results. */
  minRequests: number;
  /** How long an open breaker refuses before it lets probes through. */
  cooldownMs: number;
  /** While half-open, at most one probe starts per this interval. */
  probeIntervalMs: number;
}

export type BreakerState = "closed" | "open" | "half_open";

export interface BreakerTransition {
  target: string;
  from: BreakerState;
  to: BreakerState;
  at: number;
}

export interface BreakerSnapshot {
  target: string;
  state: BreakerState;
  consecutiveFailures: number;
  windowRequests: number;
  windowFailures: number;
  openedAt: number | null;
}

/** Fixed bucket count keeps memory per target constant and expiry O(1) (at most BUCKETS slots cleared per call). */
const BUCKETS = 10;

interface TargetState {
  state: BreakerState;
  /** Counts the state changes: an attempt reports its result with the generation it was admitted under. */
  generation: number;
  consecutiveFailures: number;
  openedAt: number | null;
  lastProbeAt: number | null;
  /** Absolute bucket number (floor(now / bucketMs)) of the newest slot that has been written or cleared. */
  head: number;
  requests: number[];
  failures: number[];
  windowRequests: number;
  windowFailures: number;
}

function validatePolicy(p: BreakerPolicy): void {
  const bad = (field: keyof BreakerPolicy, why: string) => {
    throw new AirlockError("misconfigured", `breaker policy: ${field} ${why}`, { param: `breaker.${field}` });
  };
  if (!Number.isInteger(p.failureThreshold) || p.failureThreshold < 1) bad("failureThreshold", "must be an integer ≥ 1");
  if (!(p.errorRateThreshold >= 0 && p.errorRateThreshold <= 1)) bad("errorRateThreshold", "must be between 0 and 1");
  if (!(Number.isFinite(p.windowMs) && p.windowMs > 0)) bad("windowMs", "must be a positive number");
  if (!Number.isInteger(p.minRequests) || p.minRequests < 1) bad("minRequests", "must be an integer ≥ 1");
  if (!(Number.isFinite(p.cooldownMs) && p.cooldownMs >= 0)) bad("cooldownMs", "must be a non-negative number");
  if (!(Number.isFinite(p.probeIntervalMs) && p.probeIntervalMs >= 0)) bad("probeIntervalMs", "must be a non-negative number");
}

/**
 * Per-target circuit breakers. Time only comes from `now`, so behaviour is fully deterministic under test
 * and no timers keep the process alive: the open → half-open move happens lazily, when a call or a
 * reader (the status, the metrics) next looks at the target.
 *
 * Each state change starts a new generation. An attempt is admitted under one (`admit()`) and its result
 * counts only while that generation lasts: a half-open breaker is decided by its probes, not by a slow
 * attempt that started before the breaker opened.
 */
export class CircuitBreakers {
  private readonly targets = new Map<string, TargetState>();
  private readonly bucketMs: number;

  constructor(
    private readonly policy: BreakerPolicy,
    private readonly now: () => number,
    private readonly onTransition?: (t: BreakerTransition) => void,
  ) {
    validatePolicy(policy);
    this.bucketMs = policy.windowMs / BUCKETS;
  }

  /**
   * Asks to start an attempt on the target. Returns the generation the attempt runs under, to hand back
   * with its result, or undefined when the breaker refuses it (open, or half-open with its probe taken).
   */
  admit(target: string): number | undefined {
    // Unknown targets are closed; not materialising them here keeps admit() allocation-free on the happy path.
    const t = this.targets.get(target);
    if (!t) return 0;
    if (t.state === "closed") return t.generation;
    const now = this.now();
    this.settle(target, t, now);
    if (t.state === "open") return undefined;
    if (t.lastProbeAt !== null && now - t.lastProbeAt < this.policy.probeIntervalMs) return undefined;
    t.lastProbeAt = now;
    return t.generation;
  }

  /**
   * Gives back what admit() handed out for an attempt that never went out (a guard stopped the call, or
   * its client left, after it was admitted): a half-open breaker's probe is free again at once, instead
   * of no probe starting until `probeIntervalMs` has passed. A result is then never reported for it.
   * Nothing changes when the breaker has moved on since (`generation` is no longer current), or for a
   * closed breaker, which hands out nothing.
   */
  release(target: string, generation: number): void {
    const t = this.targets.get(target);
    if (!t || t.state !== "half_open" || t.generation !== generation) return;
    // At most one probe starts per interval, and an attempt is released right after its guard answers,
    // which takes far less than an interval as a rule: the probe taken is this attempt's.
    t.lastProbeAt = null;
  }

  /** Whether an attempt may start now (see admit()); a result must then be reported with `generation()`. */
  allow(target: string): boolean {
    return this.admit(target) !== undefined;
  }

  /** The generation the target is in now: what an attempt admitted now reports its result with. */
  generation(target: string): number {
    return this.targets.get(target)?.generation ?? 0;
  }

  /** Whether the target is open and still cooling down: admit() would refuse it. Changes nothing. */
  isOpen(target: string): boolean {
    const t = this.targets.get(target);
    return t !== undefined && t.state === "open" && t.openedAt !== null && this.now() - t.openedAt < this.policy.cooldownMs;
  }

  /**
   * Milliseconds until admit() would let an attempt through: 0 when it would now (closed, a cooldown
   * that has passed, a probe free to start). Changes nothing.
   */
  waitMs(target: string): number {
    const t = this.targets.get(target);
    if (!t || t.state === "closed") return 0;
    const now = this.now();
    if (t.state === "open" && t.openedAt !== null && now - t.openedAt < this.policy.cooldownMs) return t.openedAt + this.policy.cooldownMs - now;
    // Half-open, or open with its cooldown over (a fresh half-open, no probe yet).
    if (t.state === "half_open" && t.lastProbeAt !== null) return Math.max(0, t.lastProbeAt + this.policy.probeIntervalMs - now);
    return 0;
  }

  /** Reports an attempt's success; `generation` is what admit() returned for it. */
  recordSuccess(target: string, generation: number): void {
    const now = this.now();
    const t = this.get(target, now);
    if (generation !== t.generation) return; // admitted under a state that has since changed
    if (t.state === "half_open") {
      this.reset(t, now);
      this.move(target, t, "closed", now);
      return;
    }
    this.count(t, now, false);
    t.consecutiveFailures = 0;
  }

  /** Reports an attempt's failure; `generation` is what admit() returned for it. */
  recordFailure(target: string, generation: number): void {
    const now = this.now();
    const t = this.get(target, now);
    // The result of an attempt admitted under a state that has since changed does not count: a late failure
    // from before the breaker opened neither extends its cooldown nor fails a half-open breaker's probe,
    // and one from before it closed again does not count against it. Nothing is admitted while open.
    if (generation !== t.generation || t.state === "open") return;
    this.count(t, now, true);
    t.consecutiveFailures += 1;
    if (t.state === "half_open") {
      this.trip(target, t, now);
      return;
    }
    const p = this.policy;
    const rateExceeded = t.windowRequests >= p.minRequests && t.windowFailures / t.windowRequests > p.errorRateThreshold;
    if (t.consecutiveFailures >= p.failureThreshold || rateExceeded) this.trip(target, t, now);
  }

  /** The state the next call would find: an open breaker whose cooldown has passed is half-open. */
  state(target: string): BreakerState {
    const t = this.targets.get(target);
    if (!t) return "closed";
    this.settle(target, t, this.now());
    return t.state;
  }

  /** Each target's state as the next call would find it (see state()). */
  snapshot(): BreakerSnapshot[] {
    const now = this.now();
    const out: BreakerSnapshot[] = [];
    for (const [target, t] of this.targets) {
      this.advance(t, now);
      this.settle(target, t, now);
      out.push({
        target,
        state: t.state,
        consecutiveFailures: t.consecutiveFailures,
        windowRequests: t.windowRequests,
        windowFailures: t.windowFailures,
        openedAt: t.openedAt,
      });
    }
    return out;
  }

  private get(target: string, now: number): TargetState {
    let t = this.targets.get(target);
    if (!t) {
      t = {
        state: "closed",
        generation: 0,
        consecutiveFailures: 0,
        openedAt: null,
        lastProbeAt: null,
        head: this.bucketOf(now),
        requests: new Array<number>(BUCKETS).fill(0),
        failures: new Array<number>(BUCKETS).fill(0),
        windowRequests: 0,
        windowFailures: 0,
      };
      this.targets.set(target, t);
    }
    return t;
  }

  private bucketOf(now: number): number {
    return Math.floor(now / this.bucketMs);
  }

  /** Expires buckets that have slid out of the window. Bounded by BUCKETS iterations however long the gap. */
  private advance(t: TargetState, now: number): void {
    const bucket = this.bucketOf(now);
    // A clock that steps backwards keeps writing into the newest bucket rather than corrupting older ones.
    if (bucket <= t.head) return;
    const steps = Math.min(bucket - t.head, BUCKETS);
    for (let i = 1; i <= steps; i++) {
      const slot = (((t.head + i) % BUCKETS) + BUCKETS) % BUCKETS;
      t.windowRequests -= t.requests[slot]!;
      t.windowFailures -= t.failures[slot]!;
      t.requests[slot] = 0;
      t.failures[slot] = 0;
    }
    t.head = bucket;
  }

  private count(t: TargetState, now: number, failed: boolean): void {
    this.advance(t, now);
    const slot = ((t.head % BUCKETS) + BUCKETS) % BUCKETS;
    t.requests[slot]! += 1;
    t.windowRequests += 1;
    if (failed) {
      t.failures[slot]! += 1;
      t.windowFailures += 1;
    }
  }

  /** Moves an open breaker whose cooldown has passed to half-open, as the next call would find it. */
  private settle(target: string, t: TargetState, now: number): void {
    if (t.state !== "open" || (t.openedAt !== null && now - t.openedAt < this.policy.cooldownMs)) return;
    t.lastProbeAt = null;
    this.move(target, t, "half_open", now);
  }

  private reset(t: TargetState, now: number): void {
    t.consecutiveFailures = 0;
    t.openedAt = null;
    t.lastProbeAt = null;
    t.requests.fill(0);
    t.failures.fill(0);
    t.windowRequests = 0;
    t.windowFailures = 0;
    t.head = this.bucketOf(now);
  }

  private trip(target: string, t: TargetState, now: number): void {
    t.openedAt = now;
    t.lastProbeAt = null;
    this.move(target, t, "open", now);
  }

  private move(target: string, t: TargetState, to: BreakerState, at: number): void {
    const from = t.state;
    t.state = to;
    if (from !== to) t.generation += 1;
    if (!this.onTransition || from === to) return;
    try {
      this.onTransition({ target, from, to, at });
    } catch {
      // The listener is telemetry; a broken one must not fail the request that happened to trip the breaker.
    }
  }
}
