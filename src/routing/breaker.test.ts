import fc from "fast-check";
import { beforeEach, describe, expect, it } from "vitest";
import { AirlockError } from "../core/errors.js";
import { resolveConfig } from "../config/load.js";
import { CircuitBreakers, type BreakerPolicy, type BreakerTransition } from "./breaker.js";

const policy: BreakerPolicy = {
  failureThreshold: 3,
  errorRateThreshold: 0.5,
  windowMs: 10_000,
  minRequests: 10,
  cooldownMs: 5_000,
  probeIntervalMs: 1_000,
};

let clock = 0;
const now = () => clock;
const T = "openai/gpt-4o";

function openBreaker(b: CircuitBreakers, target = T): void {
  for (let i = 0; i < policy.failureThreshold; i++) b.recordFailure(target, b.generation(target));
}

beforeEach(() => {
  clock = 1_000_000;
});

describe("CircuitBreakers: closed", () => {
  it("treats unknown targets as closed and allows them", () => {
    const b = new CircuitBreakers(policy, now);
    expect(b.state("nope")).toBe("closed");
    expect(b.allow("nope")).toBe(true);
    expect(b.snapshot()).toEqual([]);
  });

  it("opens after N consecutive failures and then refuses", () => {
    const b = new CircuitBreakers(policy, now);
    b.recordFailure(T, b.generation(T));
    b.recordFailure(T, b.generation(T));
    expect(b.state(T)).toBe("closed");
    expect(b.allow(T)).toBe(true);
    b.recordFailure(T, b.generation(T));
    expect(b.state(T)).toBe("open");
    expect(b.allow(T)).toBe(false);
    expect(b.snapshot()).toEqual([
      { target: T, state: "open", consecutiveFailures: 3, windowRequests: 3, windowFailures: 3, openedAt: clock },
    ]);
  });

  it("resets consecutive failures on success", () => {
    // minRequests out of reach, so only the consecutive count can trip it.
    const b = new CircuitBreakers({ ...policy, minRequests: 1_000 }, now);
    for (let i = 0; i < 10; i++) {
      b.recordFailure(T, b.generation(T));
      b.recordFailure(T, b.generation(T));
      b.recordSuccess(T, b.generation(T));
    }
    expect(b.state(T)).toBe("closed");
    expect(b.snapshot()[0]).toMatchObject({ consecutiveFailures: 0, windowRequests: 30, windowFailures: 20 });
  });

  it("keeps targets independent", () => {
    const b = new CircuitBreakers(policy, now);
    openBreaker(b, "a");
    expect(b.state("a")).toBe("open");
    expect(b.allow("b")).toBe(true);
    expect(b.state("b")).toBe("closed");
  });

  it("opens on the error rate only once the window holds minRequests results", () => {
    const b = new CircuitBreakers({ ...policy, failureThreshold: 100 }, now);
    // Alternate failure/success: 60% failures but never 3 in a row.
    const seq = [true, true, false, true, false, true, false, true, false];
    for (const fail of seq) (fail ? b.recordFailure(T, b.generation(T)) : b.recordSuccess(T, b.generation(T)));
    expect(b.snapshot()[0]).toMatchObject({ windowRequests: 9, windowFailures: 5 });
    expect(b.state(T)).toBe("closed");
    b.recordFailure(T, b.generation(T)); // 10th result, 6/10 failed
    expect(b.state(T)).toBe("open");
  });

  it("does not open on the rate exactly at the threshold", () => {
    const b = new CircuitBreakers({ ...policy, failureThreshold: 100 }, now);
    for (let i = 0; i < 5; i++) {
      b.recordSuccess(T, b.generation(T));
      b.recordFailure(T, b.generation(T));
    }
    expect(b.snapshot()[0]).toMatchObject({ windowRequests: 10, windowFailures: 5 });
    expect(b.state(T)).toBe("closed");
  });

  it("does not open when the failures are spread outside the window", () => {
    const run = (gapMs: number) => {
      const b = new CircuitBreakers({ ...policy, failureThreshold: 100 }, now);
      for (let i = 0; i < 40; i++) {
        b.recordFailure(T, b.generation(T));
        b.recordSuccess(T, b.generation(T));
        b.recordFailure(T, b.generation(T));
        clock += gapMs;
      }
      return b;
    };
    // Half a window between bursts: at most two bursts (6 results) are ever in the window together.
    const spread = run(5_000);
    expect(spread.state(T)).toBe("closed");
    expect(spread.snapshot()[0]!.windowRequests).toBeLessThan(policy.minRequests);
    // The same results packed into one window do trip it.
    expect(run(0).state(T)).toBe("open");
  });

  it("expires the whole window after a long idle gap", () => {
    const b = new CircuitBreakers({ ...policy, failureThreshold: 100 }, now);
    for (let i = 0; i < 9; i++) b.recordFailure(T, b.generation(T));
    clock += policy.windowMs;
    expect(b.snapshot()[0]).toMatchObject({ windowRequests: 0, windowFailures: 0 });
    b.recordFailure(T, b.generation(T));
    expect(b.state(T)).toBe("closed");
  });
});

