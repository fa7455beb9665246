import { describe, expect, it } from "vitest";
import { bucketBounds, bucketOf, quantile } from "./histogram.js";

function histogramOf(durations: number[]): Map<number, number> {
  const histogram = new Map<number, number>();
  for (const ms of durations) histogram.set(bucketOf(ms), (histogram.get(bucketOf(ms)) ?? 0) + 1);
  return histogram;
}

function exact(durations: number[], q: number): number {
  const sorted = [...durations].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

describe("latency histogram", () => {
  it("puts each duration in the bucket whose bounds hold it", () => {
    for (const ms of [0, 1, 2, 3, 7, 100, 999, 1000, 1001, 45_000, 600_000]) {
      const [low, high] = bucketBounds(bucketOf(ms));
      expect(ms <= high + 1e-9, `${ms} ≤ ${high}`).toBe(true);
      if (ms > 1) expect(ms > low - 1e-9, `${ms} > ${low}`).toBe(true);
    }
  });

  it("reads percentiles within 9% of the exact ones", () => {
    // A spread with a long tail, as real latencies have.
    const durations = Array.from({ length: 5000 }, (_, i) => Math.round(40 + ((i * 7919) % 5000) ** 1.3 / 10));
    const histogram = histogramOf(durations);
    for (const q of [0.5, 0.9, 0.95, 0.99]) {
      const estimate = quantile(histogram, q)!;
      const truth = exact(durations, q);
      expect(Math.abs(estimate - truth) / truth, `p${q * 100}: ${estimate} vs ${truth}`).toBeLessThanOrEqual(0.09);
    }
  });

  it("is undefined for no calls, and the one value's bucket for one call", () => {
    expect(quantile(new Map(), 0.5)).toBeUndefined();
    const one = quantile(histogramOf([250]), 0.95)!;
    expect(Math.abs(one - 250) / 250).toBeLessThanOrEqual(0.09);
  });
});
