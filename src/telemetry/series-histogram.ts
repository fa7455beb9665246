import type { Metric, Registry } from "prom-client";

/** A sample as prom-client's registries read it from a histogram (`get()`), to print or to sum across workers. */
interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * One labelled series of a SeriesHistogram: counts per bucket (not yet cumulative), sum and count.
 * `observe` is a bucket search and three additions.
 */
export class HistogramSeries {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    // prom-client throws here, and a call must not fail for its metric: the value is left out instead.
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let bucket = 0;
    while (bucket < bounds.length && value > bounds[bucket]!) bucket++;
    if (bucket < bounds.length) this.counts[bucket]!++;
    this.sum += value;
    this.count++;
  }

  /** The series' samples, as prom-client's own histogram gives them: cumulative buckets, `+Inf`, sum and count. */
  samples(name: string, out: Sample[]): void {
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i]!;
      out.push({ metricName: `${name}_bucket`, labels: { le: this.bounds[i]!, ...this.labels }, value: cumulative });
    }
    out.push({ metricName: `${name}_bucket`, labels: { le: "+Inf", ...this.labels }, value: this.count });
    out.push({ metricName: `${name}_sum`, labels: { ...this.labels }, value: this.sum });
    out.push({ metricName: `${name}_count`, labels: { ...this.labels }, value: this.count });
  }

  get observed(): boolean {
    return this.count > 0;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/**
 * A Prometheus histogram whose series are handles: the caller keeps the series of a label set and
 * observes into it. prom-client's histogram hashes the label object on every observation, labelled
 * child or not (about a microsecond a call, for the two histograms every call feeds). This one reads
 * out exactly as prom-client's does, to `/metrics` and to the primary that sums `--workers`
 * (series-histogram.test.ts checks both against it).
 */
export class SeriesHistogram<Label extends string> {
  readonly type = "histogram";
  /** Across --workers, each worker's counts are added (what prom-client does for its histograms). */
  readonly aggregator = "sum";
  private readonly series = new Map<string, HistogramSeries>();
  private readonly bounds: readonly number[];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly Label[],
    buckets: readonly number[],
    registry: Registry,
  ) {
    this.bounds = [...buckets].sort((a, b) => a - b);
    // prom-client's registries read any metric through get() and reset(); the cast is for its union type.
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series of these labels, made at its first use: keep it, and observe into it. */
  seriesOf(labels: Readonly<Record<Label, string>>): HistogramSeries {
    const key = this.labelNames.map((name) => labels[name]).join("\u0000");
    let series = this.series.get(key);
    if (!series) {
      const own: Record<string, string> = {};
      for (const name of this.labelNames) own[name] = labels[name];
      series = new HistogramSeries(own, this.bounds);
      this.series.set(key, series);
    }
    return series;
  }

  async get(): Promise<{ name: string; help: string; type: "histogram"; aggregator: "sum"; values: Sample[] }> {
    const values: Sample[] = [];
    // A series shows from its first observation, as a prom-client child does (a JSON call's model has no time to first token).
    for (const series of this.series.values()) if (series.observed) series.samples(this.name, values);
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Zeroes every series in place (callers keep their handles); each shows again from its next observation, as after prom-client's reset. */
  reset(): void {
    for (const series of this.series.values()) series.reset();
  }
}
