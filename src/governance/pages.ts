import { pageOf, startOf, type Page, type PageQuery } from "../core/page-cursor.js";
import type { Db } from "../store/database.js";
import { listDirectives } from "../store/queries/directives.js";
import { listRuns } from "../store/queries/executions.js";
import type { DirectiveRow, ExecutionRunRow } from "../store/schema/index.js";

/** `cursor`: the `nextCursor` of the page before; the newest when left out. */
export interface DirectiveQuery extends PageQuery {
  status?: DirectiveRow["status"];
}

export interface RunQuery extends PageQuery {
  status?: ExecutionRunRow["status"];
}

/** A page of directives, newest first by when each was made: one that moves on between pages keeps its place. */
export async function directivePage(db: Db, query: DirectiveQuery): Promise<Page<DirectiveRow>> {
  return pageOf(await listDirectives(db, { status: query.status, after: startOf(query), limit: query.limit + 1 }), query.limit);
}

/** A page of execution runs, newest first. */
export async function runPage(db: Db, query: RunQuery): Promise<Page<ExecutionRunRow>> {
  return pageOf(await listRuns(db, { status: query.status, after: startOf(query), limit: query.limit + 1 }), query.limit);
}
