import type { Db } from "../../store/database.js";
import * as q from "../../store/queries/executions.js";
import type { ArtifactRow, DirectiveRow, ExecutionRunRow } from "../../store/schema/index.js";
import type { RunStatus } from "./run-lifecycle.js";

/** Most results any read returns. */
export const MEMORY_LIMIT = 100;

export type ExecutionSummary = Pick<ExecutionRunRow, "id" | "directiveId" | "module" | "status" | "moduleStatus" | "error" | "startedAt" | "endedAt" | "durationMs">;

/**
 * What an agent may read of the pipeline's past: frozen results, at most 100 at a time, and no SQL,
 * connection or engine behind them to reach for.
 */
export interface MemoryReader {
  latestDirectiveForRole(role: string): Promise<Readonly<DirectiveRow> | undefined>;
  executionSummaries(limit: number, status?: RunStatus): Promise<ReadonlyArray<Readonly<ExecutionSummary>>>;
  artifactsByType(type: ArtifactRow["type"], limit: number): Promise<ReadonlyArray<Readonly<ArtifactRow>>>;
}

/** Reads the store. */
export function postgresMemoryReader(db: Db): MemoryReader {
  return Object.freeze({
    async latestDirectiveForRole(role: string) {
      const row = await q.latestDirectiveForRole(db, role);
      return row && deepFreeze(row);
    },
    async executionSummaries(limit: number, status?: RunStatus) {
      const rows = await q.listRuns(db, status, bound(limit));
      return deepFreeze(rows.map(({ id, directiveId, module, status: s, moduleStatus, error, startedAt, endedAt, durationMs }) => ({ id, directiveId, module, status: s, moduleStatus, error, startedAt, endedAt, durationMs })));
    },
    async artifactsByType(type: ArtifactRow["type"], limit: number) {
      return deepFreeze(await q.artifactsByType(db, type, bound(limit)));
    },
  });
}

/** Remembers nothing: for agents that must act without the past. */
export const noopMemoryReader: MemoryReader = Object.freeze({
  latestDirectiveForRole: async () => undefined,
  executionSummaries: async () => Object.freeze([]),
  artifactsByType: async () => Object.freeze([]),
});

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
