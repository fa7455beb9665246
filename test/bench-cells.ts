import type { CellResult } from "../bench/support/cells.js";

/** A measured cell as the bench records it; the tests that use it read only the fields they set. */
export function benchCell(target: string, stream: boolean, delayMs: number, connections: number, cpuMicrosPerRequest: number, more: Partial<CellResult> = {}): CellResult {
  return { target, stream, delayMs, connections, requestsPerSecond: 1000, p50Ms: 1, p99Ms: 2, cpuMicrosPerRequest, faultsPerRequest: 0, peakRssMb: 100, errors: 0, sent: 1000, ...more };
}
