import type { ArtifactRow, DirectiveRow } from "../../store/schema/public-rows.js";
import type { RunStatus } from "./run-lifecycle.js";

/*
 * What an execution module may read of the pipeline's past, apart from the store that answers it: the
 * library's public types name these, and a project that type-checks its dependencies must not have to
 * compile Drizzle's declarations.
 */

/** What a module's memory shows of a run. */
export interface ExecutionSummary {
  id: string;
  directiveId: string;
  module: string;
  status: RunStatus;
  moduleStatus: string | null;
  error: string | null;
  startedAt: Date | null;
  endedAt: Date | null;
  durationMs: number | null;
}

/**
 * What an agent may read of the pipeline's past: frozen results, at most 100 at a time, and no SQL,
 * connection or engine behind them to reach for.
 */
export interface MemoryReader {
  latestDirectiveForRole(role: string): Promise<Readonly<DirectiveRow> | undefined>;
  executionSummaries(limit: number, status?: RunStatus): Promise<ReadonlyArray<Readonly<ExecutionSummary>>>;
  artifactsByType(type: ArtifactRow["type"], limit: number): Promise<ReadonlyArray<Readonly<ArtifactRow>>>;
}

/** Remembers nothing: for agents that must act without the past. */
export const noopMemoryReader: MemoryReader = Object.freeze({
  latestDirectiveForRole: async () => undefined,
  executionSummaries: async () => Object.freeze([]),
  artifactsByType: async () => Object.freeze([]),
});
