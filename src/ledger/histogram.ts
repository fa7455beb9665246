/**
 * Percentiles from the latency histograms (see `ledgerLatency`): bucket `b` holds durations in
 * (2^((b-1)/8), 2^(b/8)] ms, bucket 0 those of at most 1 ms. Within the bucket that holds the
 * percentile, the value is interpolated as if its calls were spread evenly, as Prometheus's
 * `histogram_quantile` does; the answer is within one bucket (a factor of 2^(1/8), about 9%) of the exact
 * one. Durations past the last bucket (about 17.5 minutes) are read as that bucket's bound.
 */
export function bucketBounds(bucket: number): [number, number] {
  if (bucket <= 0) return [0, 1];
  return [2 ** ((bucket - 1) / 8), 2 ** (bucket / 8)];
}

/** The q-quantile (0 < q ≤ 1) in whole milliseconds, or undefined for an empty histogram. */
export function quantile(histogram: ReadonlyMap<number, number>, q: number): number | undefined {
  const buckets = [...histogram].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
  const total = buckets.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) return undefined;
  const rank = q * total;
  let below = 0;
  for (const [bucket, n] of buckets) {
    if (below + n >= rank) {
      const [low, high] = bucketBounds(bucket);
      return Math.round(low + (high - low) * ((rank - below) / n));
    }
    below += n;
  }
  return Math.round(bucketBounds(buckets[buckets.length - 1]![0])[1]);
}

/** The bucket a duration falls in; the SQL that fills the histograms computes the same. */
export function bucketOf(ms: number): number {
  return Math.min(160, Math.ceil((8 * Math.log(Math.max(ms, 1))) / Math.log(2)));
}
