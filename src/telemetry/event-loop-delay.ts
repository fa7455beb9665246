import { createHistogram, performance, type RecordableHistogram } from "node:perf_hooks";
import { Gauge, type Registry } from "prom-client";

type Summary = Record<"min" | "max" | "mean" | "stddev" | "p50" | "p90" | "p99", number>;

/** Each figure of a summary, with the gauge prom-client's default metrics report it as, and how workers' values combine. */
const SUMMARY_GAUGES: ReadonlyArray<{ figure: keyof Summary; name: string; help: string; aggregator: "min" | "max" | "average" }> = [
  { figure: "min", name: "nodejs_eventloop_lag_min_seconds", help: "The least delay of a timer sampling the event loop since the last scrape.", aggregator: "min" },
  { figure: "max", name: "nodejs_eventloop_lag_max_seconds", help: "The greatest delay of a timer sampling the event loop since the last scrape.", aggregator: "max" },
  { figure: "mean", name: "nodejs_eventloop_lag_mean_seconds", help: "The mean delay of a timer sampling the event loop since the last scrape.", aggregator: "average" },
  { figure: "stddev", name: "nodejs_eventloop_lag_stddev_seconds", help: "The standard deviation of the event loop's sampled delays since the last scrape.", aggregator: "average" },
  { figure: "p50", name: "nodejs_eventloop_lag_p50_seconds", help: "The median of the event loop's sampled delays since the last scrape.", aggregator: "average" },
  { figure: "p90", name: "nodejs_eventloop_lag_p90_seconds", help: "The 90th percentile of the event loop's sampled delays since the last scrape.", aggregator: "average" },
  { figure: "p99", name: "nodejs_eventloop_lag_p99_seconds", help: "The 99th percentile of the event loop's sampled delays since the last scrape.", aggregator: "average" },
];

const LAG_GAUGE = "nodejs_eventloop_lag_seconds";

/** The names prom-client's default metrics give event-loop delay, kept so that existing dashboards read these. */
export const EVENT_LOOP_METRICS: readonly string[] = [LAG_GAUGE, ...SUMMARY_GAUGES.map((g) => g.name)];

/**
 * Between two samples while the loop is busy: a stall shorter than this may fall between them and go
 * unseen. prom-client's default of 10 ms woke an idle gateway 100 times a second, about 1% of a core
 * doing nothing.
 */
const SAMPLE_INTERVAL_MS = 100;

/**
 * Between two samples while the loop is mostly at rest. Each sample that finds nothing else to do
 * wakes the process for itself, about 0.15–0.25 ms of CPU on a virtual machine: ten a second were a
 * fifth of an idle gateway's CPU, and about 90 µs of each call at 19 calls a second
 * (docs/performance-findings.md#wake-ups-at-low-rates). A loop at rest has no delay to show.
 */
const QUIET_SAMPLE_INTERVAL_MS = 1_000;

/** The share of an interval the loop must have been busy for the next sample to come at the busy pace. */
const BUSY_UTILIZATION = 0.1;

/** How busy the event loop was since the last call, as a share of the time (Node's event-loop utilization). */
function utilizationSinceLastCall(): () => number {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const { utilization } = performance.eventLoopUtilization(now, last);
    last = now;
    return utilization;
  };
}

/**
 * How late the event loop runs a timer that samples it: a sample is the time past the moment the timer
 * was due. Node's `monitorEventLoopDelay` (what prom-client's default metrics report) records the time
 * between two of its ticks instead, which includes the interval (a loop at rest sampled every 100 ms
 * showed 100 ms of lag), and after each reset, as at every scrape, it drops its first tick, so a stall
 * right after a scrape went unseen.
 *
 * The next sample comes `SAMPLE_INTERVAL_MS` later when the loop was busy for at least
 * `BUSY_UTILIZATION` of the last interval, and `QUIET_SAMPLE_INTERVAL_MS` later otherwise. A stall
 * makes its interval busy, so the samples after it come at the busy pace; a stall in a loop otherwise
 * at rest is seen when a sample falls due within it.
 */
export class EventLoopDelay {
  private readonly histogram: RecordableHistogram = createHistogram();
  private timer: NodeJS.Timeout | undefined;
  private due = 0;

  private readonly now: () => number;
  private readonly utilization: () => number;

  /** `now` and `utilization` stand in for the clock and Node's utilization reading (tests). */
  constructor(sources: { now?: () => number; utilization?: () => number } = {}) {
    this.now = sources.now ?? (() => performance.now());
    this.utilization = sources.utilization ?? utilizationSinceLastCall();
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.utilization(); // the first interval is measured from here
    this.schedule(this.now(), SAMPLE_INTERVAL_MS);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Records how late this sample is, and sets the next. Run by the timer. */
  readonly sample = (): void => {
    // Timers run on whole milliseconds, so one can run a little before `due`; a histogram takes at least 1 ns.
    const now = this.now();
    this.histogram.record(Math.max(1, Math.round((now - this.due) * 1e6)));
    if (this.timer === undefined) return; // stopped
    this.schedule(now, this.utilization() >= BUSY_UTILIZATION ? SAMPLE_INTERVAL_MS : QUIET_SAMPLE_INTERVAL_MS);
  };

  private schedule(now: number, inMs: number): void {
    this.due = now + inMs;
    clearTimeout(this.timer); // run early by hand (tests): the one it replaces never fires
    this.timer = setTimeout(this.sample, inMs);
    this.timer.unref();
  }

  /** The samples since the last `reset`, in seconds. Without any, every figure is 0. */
  summary(): Summary {
    const h = this.histogram;
    if (h.count === 0) return { min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 };
    const seconds = (ns: number) => ns / 1e9;
    return {
      min: seconds(h.min),
      max: seconds(h.max),
      mean: seconds(h.mean),
      stddev: seconds(h.stddev),
      p50: seconds(h.percentile(50)),
      p90: seconds(h.percentile(90)),
      p99: seconds(h.percentile(99)),
    };
  }

  reset(): void {
    this.histogram.reset();
  }
}

/**
 * Registers the event-loop gauges, read from `delay` at each scrape (and reset, as prom-client does).
 * `nodejs_eventloop_lag_seconds` is, as in prom-client, the time a `setImmediate` sent at the scrape
 * took to run, reported at the next scrape.
 */
export function registerEventLoopDelay(registry: Registry, delay: EventLoopDelay): void {
  const registers = [registry];
  // Registered first, so that the registry reads the summary's gauges after this one's collect sets them.
  new Gauge({
    name: LAG_GAUGE,
    help: "Lag of event loop in seconds.",
    registers,
    aggregator: "average",
    collect() {
      const sentAt = performance.now();
      setImmediate(() => this.set((performance.now() - sentAt) / 1000));
      const summary = delay.summary();
      for (const { figure, gauge } of summaryGauges) gauge.set(summary[figure]);
      delay.reset();
    },
  });
  const summaryGauges = SUMMARY_GAUGES.map(({ figure, name, help, aggregator }) => ({ figure, gauge: new Gauge({ name, help, registers, aggregator }) }));
}
