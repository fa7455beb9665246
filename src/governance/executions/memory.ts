import type { Db } from "../../store/database.js";
import * as q from "../../store/queries/executions.js";
import type { ArtifactRow, ExecutionRunRow } from "../../store/schema/index.js";
import type { Assert, Same } from "../../store/schema/public-rows.js";
import type { ExecutionSummary, MemoryReader } from "./memory-reader.js";
import type { RunStatus } from "./run-lifecycle.js";

export { noopMemoryReader, type ExecutionSummary, type MemoryReader } from "./memory-reader.js";

/** Most results any read returns. */
export const MEMORY_LIMIT = 100;

/** Fails to compile when the runs table changes and the public summary does not. */
export type SummaryMatchesTable = Assert<Same<ExecutionSummary, Pick<ExecutionRunRow, keyof ExecutionSummary>>>;

/** Reads the store. */
export function postgresMemoryReader(db: Db): MemoryReader {
  return Object.freeze({
    async latestDirectiveForRole(role: string) {
      const row = await q.latestDirectiveForRole(db, role);
      return row && deepFreeze(row);
    },
    async executionSummaries(limit: number, status?: RunStatus) {
      const rows = await q.listRuns(db, { status, limit: bound(limit) });
      return deepFreeze(rows.map(({ id, directiveId, module, status: s, moduleStatus, error, startedAt, endedAt, durationMs }) => ({ id, directiveId, module, status: s, moduleStatus, error, startedAt, endedAt, durationMs })));
    },
    async artifactsByType(type: ArtifactRow["type"], limit: number) {
      return deepFreeze(await q.artifactsByType(db, type, bound(limit)));
    },
  });
}

function bound(limit: number): number {
  return Number.isInteger(limit) && limit > 0 ? Math.min(limit, MEMORY_LIMIT) : MEMORY_LIMIT;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !(value instanceof Date) && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
