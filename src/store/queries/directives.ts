import { and, asc, desc, eq, sql } from "drizzle-orm";
import type { Db } from "../database.js";
import { artifacts, directives, type ArtifactRow, type DirectiveRow } from "../schema/index.js";

export type NewDirective = Omit<DirectiveRow, "status" | "blockedReasons" | "approvedBy" | "humanOverride" | "createdAt" | "updatedAt" | "proposedAt" | "approvedAt">;
export type DirectiveStatusValue = DirectiveRow["status"];

export async function insertDirective(db: Db, directive: NewDirective): Promise<DirectiveRow> {
  const [row] = await db.insert(directives).values({ ...directive, status: "draft" }).returning();
  if (!row) throw new Error("directive insert returned no row");
  return row;
}

export async function getDirective(db: Db, id: string): Promise<DirectiveRow | undefined> {
  const [row] = await db.select().from(directives).where(eq(directives.id, id));
  return row;
}

export function listDirectives(db: Db, status: DirectiveStatusValue | undefined, limit: number): Promise<DirectiveRow[]> {
  const query = db.select().from(directives);
  return (status ? query.where(eq(directives.status, status)) : query).orderBy(desc(directives.updatedAt), desc(directives.id)).limit(limit);
}

export interface TransitionFields {
  blockedReasons?: string[] | null;
  approvedBy?: string | null;
  humanOverride?: boolean | null;
}

/**
 * The only statement that writes a directive's status: it moves `from` → `to` only if the directive is
 * still in `from`, so two writers cannot both move it. Undefined when it was not in `from`.
 */
export async function moveDirective(db: Db, id: string, from: DirectiveStatusValue, to: DirectiveStatusValue, fields: TransitionFields = {}): Promise<DirectiveRow | undefined> {
  const [row] = await db
    .update(directives)
    .set({
      status: to,
      updatedAt: sql`now()`,
      ...(to === "proposed" ? { proposedAt: sql`now()`, blockedReasons: null } : {}),
      ...(to === "approved" ? { approvedAt: sql`now()` } : {}),
      ...fields,
    })
    .where(and(eq(directives.id, id), eq(directives.status, from)))
    .returning();
  return row;
}

export function artifactsOf(db: Db, directiveId: string): Promise<ArtifactRow[]> {
  return db.select().from(artifacts).where(eq(artifacts.directiveId, directiveId)).orderBy(asc(artifacts.createdAt), asc(artifacts.id));
}
