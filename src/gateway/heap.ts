import { setFlagsFromString } from "node:v8";

/**
 * A gateway's live heap is small (about 20 MB) while it allocates fast, and under load part of what
 * its calls allocate is promoted (several MB a second: the ledger's rows waiting for their batch, and
 * calls in flight at a collection).
 * V8's default heap growth lets the old generation reach several times its live size before it
 * collects: under load that was 70 MB of dead objects and 200 MB of RSS. Growing by 50% keeps RSS
 * near 135 MB for a few percent more CPU (marking a small heap is cheap and mostly concurrent);
 * docs/performance.md#memory has the numbers. `AIRLOCK_HEAP_GROWTH_PERCENT=0` restores V8's policy.
 *
 * Only `airlock start` applies it: an application embedding Airlock owns its process's heap policy.
 */
export const DEFAULT_HEAP_GROWTH_PERCENT = 50;

export function tuneHeapForServer(env: NodeJS.ProcessEnv = process.env, execArgv: string[] = process.execArgv): number | undefined {
  const chosen = env.AIRLOCK_HEAP_GROWTH_PERCENT;
  const percent = chosen === undefined || chosen === "" ? DEFAULT_HEAP_GROWTH_PERCENT : Number(chosen);
  // The operator's own V8 flag wins; 0 means V8's default policy.
  if (execArgv.some((arg) => arg.startsWith("--heap-growing-percent"))) return undefined;
  if (!Number.isInteger(percent) || percent < 0 || percent > 1000) {
    throw new Error(`AIRLOCK_HEAP_GROWTH_PERCENT must be a whole number from 0 to 1000, got "${chosen}"`);
  }
  if (percent === 0) return undefined;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}
