import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Database } from "../../src/store/database.js";
import { ROOT } from "./root.js";


/** The q-quantile of sorted timings. */
export function at(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Runs a migration's backfill statements (those matching `pattern`) over rows loaded straight into the ledger. */
export async function backfill(database: Database, migration: string, pattern: RegExp): Promise<void> {
  const text = await readFile(path.join(ROOT, "drizzle", migration), "utf8");
  const statements = text.split("--> statement-breakpoint").filter((part) => pattern.test(part));
  if (statements.length === 0) throw new Error(`${migration} has no backfill`);
  for (const statement of statements) await database.execute(statement);
}
