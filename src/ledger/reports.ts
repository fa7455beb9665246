import { Money, formatCost } from "./pricing.js";
import type { SpendLine } from "../store/queries/ledger.js";

/** Sums report lines exactly. */
export function totalCost(lines: readonly SpendLine[]): string {
  return formatCost(lines.reduce((sum, line) => sum.add(line.cost), new Money(0)));
}
