/*
 * Rows the library's public types name (what an execution module's memory reads), written out plainly
 * rather than inferred from their tables: a project that type-checks its dependencies must not have to
 * compile Drizzle's declarations for every database it supports. Each table's file checks that its
 * inferred row is exactly this.
 */

export type DirectiveStatus = "draft" | "proposed" | "blocked" | "approved" | "executing" | "complete" | "aborted";

export interface DirectiveRow {
  id: string;
  role: string;
  type: string;
  payload: unknown;
  issuedBy: string;
  issuedByKind: string;
  objective: string;
  scope: string;
  constraints: unknown;
  successMetrics: unknown;
  budget: string | null;
  timeboxSeconds: number | null;
  status: DirectiveStatus;
  blockedReasons: string[] | null;
  approvedBy: string | null;
  humanOverride: boolean | null;
  createdAt: Date;
  updatedAt: Date;
  proposedAt: Date | null;
  approvedAt: Date | null;
  idempotencyKey: string | null;
}

export type ArtifactType = "policy_evaluation" | "execution_start" | "execution_checkpoint" | "execution_end" | "llm_call" | "llm_usage";

export interface ArtifactRow {
  id: string;
  directiveId: string;
  runId: string | null;
  type: ArtifactType;
  body: unknown;
  uri: string;
  sizeBytes: number;
  createdAt: Date;
}

/** True only when A and B are the same type (each assignable to the other is not enough for optional keys). */
export type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
export type Assert<T extends true> = T;
