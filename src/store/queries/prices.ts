import { asc, desc, eq, sql } from "drizzle-orm";
import type { Db } from "../database.js";
import { prices, type PriceRow } from "../schema/index.js";
import type { StoredPrice } from "../schema/prices.js";

export type PriceOrigin = PriceRow["origin"];

export interface PriceEntry {
  model: string;
  price: StoredPrice;
}

/**
 * The newest row for every model. Rows are only written as taking effect when they are written, so
 * the newest is the one in force; not comparing with this instance's clock keeps a row written by an
 * instance whose clock runs a little ahead from being ignored here.
 */
export async function currentPrices(db: Db): Promise<PriceRow[]> {
  return db.selectDistinctOn([prices.model]).from(prices).orderBy(prices.model, desc(prices.effectiveFrom));
}

export function priceHistory(db: Db, model: string): Promise<PriceRow[]> {
  return db.select().from(prices).where(eq(prices.model, model)).orderBy(asc(prices.effectiveFrom));
}

/**
 * Adds a row for each entry whose price differs from the newest row of the same origin for that
 * model, in one statement. Returns how many rows were added.
 */
export async function addPrices(db: Db, entries: readonly PriceEntry[], origin: PriceOrigin, at: Date, options: { createdBy?: string } = {}): Promise<number> {
  if (entries.length === 0) return 0;
  const result = await db.execute(sql`
    insert into ${prices} (model, effective_from, price, origin, created_by)
    select r.model, ${at.toISOString()}::timestamptz, r.price, ${origin}, ${options.createdBy ?? null}
    from json_to_recordset(${JSON.stringify(entries)}::json) as r(model text, price jsonb)
    where not exists (
      select 1 from ${prices} p
      where p.model = r.model and p.origin = ${origin} and p.price = r.price
        and p.effective_from = (select max(q.effective_from) from ${prices} q where q.model = r.model and q.origin = ${origin})
    )
    on conflict do nothing
    returning model`);
  return rowCount(result);
}

/**
 * The bundled catalog's prices, in one statement: a model with no row at all gets one, and a model
 * whose price in force (its newest row) came from the bundled catalog gets the catalog's price when it
 * differs (in its figures: a new `source` or `effectiveDate` alone is not a new price), so a release's
 * corrected catalog reaches stores an older release seeded. A price from the
 * config, an admin or a sync is in force by someone's choice and is never replaced. The new row takes
 * effect at `at`, or just after the row it replaces when this instance's clock runs behind, so that
 * it is in force and the next start finds nothing to add. Returns how many rows were added.
 */
export async function addBundledPrices(db: Db, entries: readonly PriceEntry[], at: Date): Promise<number> {
  if (entries.length === 0) return 0;
  const result = await db.execute(sql`
    insert into ${prices} (model, effective_from, price, origin)
    select r.model, greatest(${at.toISOString()}::timestamptz, newest.effective_from + interval '1 millisecond'), r.price, 'bundled'
    from json_to_recordset(${JSON.stringify(entries)}::json) as r(model text, price jsonb)
    left join lateral (select p.origin, p.price, p.effective_from from ${prices} p where p.model = r.model order by p.effective_from desc limit 1) newest on true
    where newest.origin is null or (newest.origin = 'bundled' and newest.price - ${NOTES} <> r.price - ${NOTES})
    on conflict do nothing
    returning model`);
  return rowCount(result);
}

/** What a catalog entry says about its figures: a release that only re-dates them adds no row. */
const NOTES = sql`array['source', 'effectiveDate']`;

/** Any fixed number: the lock that start-up seeding holds on PostgreSQL ("Aprc" in ASCII). */
const PRICE_SEED_LOCK = 0x41707263;

/**
 * Runs `seed` so that no two instances seed at once. Each seeding statement reads the newest rows
 * and adds to them: two instances starting together on PostgreSQL would both find a price missing or
 * changed and both add it, each at its own moment. There the statements run in one transaction behind
 * an advisory lock, each seeing what the instance before it committed. PGlite serves one statement at
 * a time from one process, so each statement there is already whole.
 */
export async function seedSerially<T>(db: Db, kind: "pglite" | "postgres", seed: (db: Db) => Promise<T>): Promise<T> {
  if (kind === "pglite") return seed(db);
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${PRICE_SEED_LOCK})`);
    return seed(tx as unknown as Db);
  });
}

function rowCount(result: unknown): number {
  return Array.isArray(result) ? result.length : ((result as { rows?: unknown[] }).rows?.length ?? 0);
}