describe("CircuitBreakers: open and half-open", () => {
  it("refuses until the cooldown has passed, then becomes half-open in allow()", () => {
    const b = new CircuitBreakers(policy, now);
    openBreaker(b);
    clock += policy.cooldownMs - 1;
    expect(b.allow(T)).toBe(false);
    expect(b.state(T)).toBe("open");
    clock += 1;
    expect(b.allow(T)).toBe(true);
    expect(b.state(T)).toBe("half_open");
  });

  it("lets exactly one probe through per probeIntervalMs", () => {
    const b = new CircuitBreakers(policy, now);
    openBreaker(b);
    clock += policy.cooldownMs;
    const results: boolean[] = [];
    for (let i = 0; i < 10; i++) {
      results.push(b.allow(T));
      clock += 90;
    }
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(results[0]).toBe(true);
    clock += 100; // now 1 s after the first probe
    expect(b.allow(T)).toBe(true);
    expect(b.allow(T)).toBe(false);
  });

  it("takes back a probe that never went out, so the next call's probe starts at once", () => {
    const b = new CircuitBreakers(policy, now);
    openBreaker(b);
    clock += policy.cooldownMs;
    const probe = b.admit(T);
    expect(probe).toBeDefined();
    expect(b.admit(T)).toBeUndefined();
    clock += 10;
    b.release(T, probe!);
    expect(b.state(T)).toBe("half_open");
    expect(b.waitMs(T)).toBe(0);
    const next = b.admit(T);
    expect(next).toBe(probe);
    // The probe that did go out still decides, and holds the interval as before.
    expect(b.admit(T)).toBeUndefined();
    b.recordSuccess(T, next!);
    expect(b.state(T)).toBe("closed");
  });

  it("ignores a release from a generation that has passed, and a closed breaker's", () => {
    const b = new CircuitBreakers(policy, now);
    const closed = b.admit(T)!;
    b.release(T, closed);
    openBreaker(b);
    clock += policy.cooldownMs;
    const probe = b.admit(T)!;
    b.recordFailure(T, probe); // open again, a new generation
    clock += policy.cooldownMs;
    const second = b.admit(T)!;
    b.release(T, probe);
    expect(b.admit(T)).toBeUndefined(); // the second probe is still out
    expect(second).not.toBe(probe);
  });

  it("closes on a successful probe and clears counters and the window", () => {
    const b = new CircuitBreakers(policy, now);
    openBreaker(b);
    clock += policy.cooldownMs;
    expect(b.allow(T)).toBe(true);
    b.recordSuccess(T, b.generation(T));
    expect(b.state(T)).toBe("closed");
    expect(b.snapshot()[0]).toEqual({
      target: T,
      state: "closed",
      consecutiveFailures: 0,
      windowRequests: 0,
      windowFailures: 0,
      openedAt: null,
    });
    expect(b.allow(T)).toBe(true);
    expect(b.allow(T)).toBe(true);
  });

  it("reopens with a fresh cooldown on a failed probe", () => {
    const b = new CircuitBreakers(policy, now);
    openBreaker(b);
    clock += policy.cooldownMs;
    expect(b.allow(T)).toBe(true);
    clock += 200;
    b.recordFailure(T, b.generation(T));
    expect(b.state(T)).toBe("open");
    expect(b.snapshot()[0]!.openedAt).toBe(clock);
    clock += policy.cooldownMs - 1;
    expect(b.allow(T)).toBe(false);
    clock += 1;
    expect(b.allow(T)).toBe(true);
    expect(b.state(T)).toBe("half_open");
  });

  it("is decided by its probe: a late failure from an attempt admitted before it opened does not reopen it", () => {
    const b = new CircuitBreakers(policy, now);
    const straggler = b.admit(T)!; // a slow attempt, started while closed
    openBreaker(b);
    clock += policy.cooldownMs;
    const probe = b.admit(T);
    expect(probe).toBeDefined();
    expect(b.state(T)).toBe("half_open");
    b.recordFailure(T, straggler);
    expect(b.state(T)).toBe("half_open");
    expect(b.allow(T)).toBe(false); // the probe is still under way
    b.recordSuccess(T, probe!);
    expect(b.state(T)).toBe("closed");
  });

  it("is not closed by a late success from before it opened, and its probe's failure still reopens it", () => {
    const b = new CircuitBreakers(policy, now);
    const straggler = b.admit(T)!;
    openBreaker(b);
    clock += policy.cooldownMs;
    const probe = b.admit(T)!;
    b.recordSuccess(T, straggler);
    expect(b.state(T)).toBe("half_open");
    clock += 10;
    b.recordFailure(T, probe);
    expect(b.state(T)).toBe("open");
    expect(b.snapshot()[0]!.openedAt).toBe(clock);
  });

  it("does not count a result from before it closed again against the closed breaker", () => {
    const b = new CircuitBreakers({ ...policy, failureThreshold: 1 }, now);
    const stale = b.admit(T)!;
    b.recordFailure(T, b.admit(T)!);
    clock += policy.cooldownMs;
    b.recordSuccess(T, b.admit(T)!);
    expect(b.state(T)).toBe("closed");
    b.recordFailure(T, stale);
    expect(b.state(T)).toBe("closed");
    expect(b.snapshot()[0]).toMatchObject({ consecutiveFailures: 0, windowRequests: 0, windowFailures: 0 });
  });

  it("reads as half-open once the cooldown has passed, with no call needed, and still admits the probe", () => {
    const seen: BreakerTransition[] = [];
    const b = new CircuitBreakers(policy, now, (t) => seen.push(t));
    openBreaker(b);
    clock += policy.cooldownMs - 1;
    expect(b.state(T)).toBe("open");
    expect(b.snapshot()[0]!.state).toBe("open");
    clock += 1;
    expect(b.snapshot()[0]!.state).toBe("half_open");
    expect(b.state(T)).toBe("half_open");
    expect(seen.map((t) => t.to)).toEqual(["open", "half_open"]);
    expect(b.allow(T)).toBe(true);
    expect(b.allow(T)).toBe(false);
    expect(seen.map((t) => t.to)).toEqual(["open", "half_open"]);
  });

  it("says how long until it lets an attempt through", () => {
    const b = new CircuitBreakers(policy, now);
    expect(b.waitMs(T)).toBe(0);
    openBreaker(b);
    expect(b.waitMs(T)).toBe(policy.cooldownMs);
    clock += 1_234;
    expect(b.waitMs(T)).toBe(policy.cooldownMs - 1_234);
    clock += policy.cooldownMs;
    expect(b.waitMs(T)).toBe(0);
    expect(b.allow(T)).toBe(true);
    clock += 300;
    expect(b.waitMs(T)).toBe(policy.probeIntervalMs - 300);
    expect(b.state(T)).toBe("half_open");
  });

  it("ignores late failures while open: the cooldown is not extended", () => {
    const b = new CircuitBreakers(policy, now);
    const late = b.admit(T)!;
    openBreaker(b);
    const openedAt = clock;
    clock += 1_000;
    b.recordFailure(T, late);
    b.recordFailure(T, b.generation(T));
    expect(b.snapshot()[0]!.openedAt).toBe(openedAt);
    clock = openedAt + policy.cooldownMs;
    expect(b.allow(T)).toBe(true);
  });

  it("reports each transition in order", () => {
    const seen: BreakerTransition[] = [];
    const b = new CircuitBreakers(policy, now, (t) => seen.push(t));
    const t0 = clock;
    openBreaker(b);
    clock += policy.cooldownMs;
    b.allow(T);
    b.recordFailure(T, b.generation(T));
    clock += policy.cooldownMs;
    b.allow(T);
    b.recordSuccess(T, b.generation(T));
    expect(seen).toEqual([
      { target: T, from: "closed", to: "open", at: t0 },
      { target: T, from: "open", to: "half_open", at: t0 + 5_000 },
      { target: T, from: "half_open", to: "open", at: t0 + 5_000 },
      { target: T, from: "open", to: "half_open", at: t0 + 10_000 },
      { target: T, from: "half_open", to: "closed", at: t0 + 10_000 },
    ]);
  });

  it("survives a throwing transition listener", () => {
    const b = new CircuitBreakers(policy, now, () => {
      throw new Error("telemetry down");
    });
    expect(() => openBreaker(b)).not.toThrow();
    expect(b.state(T)).toBe("open");
  });
});

