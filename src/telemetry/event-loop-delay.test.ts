import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { metricSample } from "../../test/support/metrics-text.js";
import { EventLoopDelay } from "./event-loop-delay.js";
import { Metrics } from "./metrics.js";

/** Holds the event loop, as a synchronous computation would. */
function holdLoop(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe("EventLoopDelay", () => {
  it("records how late each sample ran against when it was due", () => {
    let now = 1_000;
    const busy = () => 1;
    const delay = new EventLoopDelay({ now: () => now, utilization: busy });
    delay.start(); // due at 1,100
    try {
      now = 1_103;
      delay.sample(); // 3 ms late; the next is due at 1,203
      now = 1_210;
      delay.sample(); // 7 ms late
      now = 1_310;
      delay.sample(); // on time
    } finally {
      delay.stop();
    }
    const s = delay.summary();
    expect(s.min).toBeLessThan(0.000_01);
    expect(s.max).toBeCloseTo(0.007, 4);
    expect(s.p50).toBeCloseTo(0.003, 4);
    delay.reset();
    expect(delay.summary()).toEqual({ min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 });
  });

  it("samples every 100 ms after an interval in which the loop was busy for a tenth of the time or more, and once a second after one at rest", () => {
    let now = 0;
    // What the loop's utilization reads: at start(), which opens the first interval, then at each sample.
    const busyShares = [0, 0.5, 0.1, 0.09, 0, 0.2];
    const delay = new EventLoopDelay({ now: () => now, utilization: () => busyShares.shift()! });
    delay.start(); // due at 100
    try {
      // Each sample runs 5 ms after the moment this test expects it due (the next counts from when the
      // last one ran: 105 + 100, 210 + 100, 315 + 1,000, ...); had it been due at another, it would read otherwise.
      for (const due of [100, 205, 310, 1_315, 2_320, 2_425]) {
        now = due + 5;
        delay.sample();
      }
    } finally {
      delay.stop();
    }
    const s = delay.summary();
    expect(s.min).toBeCloseTo(0.005, 5);
    expect(s.max).toBeCloseTo(0.005, 5);
  });

  it("reports a loop at rest as barely late, not as late as its sampling interval, and shows a held loop", async () => {
    const metrics = new Metrics({ processMetrics: true });
    try {
      await sleep(500);
      const atRest = await metrics.text();
      // Node's monitorEventLoopDelay would report the interval itself here: 0.1 s or more.
      expect(metricSample(atRest, "nodejs_eventloop_lag_p50_seconds")).toBeLessThan(0.05);
      expect(metricSample(atRest, "nodejs_eventloop_lag_max_seconds")).toBeGreaterThan(0);

      // Straight after a scrape, whose reset made Node's own histogram drop the next sample. The loop
      // was at rest, so samples come once a second: one falls due within a hold of 1.2 s.
      holdLoop(1_200); // and runs at least 200 ms late
      await sleep(20);
      const held = await metrics.text();
      expect(metricSample(held, "nodejs_eventloop_lag_max_seconds")).toBeGreaterThanOrEqual(0.2);
      // The setImmediate probe of the scrape before this one.
      expect(metricSample(held, "nodejs_eventloop_lag_seconds")).toBeGreaterThan(0);
    } finally {
      metrics.close();
    }
  });

  it("leaves the other process metrics in place", async () => {
    const metrics = new Metrics({ processMetrics: true });
    try {
      const text = await metrics.text();
      expect(text).toContain("process_cpu_user_seconds_total");
      expect(text).toContain("nodejs_heap_size_used_bytes");
      expect(text.match(/^# TYPE nodejs_eventloop_lag_p99_seconds gauge$/gm)).toHaveLength(1);
    } finally {
      metrics.close();
    }
  });
});
