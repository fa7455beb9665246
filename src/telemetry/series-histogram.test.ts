import { AggregatorRegistry, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { SeriesHistogram } from "./series-histogram.js";

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const NAME = "airlock_request_duration_seconds";
const HELP = "Time from request to last byte, by endpoint and model";

/** The same observations into prom-client's own histogram and into a SeriesHistogram, each in its own registry. */
function both(observations: Array<{ endpoint: string; model: string; value: number }>) {
  const theirs = new Registry();
  const ours = new Registry();
  const reference = new Histogram({ name: NAME, help: HELP, labelNames: ["endpoint", "model"] as const, buckets: BUCKETS, registers: [theirs] });
  const histogram = new SeriesHistogram(NAME, HELP, ["endpoint", "model"], BUCKETS, ours);
  for (const { endpoint, model, value } of observations) {
    reference.labels({ endpoint, model }).observe(value);
    histogram.seriesOf({ endpoint, model }).observe(value);
  }
  return { theirs, ours, histogram };
}

// Values on bucket bounds, between them, below the first and past the last, and a label value that needs escaping.
const OBSERVATIONS = [
  { endpoint: "chat", model: "gpt-4o-mini", value: 0.0021 },
  { endpoint: "chat", model: "gpt-4o-mini", value: 0.005 },
  { endpoint: "chat", model: "gpt-4o-mini", value: 0.3 },
  { endpoint: "chat", model: "gpt-4o-mini", value: 61 },
  { endpoint: "embeddings", model: "gpt-4o-mini", value: 1 },
  { endpoint: "chat", model: 'we"ird\\model', value: 0.04 },
  { endpoint: "chat", model: "gpt-4o-mini", value: 0.1 },
];

describe("SeriesHistogram", () => {
  it("prints exactly what prom-client's histogram prints for the same observations", async () => {
    const { theirs, ours } = both(OBSERVATIONS);
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain(`${NAME}_bucket{le="0.005",endpoint="chat",model="gpt-4o-mini"} 2`);
    expect(text).toContain(`${NAME}_bucket{le="+Inf",endpoint="chat",model="gpt-4o-mini"} 5`);
    expect(text).toContain(`${NAME}_count{endpoint="embeddings",model="gpt-4o-mini"} 1`);
  });

  it("is summed across workers as prom-client's histogram is", async () => {
    const first = both(OBSERVATIONS);
    const second = both(OBSERVATIONS.slice(2).map((o) => ({ ...o, value: o.value * 3 })));
    const theirs = AggregatorRegistry.aggregate([await first.theirs.getMetricsAsJSON(), await second.theirs.getMetricsAsJSON()]);
    const ours = AggregatorRegistry.aggregate([await first.ours.getMetricsAsJSON(), await second.ours.getMetricsAsJSON()]);
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain(`${NAME}_count{endpoint="chat",model="gpt-4o-mini"} 8`);
  });

  it("leaves out a value that is not a finite number, where prom-client would throw", async () => {
    const { ours, histogram } = both([{ endpoint: "chat", model: "m", value: 0.2 }]);
    histogram.seriesOf({ endpoint: "chat", model: "m" }).observe(Number.NaN);
    histogram.seriesOf({ endpoint: "chat", model: "m" }).observe(Number.POSITIVE_INFINITY);
    const text = await ours.metrics();
    expect(text).toContain(`${NAME}_count{endpoint="chat",model="m"} 1`);
    expect(text).toContain(`${NAME}_sum{endpoint="chat",model="m"} 0.2`);
  });

  it("hands out one series per label set, shown from its first observation and again after a reset, as prom-client's children are", async () => {
    const { theirs, ours, histogram } = both([]);
    const reference = theirs.getSingleMetric(NAME) as Histogram<"endpoint" | "model">;
    const series = histogram.seriesOf({ endpoint: "chat", model: "m" });
    const child = reference.labels({ endpoint: "chat", model: "m" });
    expect(histogram.seriesOf({ endpoint: "chat", model: "m" })).toBe(series);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).not.toContain(`${NAME}_count`);
    series.observe(0.2);
    child.observe(0.2);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    ours.resetMetrics();
    theirs.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).not.toContain(`${NAME}_count`);
    series.observe(0.3);
    child.observe(0.3);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain(`${NAME}_count{endpoint="chat",model="m"} 1`);
  });
});
