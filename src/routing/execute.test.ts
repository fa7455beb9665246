import { describe, expect, it } from "vitest";
import type { Clock } from "../core/clock.js";
import { AirlockError } from "../core/errors.js";
import { resolveConfig } from "../config/load.js";
import type { MockStep } from "../config/providers.js";
import { ProviderError } from "../providers/errors.js";
import { createProvider } from "../providers/registry.js";
import { CircuitBreakers } from "./breaker.js";
import { buildCatalog, type CatalogModel } from "./catalog.js";
import { executeWithFallbacks, finalError, type AttemptRecord } from "./execute.js";

/** Real mock providers, scripted; a clock that records the waits instead of sleeping through them. */
function setup(primary: MockStep[], secondary: MockStep[] = [{}], breakers?: CircuitBreakers, guard?: () => AirlockError | undefined | Promise<AirlockError | undefined>) {
  const catalog = buildCatalog(
    resolveConfig(
      {
        providers: { p: { type: "mock", script: primary }, s: { type: "mock", script: secondary } },
        models: [{ id: "p/model" }, { id: "s/model" }],
      },
      "test",
      {},
    ).config,
    createProvider,
  );
  const waits: number[] = [];
  const clock: Clock = { now: () => Date.now(), sleep: async (ms) => void waits.push(ms) };
  const candidates = [catalog.models.get("p/model")!, catalog.models.get("s/model")!];
  const attempts: AttemptRecord[] = [];
  const run = (signal = AbortSignal.timeout(5_000), attemptTimeoutMs = 5_000, deadlineAt?: number) =>
    executeWithFallbacks(
      candidates,
      (model: CatalogModel, attempt) => model.provider.chat({ model: model.upstreamId, messages: [{ role: "user", content: "hi" }] }, { signal: attempt.signal }),
      { policy: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000, maxRetryAfterMs: 60_000 }, clock, signal, attempts, attemptTimeoutMs: () => attemptTimeoutMs, deadlineAt, breakers, guard },
    );
  return { run, waits, attempts, candidates };
}

