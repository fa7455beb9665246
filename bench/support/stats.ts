/** The middle value; for an even count, the mean of the two middle ones. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Each pair's ratio, `of[i] / to[i]`: the rounds of two sides measured in turns, say. */
export function ratiosOf(of: readonly number[], to: readonly number[]): number[] {
  return of.map((value, i) => value / to[i]!);
}
