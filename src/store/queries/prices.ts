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
 * model, in one statement. With `onlyUnpriced`, only models with no row at all get one (the bundled
 * catalog fills gaps; it never competes with a price someone set). Returns how many rows were added.
 */
export async function addPrices(db: Db, entries: readonly PriceEntry[], origin: PriceOrigin, at: Date, options: { createdBy?: string; onlyUnpriced?: boolean } = {}): Promise<number> {
  if (entries.length === 0) return 0;
  const incoming = JSON.stringify(entries);
  const onlyUnpriced = options.onlyUnpriced ?? false;
  const result = await db.execute(sql`
    insert into ${prices} (model, effective_from, price, origin, created_by)
    select r.model, ${at.toISOString()}::timestamptz, r.price, ${origin}, ${options.createdBy ?? null}
    from json_to_recordset(${incoming}::json) as r(model text, price jsonb)
    where not exists (
      select 1 from ${prices} p
      where p.model = r.model
        and (${onlyUnpriced} or p.origin = ${origin})
        and (${onlyUnpriced} or p.price = r.price)
        and (${onlyUnpriced} or p.effective_from = (select max(q.effective_from) from ${prices} q where q.model = r.model and q.origin = ${origin}))
    )
    on conflict do nothing
    returning model`);
  return Array.isArray(result) ? result.length : ((result as { rows?: unknown[] }).rows?.length ?? 0);
}
