import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AirlockError } from "../core/errors.js";
import { ProviderError, providerErrorFromResponse } from "../providers/errors.js";
import { backoffDelay, decideRetry, failureReason, type RetryPolicy } from "./retry.js";

const policy: RetryPolicy = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 2_000, maxRetryAfterMs: 60_000 };
const http = (status: number, retryAfterMs?: number) => new ProviderError("x", { kind: "http", provider: "p", status, retryAfterMs });

describe("backoffDelay", () => {
  it("never exceeds the cap and never goes below 0", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 120_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, base, cap, r) => {
        const delay = backoffDelay(attempt, { baseDelayMs: base, maxDelayMs: cap }, () => r);
        const ceiling = Math.min(cap, base * 2 ** attempt);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(Number.isInteger(delay)).toBe(true);
        // Full jitter draws from [0, ceiling): the ceiling itself is never reached unless it is 0.
        if (ceiling === 0) expect(delay).toBe(0);
        else expect(delay).toBeLessThan(ceiling);
      }),
    );
  });
});

describe("decideRetry", () => {
  it("retries 408, 409, 429 and 5xx with backoff", () => {
    for (const status of [408, 409, 429, 500, 502, 503, 529]) {
      expect(decideRetry(http(status), 1, policy, () => 0.5)).toEqual({ action: "retry", delayMs: 50 });
    }
  });

  it("waits exactly what Retry-After asks, within the cap", () => {
    expect(decideRetry(http(429, 2_000), 1, policy)).toEqual({ action: "retry", delayMs: 2_000 });
  });

  it("moves to the next candidate when Retry-After is over the cap", () => {
    expect(decideRetry(http(429, 120_000), 1, policy)).toEqual({ action: "fallback" });
  });

  it("falls back once a candidate has used its attempts", () => {
    expect(decideRetry(http(503), 3, policy)).toEqual({ action: "fallback" });
  });

  it("stops on a plain 4xx: the request itself is wrong", () => {
    expect(decideRetry(http(400), 1, policy)).toEqual({ action: "stop" });
    expect(decideRetry(http(422), 1, policy)).toEqual({ action: "stop" });
  });

  it("falls back without retrying when the provider refuses the key or the prompt is over the model's window", () => {
    expect(decideRetry(http(401), 1, policy)).toEqual({ action: "fallback" });
    const tooLong = new ProviderError("too long", { kind: "http", provider: "p", status: 400, contextTooLong: true });
    expect(decideRetry(tooLong, 1, policy)).toEqual({ action: "fallback" });
    expect(failureReason(http(401))).toBe("credentials_refused");
    expect(failureReason(tooLong)).toBe("context_length_exceeded");
  });

  it("falls back without retrying when the model is missing upstream", () => {
    const missing = new ProviderError("model not found", { kind: "http", provider: "p", status: 404, fallbackable: true });
    expect(decideRetry(missing, 1, policy)).toEqual({ action: "fallback" });
  });

  it("falls back at once from an account out of credit (OpenAI's 429 insufficient_quota), which no wait mends", () => {
    const outOfCredit = providerErrorFromResponse("openai", 429, {}, JSON.stringify({ error: { message: "You exceeded your current quota", type: "insufficient_quota", code: "insufficient_quota" } }));
    expect(decideRetry(outOfCredit, 1, policy)).toEqual({ action: "fallback" });
    expect(failureReason(outOfCredit)).toBe("insufficient_quota");
  });

  it("retries connection failures and falls back past a disabled target", () => {
    expect(decideRetry(new ProviderError("reset", { kind: "connection", provider: "p" }), 1, policy, () => 0).action).toBe("retry");
    expect(decideRetry(new AirlockError("disabled", "off"), 1, policy)).toEqual({ action: "fallback" });
  });

  it("names each failure with a bounded reason", () => {
    expect([429, 503, 400].map((s) => failureReason(http(s)))).toEqual(["rate_limited", "server_error", "client_error"]);
    // Retried and then fallen back from like a 5xx, but not a missing model.
    expect([408, 409].map((s) => failureReason(http(s)))).toEqual(["timeout", "conflict"]);
  });
});
