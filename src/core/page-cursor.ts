import { AirlockError } from "./errors.js";

/**
 * Where a page starts: just after (older than) this row's place in a list kept newest first on
 * (created_at, id). A place, not an offset: rows made while an admin pages, or pruned, neither shift
 * a page nor repeat a row, and a row that changes status keeps its place.
 */
export interface PagePosition {
  /** created_at in whole microseconds since the epoch: a Date keeps only milliseconds, and two rows may share one. */
  createdMicros: string;
  id: string;
}

/** One page, newest first, and the cursor of the next page (null after the last). */
export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/** What an admin list asks for: at most `limit` rows, after the page whose `nextCursor` this is. */
export interface PageQuery {
  limit: number;
  cursor?: string;
}

/** A cursor is opaque to callers: base64url of `<created_at µs>.<id>`. */
export function cursorOf(position: PagePosition): string {
  return Buffer.from(`${position.createdMicros}.${position.id}`).toString("base64url");
}

export function positionOf(cursor: string): PagePosition {
  const text = /^[A-Za-z0-9_-]{1,700}$/.test(cursor) ? Buffer.from(cursor, "base64url").toString("utf8") : "";
  const match = /^(\d{1,17})\.([^\u0000]{1,512})$/.exec(text);
  if (!match) throw new AirlockError("invalid_request", "cursor must be the nextCursor of an earlier page, as it was given", { param: "cursor" });
  return { createdMicros: match[1]!, id: match[2]! };
}

/** The position a query reads after: none for the first page. */
export function startOf(query: PageQuery): PagePosition | undefined {
  return query.cursor === undefined ? undefined : positionOf(query.cursor);
}

/**
 * A page from rows read with one more than `limit` (which says whether there is a next page, without
 * a count over the table), each with its place; the places are left out of the page's rows.
 */
export function pageOf<T extends { id: string; createdMicros: string }>(rows: T[], limit: number): Page<Omit<T, "createdMicros">> {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    data: page.map(({ createdMicros: _, ...row }) => row),
    nextCursor: rows.length > limit && last ? cursorOf({ createdMicros: last.createdMicros, id: last.id }) : null,
  };
}
