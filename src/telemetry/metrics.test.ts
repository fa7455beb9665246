import { describe, expect, it } from "vitest";
import { metricSample } from "../../test/support/metrics-text.js";
import { Metrics, type ObservedCall } from "./metrics.js";

const call = (overrides: Partial<ObservedCall> = {}): ObservedCall => ({
  endpoint: "chat",
  operation: "support",
  model: "gpt-4o-mini",
  outcome: "success",
  latencySeconds: 0.2,
  usage: { inputTokens: 100, outputTokens: 40, cachedInputTokens: 0, reasoningTokens: 8 },
  costUnits: 250_000_000_000n,
  ...overrides,
});

describe("Metrics.observeCall", () => {
  it("shows each call's counts at the next read, and a read never counts a call twice", async () => {
    const metrics = new Metrics();
    metrics.observeCall(call());
    metrics.observeCall(call({ outcome: "error", errorCode: "provider_error", usage: undefined, costUnits: undefined }));

    let text = await metrics.text();
    expect(metricSample(text, "airlock_requests_total", 'endpoint="chat",operation="support",model="gpt-4o-mini",outcome="success"')).toBe(1);
    expect(metricSample(text, "airlock_requests_total", 'endpoint="chat",operation="support",model="gpt-4o-mini",outcome="error"')).toBe(1);
    expect(metricSample(text, "airlock_requests_total", 'endpoint="chat",operation="support",model="gpt-4o-mini",outcome="refused"')).toBeUndefined();
    expect(metricSample(text, "airlock_tokens_total", 'model="gpt-4o-mini",operation="support",type="input"')).toBe(100);
    expect(metricSample(text, "airlock_tokens_total", 'model="gpt-4o-mini",operation="support",type="reasoning"')).toBe(8);
    // Observed at zero, so the series exists at zero.
    expect(metricSample(text, "airlock_tokens_total", 'model="gpt-4o-mini",operation="support",type="cached_input"')).toBe(0);
    expect(metricSample(text, "airlock_cost_usd_total", 'model="gpt-4o-mini",operation="support"')).toBe(0.25);
    expect(metricSample(text, "airlock_errors_total", 'code="provider_error"')).toBe(1);
    // No call streamed, so no model has a time to first token.
    expect(text).not.toContain("airlock_time_to_first_token_seconds_count");

    expect(await metrics.text()).toBe(text);

    metrics.observeCall(call({ usage: { inputTokens: 50, outputTokens: 10, cachedInputTokens: 20, reasoningTokens: 0 }, costUnits: 500_000_000_000n }));
    metrics.observeCall(call({ model: "claude-haiku", outcome: "refused", usage: undefined, costUnits: undefined }));
    text = await metrics.text();
    expect(metricSample(text, "airlock_requests_total", 'endpoint="chat",operation="support",model="gpt-4o-mini",outcome="success"')).toBe(2);
    expect(metricSample(text, "airlock_requests_total", 'endpoint="chat",operation="support",model="claude-haiku",outcome="refused"')).toBe(1);
    expect(metricSample(text, "airlock_tokens_total", 'model="gpt-4o-mini",operation="support",type="input"')).toBe(150);
    expect(metricSample(text, "airlock_tokens_total", 'model="gpt-4o-mini",operation="support",type="cached_input"')).toBe(20);
    expect(metricSample(text, "airlock_cost_usd_total", 'model="gpt-4o-mini",operation="support"')).toBe(0.75);
    expect(metricSample(text, "airlock_request_duration_seconds_count", 'endpoint="chat",model="gpt-4o-mini"')).toBe(3);

    metrics.observeCall(call({ ttftSeconds: 0.03 }));
    text = await metrics.text();
    expect(metricSample(text, "airlock_time_to_first_token_seconds_count", 'model="gpt-4o-mini"')).toBe(1);
    expect(metricSample(text, "airlock_time_to_first_token_seconds_bucket", 'le="0.05",model="gpt-4o-mini"')).toBe(1);
    expect(metricSample(text, "airlock_time_to_first_token_seconds_bucket", 'le="0.025",model="gpt-4o-mini"')).toBe(0);
    expect(text).not.toContain('airlock_time_to_first_token_seconds_count{model="claude-haiku"}');
  });

  it("skips a count that is not a finite, non-negative number instead of failing every later read", async () => {
    const metrics = new Metrics();
    metrics.observeCall(call({ costUnits: -1n, usage: { inputTokens: -1, outputTokens: 5, cachedInputTokens: 0, reasoningTokens: 0 } }));
    const text = await metrics.text();
    expect(metricSample(text, "airlock_requests_total", 'endpoint="chat",operation="support",model="gpt-4o-mini",outcome="success"')).toBe(1);
    expect(metricSample(text, "airlock_tokens_total", 'model="gpt-4o-mini",operation="support",type="output"')).toBe(5);
    expect(metricSample(text, "airlock_tokens_total", 'model="gpt-4o-mini",operation="support",type="input"')).toBeUndefined();
    expect(metricSample(text, "airlock_cost_usd_total", 'model="gpt-4o-mini",operation="support"')).toBeUndefined();
  });
});
