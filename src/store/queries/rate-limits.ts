import { sql } from "drizzle-orm";
import type { Db } from "../database.js";
import { rateWindows } from "../schema/index.js";
import { rowsOf } from "./rows.js";

export interface PermitRequest {
  limit: string;
  subject: string;
  unit: "requests" | "tokens";
  start: Date;
  /** What the instance still holds of this window, handed back in the same statement; below zero, tokens it used beyond what it held. */
  give: number;
  /** The least grant that is any use. */
  need: number;
  /** The most one grant may be. */
  chunk: number;
  /** The limit itself. */
  max: number;
}

/**
 * Hands back the instance's leftover and takes a fresh grant in one statement: nothing when less than
 * `need` is free, else from `need` up to the smaller of `chunk` and an eighth of what is free. Every
 * SET expression reads the row as it was, so `last_grant` is this statement's grant, read back by
 * RETURNING; the row lock makes concurrent grants from any number of instances add up, never past `max`.
 */
export async function leasePermits(db: Db, r: PermitRequest): Promise<{ granted: number; free: number }> {
  const free = (held: unknown) => sql`(${r.max}::bigint - (${held} - ${r.give}::bigint))`;
  const grant = (held: unknown) =>
    sql`(case when ${free(held)} >= ${r.need}::bigint then least(${free(held)}, greatest(${r.need}::bigint, least(${r.chunk}::bigint, ${free(held)} / 8))) else 0 end)`;
  const result = await db.execute(sql`
    insert into ${rateWindows} as r (limit_name, subject, unit, start, granted, last_grant)
    select ${r.limit}, ${r.subject}, ${r.unit}, ${r.start.toISOString()}::timestamptz, g, g from (select ${grant(sql`${r.give}::bigint`)} as g) fresh
    on conflict (limit_name, subject, unit, start) do update set
      granted = r.granted - ${r.give}::bigint + ${grant(sql`r.granted`)},
      last_grant = ${grant(sql`r.granted`)}
    returning last_grant::int as granted, (${r.max}::bigint - granted)::int as free`);
  const [row] = rowsOf<{ granted: number; free: number }>(result);
  if (!row) throw new Error("rate limit lease returned no row");
  return { granted: Number(row.granted), free: Number(row.free) };
}

/** Drops windows that ended over an hour ago. */
export async function dropOldRateWindows(db: Db): Promise<void> {
  await db.execute(sql`delete from ${rateWindows} where start < now() - interval '1 hour'`);
}