describe("CircuitBreakers: policy", () => {
  it("has the documented defaults in the configuration", () => {
    const { config } = resolveConfig({ providers: { a: { type: "mock" } }, models: [{ id: "a/m" }] }, "test", {});
    expect(config.breaker satisfies BreakerPolicy).toEqual({
      failureThreshold: 5,
      errorRateThreshold: 0.5,
      windowMs: 30_000,
      minRequests: 20,
      cooldownMs: 30_000,
      probeIntervalMs: 1_000,
    });
  });

  it("rejects an invalid policy as misconfigured", () => {
    for (const bad of [{ failureThreshold: 0 }, { errorRateThreshold: 1.5 }, { windowMs: 0 }, { minRequests: -1 }, { cooldownMs: Number.NaN }]) {
      expect(() => new CircuitBreakers({ ...policy, ...bad }, now)).toThrow(AirlockError);
      expect(() => new CircuitBreakers({ ...policy, ...bad }, now)).toThrow(expect.objectContaining({ code: "misconfigured" }));
    }
  });
});

describe("CircuitBreakers: properties", () => {
  type Op = { kind: "advance"; ms: number } | { kind: "allow" } | { kind: "success" } | { kind: "failure" };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 7_000 }) }),
    fc.constant({ kind: "allow" as const }),
    fc.constant({ kind: "success" as const }),
    fc.constant({ kind: "failure" as const }),
  );

  it("admits at most one half-open probe per probeIntervalMs and stays in a valid state", () => {
    // Guards against a vacuous pass: the generated runs must actually admit and refuse probes.
    let probes = 0;
    let refusedWhileHalfOpen = 0;
    fc.assert(
      // "large" because fast-check's default size yields ~5 ops, too few to ever reach half-open.
      fc.property(fc.array(op, { maxLength: 300, size: "large" }), fc.constantFrom("a", "b"), (ops, target) => {
        let t = 0;
        const b = new CircuitBreakers(policy, () => t);
        const probeTimes: number[] = [];
        for (const o of ops) {
          if (o.kind === "advance") t += o.ms;
          else if (o.kind === "allow") {
            const ok = b.allow(target);
            if (b.state(target) === "half_open") {
              if (ok) probeTimes.push(t);
              else refusedWhileHalfOpen++;
            }
          } else if (o.kind === "success") b.recordSuccess(target, b.generation(target));
          else b.recordFailure(target, b.generation(target));
          expect(["closed", "open", "half_open"]).toContain(b.state(target));
        }
        probes += probeTimes.length;
        // Any span of probeIntervalMs holds at most one admission iff consecutive ones are ≥ the interval apart.
        for (let i = 1; i < probeTimes.length; i++) {
          expect(probeTimes[i]! - probeTimes[i - 1]!).toBeGreaterThanOrEqual(policy.probeIntervalMs);
        }
      }),
      { numRuns: 300 },
    );
    expect(probes).toBeGreaterThan(0);
    expect(refusedWhileHalfOpen).toBeGreaterThan(0);
  });
});