describe("executeWithFallbacks", () => {
  it("asks the guard before the first attempt too, and makes no attempt once it refuses, even when it answers later", async () => {
    let asked = 0;
    const stopped = new AirlockError("kill_switch_active", "calls are stopped");
    const passing = setup([{}], [{}], undefined, () => void asked++);
    expect((await passing.run()).model.id).toBe("p/model");
    expect(asked).toBe(1);
    const refusing = setup([{}], [{}], undefined, () => Promise.resolve(stopped));
    await expect(refusing.run()).rejects.toBe(stopped);
    expect(refusing.attempts).toEqual([]);
  });

  it("waits what Retry-After asks before the next attempt", async () => {
    const { run, waits, attempts } = setup([{ status: 429, retryAfterSeconds: 2 }, {}]);
    const { model } = await run();
    expect(model.id).toBe("p/model");
    expect(waits).toEqual([2_000]);
    expect(attempts.map((a) => [a.outcome, a.reason ?? null, a.delayMs])).toEqual([
      ["error", "rate_limited", 0],
      ["success", null, 2_000],
    ]);
  });

  it("skips straight to the next candidate when Retry-After is over the cap", async () => {
    const { run, waits, attempts } = setup([{ status: 429, retryAfterSeconds: 120 }]);
    const { model } = await run();
    expect(model.id).toBe("s/model");
    expect(waits).toEqual([]);
    expect(attempts.map((a) => a.model)).toEqual(["p/model", "s/model"]);
  });

  it("moves to the next candidate at once when Retry-After would end past the call's deadline", async () => {
    const { run, waits, attempts } = setup([{ status: 429, retryAfterSeconds: 10 }, {}]);
    const { model } = await run(AbortSignal.timeout(5_000), 5_000, Date.now() + 3_000);
    expect(model.id).toBe("s/model");
    expect(waits).toEqual([]);
    expect(attempts.map((a) => [a.model, a.reason ?? null, a.delayMs])).toEqual([
      ["p/model", "rate_limited", 0],
      ["s/model", null, 0],
    ]);
  });

  it("still waits a Retry-After that ends before the call's deadline", async () => {
    const { run, waits } = setup([{ status: 429, retryAfterSeconds: 2 }, {}]);
    expect((await run(AbortSignal.timeout(5_000), 5_000, Date.now() + 3_000)).model.id).toBe("p/model");
    expect(waits).toEqual([2_000]);
  });

  it("records a wait the client cut short as long as it lasted, not as long as planned", async () => {
    const { candidates } = setup([{ status: 429, retryAfterSeconds: 10 }, {}]);
    const left = new AbortController();
    let now = 1_000;
    // The client leaves 300 ms into the 10 s wait.
    const clock: Clock = { now: () => now, sleep: async () => void ((now += 300), left.abort(new DOMException("left", "AbortError"))) };
    const attempts: AttemptRecord[] = [];
    const call = executeWithFallbacks(candidates, (model, attempt) => model.provider.chat({ model: model.upstreamId, messages: [{ role: "user", content: "hi" }] }, { signal: attempt.signal }), {
      policy: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000, maxRetryAfterMs: 60_000 },
      clock,
      signal: left.signal,
      attempts,
      attemptTimeoutMs: () => 5_000,
    });
    await expect(call).rejects.toMatchObject({ code: "client_closed" });
    expect(attempts.map((a) => a.delayMs)).toEqual([0, 300]);
  });

  it("starts no attempt and records none once the call ended while it waited (a lease, the guard): it answers client_closed", async () => {
    const left = new AbortController();
    let ran = 0;
    const { candidates, attempts } = setup([{}]);
    const call = executeWithFallbacks(
      candidates,
      async () => {
        ran++;
        return "sent";
      },
      {
        policy: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000, maxRetryAfterMs: 60_000 },
        clock: { now: () => Date.now(), sleep: async () => undefined },
        signal: left.signal,
        attempts,
        attemptTimeoutMs: () => 5_000,
        // The client leaves while the guard waits on state it must read first.
        guard: async () => void left.abort(new DOMException("left", "AbortError")),
      },
    );
    await expect(call).rejects.toMatchObject({ code: "client_closed", details: { attempts: [] } });
    expect(ran).toBe(0);
    expect(attempts).toEqual([]);
  });

  it("gives a half-open breaker's probe back when the guard stops the call it was admitted for", async () => {
    let clock = 1_000_000;
    const breakers = new CircuitBreakers({ failureThreshold: 1, errorRateThreshold: 1, windowMs: 10_000, minRequests: 1, cooldownMs: 5_000, probeIntervalMs: 60_000 }, () => clock);
    breakers.recordFailure("p/model", breakers.generation("p/model"));
    clock += 5_000;
    const stopped = new AirlockError("kill_switch_active", "calls are stopped");
    let guard: AirlockError | undefined = stopped;
    const { run, attempts } = setup([{}], [{}], breakers, () => guard);
    await expect(run()).rejects.toBe(stopped);
    expect(attempts).toEqual([]);
    // The switch goes off: the next call takes the probe at once, long before the probe interval has passed.
    guard = undefined;
    clock += 10;
    expect((await run()).model.id).toBe("p/model");
    expect(breakers.state("p/model")).toBe("closed");
  });

  it("keeps attempts per candidate within the maximum during an outage", async () => {
    const { run, attempts } = setup([{ status: 503 }]);
    const { model } = await run();
    expect(model.id).toBe("s/model");
    expect(attempts.filter((a) => a.model === "p/model")).toHaveLength(3);
  });

  it("makes exactly one attempt on a plain 400 and answers invalid_request", async () => {
    const { run, attempts } = setup([{ status: 400 }]);
    await expect(run()).rejects.toMatchObject({ code: "invalid_request" });
    expect(attempts).toHaveLength(1);
  });

  it("treats a hung attempt as a timeout and tries again", async () => {
    const { run, attempts } = setup([{ hang: true }, {}]);
    const { model } = await run(AbortSignal.timeout(5_000), 50);
    expect(model.id).toBe("p/model");
    expect(attempts.map((a) => a.reason ?? "ok")).toEqual(["timeout", "ok"]);
  });

  it("answers provider_error with every attempt when all candidates fail", async () => {
    const { run } = setup([{ status: 500 }], [{ status: 502 }]);
    const error = (await run().catch((e: unknown) => e)) as AirlockError;
    expect(error).toBeInstanceOf(AirlockError);
    expect(error.code).toBe("provider_error");
    expect((error.details?.attempts as unknown[]).length).toBe(6);
  });

  it("passes the last upstream's Retry-After on to the caller when every candidate failed", async () => {
    // Over the cap: not waited for here, but the caller may wait for it.
    const limited = (await setup([{ status: 503 }], [{ status: 429, retryAfterSeconds: 90 }]).run().catch((e: unknown) => e)) as AirlockError;
    expect(limited).toMatchObject({ code: "provider_error", retryAfterSeconds: 90, isRetryable: false });
    // Only the last failure's hint counts: here the last one gave none.
    const unsaid = (await setup([{ status: 429, retryAfterSeconds: 90 }], [{ status: 503 }]).run().catch((e: unknown) => e)) as AirlockError;
    expect(unsaid).toMatchObject({ code: "provider_error", retryAfterSeconds: undefined });
  });

  it("stops with timeout when the whole call's deadline passes", async () => {
    const { run } = setup([{ hang: true }], [{ hang: true }]);
    await expect(run(AbortSignal.timeout(50), 5_000)).rejects.toMatchObject({ code: "timeout" });
  });

  it("skips a target whose breaker is open, records circuit_open, and reports the outage as provider_error", async () => {
    const breakers = new CircuitBreakers({ failureThreshold: 1, errorRateThreshold: 0.5, windowMs: 10_000, minRequests: 100, cooldownMs: 60_000, probeIntervalMs: 1_000 }, () => Date.now());
    breakers.recordFailure("s/model", breakers.generation("s/model"));
    const { run, attempts } = setup([{ status: 404 }], [{}], breakers);
    await expect(run()).rejects.toMatchObject({ code: "provider_error" });
    expect(attempts.map((a) => [a.model, a.reason])).toEqual([
      ["p/model", "model_unavailable"],
      ["s/model", "circuit_open"],
    ]);
  });

  it("does not retry a target whose breaker other calls opened while this one waited out its Retry-After", async () => {
    const { candidates } = setup([{ status: 429, retryAfterSeconds: 2 }, {}]);
    let now = 1_000;
    const breakers = new CircuitBreakers({ failureThreshold: 3, errorRateThreshold: 0.5, windowMs: 10_000, minRequests: 100, cooldownMs: 60_000, probeIntervalMs: 1_000 }, () => now);
    // Two other calls fail on the primary during the wait; with this call's 429 they open its breaker.
    const clock: Clock = { now: () => now, sleep: async (ms) => void ((now += ms), breakers.recordFailure("p/model", breakers.generation("p/model")), breakers.recordFailure("p/model", breakers.generation("p/model"))) };
    const attempts: AttemptRecord[] = [];
    const { model } = await executeWithFallbacks(
      candidates,
      (target, attempt) => target.provider.chat({ model: target.upstreamId, messages: [{ role: "user", content: "hi" }] }, { signal: attempt.signal }),
      { policy: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000, maxRetryAfterMs: 60_000 }, clock, signal: AbortSignal.timeout(5_000), attempts, attemptTimeoutMs: () => 5_000, breakers },
    );
    expect(model.id).toBe("s/model");
    expect(attempts.map((a) => [a.model, a.reason ?? null, a.delayMs])).toEqual([
      ["p/model", "rate_limited", 0],
      ["p/model", "circuit_open", 2_000],
      ["s/model", null, 0],
    ]);
  });

  it("skips at once, without waiting, a retry of a target whose breaker its own failure opened", async () => {
    const breakers = new CircuitBreakers({ failureThreshold: 1, errorRateThreshold: 0.5, windowMs: 10_000, minRequests: 100, cooldownMs: 60_000, probeIntervalMs: 1_000 }, () => Date.now());
    const { run, waits, attempts } = setup([{ status: 429, retryAfterSeconds: 2 }, {}], [{}], breakers);
    expect((await run()).model.id).toBe("s/model");
    expect(waits).toEqual([]);
    expect(attempts.map((a) => [a.model, a.reason ?? null, a.delayMs])).toEqual([
      ["p/model", "rate_limited", 0],
      ["p/model", "circuit_open", 0],
      ["s/model", null, 0],
    ]);
  });

  it("tells the client when the first skipped candidate's breaker lets a probe through, when every candidate's breaker refuses", async () => {
    let now = 1_000_000;
    const policy = { failureThreshold: 1, errorRateThreshold: 0.5, windowMs: 10_000, minRequests: 100, cooldownMs: 30_000, probeIntervalMs: 1_000 };
    const breakers = new CircuitBreakers(policy, () => now);
    breakers.recordFailure("s/model", breakers.generation("s/model"));
    now += 4_000;
    breakers.recordFailure("p/model", breakers.generation("p/model"));
    now += 2_500; // s/model lets a probe through in 23.5 s, p/model in 27.5 s
    const { candidates } = setup([{}], [{}]);
    const attempts: AttemptRecord[] = [];
    const clock: Clock = { now: () => now, sleep: async () => undefined };
    const refused = await executeWithFallbacks(candidates, () => Promise.reject(new Error("not attempted")), {
      policy: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000, maxRetryAfterMs: 60_000 },
      clock,
      signal: AbortSignal.timeout(5_000),
      attempts,
      attemptTimeoutMs: () => 5_000,
      breakers,
    }).catch((e: unknown) => e);
    expect(attempts.map((a) => a.reason)).toEqual(["circuit_open", "circuit_open"]);
    expect(refused).toMatchObject({ code: "provider_error", retryAfterMs: 23_500, retryAfterSeconds: 24 });
  });

  it("gives no breaker wait while a candidate would take a call now", async () => {
    const breakers = new CircuitBreakers({ failureThreshold: 1, errorRateThreshold: 0.5, windowMs: 10_000, minRequests: 100, cooldownMs: 60_000, probeIntervalMs: 1_000 }, () => Date.now());
    breakers.recordFailure("s/model", breakers.generation("s/model"));
    // The primary answers 404 (its breaker stays closed); the backup is skipped.
    const { run } = setup([{ status: 404 }], [{}], breakers);
    const refused = await run().catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "provider_error", retryAfterMs: undefined, retryAfterSeconds: undefined });
  });

  it("opens a breaker on counted failures only, and closes it on success", async () => {
    const breakers = new CircuitBreakers({ failureThreshold: 2, errorRateThreshold: 0.5, windowMs: 10_000, minRequests: 100, cooldownMs: 60_000, probeIntervalMs: 1_000 }, () => Date.now());
    await setup([{ status: 400 }], [{}], breakers).run().catch(() => undefined);
    await setup([{ status: 400 }], [{}], breakers).run().catch(() => undefined);
    expect(breakers.state("p/model")).toBe("closed");
    await setup([{ status: 503 }], [{}], breakers).run();
    expect(breakers.state("p/model")).toBe("open");
  });
});

describe("finalError", () => {
  it("names the failure that ended the route where it happened, instead of saying every candidate failed", () => {
    const attempts: AttemptRecord[] = [];
    const wrongUrl = finalError(new ProviderError("Not found", { kind: "http", provider: "openai", status: 404 }), attempts);
    expect(wrongUrl).toMatchObject({ code: "provider_error", message: "openai answered HTTP 404, a failure that ends the call without trying the rest of the route" });
    const unreadable = finalError(new ProviderError("upstream answer is not JSON", { kind: "protocol", provider: "anthropic" }), attempts);
    expect(unreadable.message).toBe("anthropic sent an answer Airlock could not read, a failure that ends the call without trying the rest of the route");
    // The upstream's own words stay out of a provider_error (they may hold what the request sent).
    expect(wrongUrl.message).not.toContain("Not found");
    // Failures that move on to the next candidate still end, when the last one fails too, as every candidate failed.
    expect(finalError(new ProviderError("busy", { kind: "http", provider: "openai", status: 503 }), attempts).message).toBe("every candidate failed");
  });
});
