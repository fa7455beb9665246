/** The middle value (the upper of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  return [...values].sort((a, b) => a - b)[values.length >> 1]!;
}

/** Each pair's ratio, `of[i] / to[i]`: the rounds of two sides measured in turns, say. */
export function ratiosOf(of: readonly number[], to: readonly number[]): number[] {
  return of.map((value, i) => value / to[i]!);
}
