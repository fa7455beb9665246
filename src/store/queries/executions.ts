import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { PagePosition } from "../../core/page-cursor.js";
import type { Db } from "../database.js";
import { artifacts, directives, executionRuns, moduleEffects, type ArtifactRow, type DirectiveRow, type ExecutionRunRow } from "../schema/index.js";
import { newestFirstPage } from "./pages.js";

export type RunStatusValue = ExecutionRunRow["status"];
export type NewRun = Pick<ExecutionRunRow, "id" | "directiveId" | "module" | "idempotencyKey" | "workflowId" | "executorId">;

/** Creates the run once: a replayed step finds the one it made before. */
export async function ensureRun(db: Db, run: NewRun): Promise<ExecutionRunRow> {
  await db.insert(executionRuns).values({ ...run, status: "pending" }).onConflictDoNothing();
  const row = await getRun(db, run.id);
  if (!row) throw new Error("execution run insert left no row");
  return row;
}

export async function getRun(db: Db, id: string): Promise<ExecutionRunRow | undefined> {
  const [row] = await db.select().from(executionRuns).where(eq(executionRuns.id, id));
  return row;
}

/** Newest first, on (created_at, id) so that a page never skips nor repeats a run; each row with its place in the list. */
export function listRuns(db: Db, filter: { status?: RunStatusValue; after?: PagePosition; limit: number }): Promise<Array<ExecutionRunRow & { createdMicros: string }>> {
  return newestFirstPage(db, executionRuns, filter.status ? [eq(executionRuns.status, filter.status)] : [], filter.after, filter.limit);
}

export interface RunFields {
  moduleStatus?: string;
  output?: unknown;
  error?: string | null;
}

/**
 * The only statement that writes a run's status: `from` → `to`, only while the run is still in `from`.
 * It stamps the start and the end, and the duration from one to the other. Undefined when it was not in `from`.
 */
export async function moveRun(db: Db, id: string, from: RunStatusValue, to: RunStatusValue, fields: RunFields = {}): Promise<ExecutionRunRow | undefined> {
  const ending = to === "completed" || to === "failed" || to === "canceled";
  const [row] = await db
    .update(executionRuns)
    .set({
      status: to,
      ...(to === "running" ? { startedAt: sql`now()` } : {}),
      ...(ending ? { endedAt: sql`now()`, durationMs: sql`(extract(epoch from now() - coalesce(${executionRuns.startedAt}, ${executionRuns.createdAt})) * 1000)::int` } : {}),
      ...fields,
    })
    .where(and(eq(executionRuns.id, id), eq(executionRuns.status, from)))
    .returning();
  return row;
}

export type Effect = { found: true; result: unknown } | { found: false };

export async function getEffect(db: Db, key: string): Promise<Effect> {
  const [row] = await db.select({ result: moduleEffects.result }).from(moduleEffects).where(eq(moduleEffects.idempotencyKey, key));
  return row ? { found: true, result: row.result } : { found: false };
}

/** Records an effect's result under its key; the first one recorded wins and is what is returned. */
export async function putEffect(db: Db, key: string, module: string, result: unknown): Promise<unknown> {
  const [row] = await db.insert(moduleEffects).values({ idempotencyKey: key, module, result }).onConflictDoNothing().returning({ result: moduleEffects.result });
  if (row) return row.result;
  const [existing] = await db.select({ result: moduleEffects.result }).from(moduleEffects).where(eq(moduleEffects.idempotencyKey, key));
  return existing?.result;
}

/** Writes an artifact once under its id: a replayed step leaves the first one as it was. */
export async function insertArtifactOnce(db: Db, artifact: Omit<ArtifactRow, "createdAt">): Promise<void> {
  await db.insert(artifacts).values(artifact).onConflictDoNothing();
}

export async function getArtifact(db: Db, id: string): Promise<ArtifactRow | undefined> {
  const [row] = await db.select().from(artifacts).where(eq(artifacts.id, id));
  return row;
}

export function artifactsOfRun(db: Db, runId: string): Promise<ArtifactRow[]> {
  return db.select().from(artifacts).where(eq(artifacts.runId, runId)).orderBy(artifacts.createdAt, artifacts.id);
}

/** Directives waiting for a worker, oldest approval first. */
export async function approvedDirectiveIds(db: Db, limit: number): Promise<string[]> {
  const rows = await db.select({ id: directives.id }).from(directives).where(eq(directives.status, "approved")).orderBy(directives.approvedAt).limit(limit);
  return rows.map((r) => r.id);
}

/** True when some directive is approved or executing: work a worker must pick up or recover. */
export async function hasOpenWork(db: Db): Promise<boolean> {
  const [row] = await db.select({ id: directives.id }).from(directives).where(inArray(directives.status, ["approved", "executing"])).limit(1);
  return row !== undefined;
}

export async function latestDirectiveForRole(db: Db, role: string): Promise<DirectiveRow | undefined> {
  const [row] = await db.select().from(directives).where(eq(directives.role, role)).orderBy(desc(directives.createdAt), desc(directives.id)).limit(1);
  return row;
}

export function artifactsByType(db: Db, type: ArtifactRow["type"], limit: number): Promise<ArtifactRow[]> {
  return db.select().from(artifacts).where(eq(artifacts.type, type)).orderBy(desc(artifacts.createdAt), desc(artifacts.id)).limit(limit);
}
