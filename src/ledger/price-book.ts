import { priceSchema, type AirlockConfig, type PriceConfig } from "../config/schema.js";
import { loadBundledPrices } from "./bundled-catalog.js";
import { parseRequest } from "../config/load.js";
import type { Logger } from "../core/logger.js";
import { Reloader } from "../core/reloader.js";
import type { Db } from "../store/database.js";
import { addBundledPrices, addPrices, currentPrices, priceHistory, seedSerially, type PriceEntry, type PriceOrigin } from "../store/queries/prices.js";
import type { PriceRow, StoredPrice } from "../store/schema/prices.js";

export interface PriceInForce {
  model: string;
  price: PriceConfig;
  origin: PriceOrigin;
  effectiveFrom: string;
  createdBy: string | null;
}

export interface PriceBookOptions {
  db: Db;
  logger: Logger;
  /** Called with the prices in force after every read: swap them in. */
  apply(prices: ReadonlyMap<string, PriceConfig>): void;
  /** Tells every other instance that prices changed; never throws (a failure is the announcer's to log). */
  announce(): Promise<void>;
  /** The store's kind: on PostgreSQL, instances starting together seed one after another. */
  storeKind?: "pglite" | "postgres";
  now?: () => Date;
}

/**
 * The prices in the store, mirrored in memory: a call reads the price in force from memory and never
 * waits on the store. Prices only ever gain rows, so each ledger row keeps the cost of its own moment.
 */
export class PriceBook {
  private inForce = new Map<string, PriceInForce>();
  private readonly reloader = new Reloader(() => this.read());
  private readonly now: () => Date;

  constructor(private readonly options: PriceBookOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Records the config's prices (a changed one takes effect now, a repeated one adds nothing), fills
   * models that have no price at all from the bundled catalog and brings those still at an older
   * bundled price up to this release's, then loads what is in force.
   */
  async start(seeds: { config: PriceEntry[]; bundled: PriceEntry[] }): Promise<void> {
    const at = this.now();
    const refreshed = await seedSerially(this.options.db, this.options.storeKind ?? "pglite", async (db) => {
      await addPrices(db, seeds.config, "config", at);
      return addBundledPrices(db, seeds.bundled, at);
    });
    if (refreshed > 0) this.options.logger.info({ models: refreshed }, "bundled catalog prices recorded");
    await this.reload();
  }

  reload(): Promise<void> {
    return this.reloader.reload();
  }

  list(): PriceInForce[] {
    return [...this.inForce.values()];
  }

  get(model: string): PriceInForce | undefined {
    return this.inForce.get(model);
  }

  async history(model: string): Promise<PriceInForce[]> {
    return (await priceHistory(this.options.db, model)).flatMap((row) => {
      const parsed = priceSchema.safeParse(row.price);
      return parsed.success ? [toInForce(row, parsed.data)] : [];
    });
  }

  /** An admin's price, in force from now: later calls cost this, earlier ledger rows keep theirs. */
  async set(model: string, input: unknown, by: string): Promise<PriceInForce> {
    const price = parseRequest(priceSchema, input, `price for "${model}"`, "price");
    await addPrices(this.options.db, [{ model, price: withoutUndefined(price) }], "admin", this.now(), { createdBy: by });
    await this.changed();
    return this.inForce.get(model)!;
  }

  /** Prices from an outside list (an OpenRouter sync): each model whose price moved gets a new row. */
  async import(entries: PriceEntry[], origin: PriceOrigin): Promise<number> {
    const valid = entries.map((entry, i) => ({
      model: entry.model,
      price: withoutUndefined(parseRequest(priceSchema, entry.price, `prices[${i}] (${entry.model})`, `prices[${i}]`)),
    }));
    const added = await addPrices(this.options.db, valid, origin, this.now());
    if (added > 0) await this.changed();
    return added;
  }

  private async changed(): Promise<void> {
    try {
      await this.reload();
    } finally {
      await this.options.announce();
    }
  }

  private async read(): Promise<void> {
    const rows = await currentPrices(this.options.db);
    const next = new Map<string, PriceInForce>();
    for (const row of rows) {
      const parsed = priceSchema.safeParse(row.price);
      if (parsed.success) next.set(row.model, toInForce(row, parsed.data));
      // A row that no longer parses is skipped, so the model is charged the missing price and flagged: never $0.
      else this.options.logger.error({ model: row.model, effectiveFrom: row.effectiveFrom.toISOString() }, "stored price does not parse; the model is priced as missing");
    }
    this.inForce = next;
    this.options.apply(new Map([...next].map(([model, entry]) => [model, entry.price])));
  }
}

/** A price as stored: undefined fields are left out, so equal prices compare equal. */
export function withoutUndefined(price: PriceConfig): StoredPrice {
  const { above, ...figures } = price;
  const stored: StoredPrice = Object.fromEntries(Object.entries(figures).filter(([, v]) => v !== undefined)) as Record<string, string>;
  if (above !== undefined) stored.above = above.map((tier) => Object.fromEntries(Object.entries(tier).filter(([, v]) => v !== undefined)) as Record<string, string | number>);
  return stored;
}

function toInForce(row: PriceRow, price: PriceConfig): PriceInForce {
  return { model: row.model, price, origin: row.origin, effectiveFrom: row.effectiveFrom.toISOString(), createdBy: row.createdBy };
}

/** The config's own prices, and the bundled catalog's for the catalog models the config leaves unpriced. */
export async function priceSeeds(config: AirlockConfig): Promise<{ config: PriceEntry[]; bundled: PriceEntry[] }> {
  const fromConfig = config.models.flatMap((m) => (m.price ? [{ model: m.id, price: withoutUndefined(m.price) }] : []));
  const unpriced = new Set(config.models.filter((m) => !m.price).map((m) => m.id));
  const bundled = unpriced.size === 0 ? [] : (await loadBundledPrices()).filter((p) => unpriced.has(p.model)).map((p) => ({ model: p.model, price: withoutUndefined(p.price) }));
  return { config: fromConfig, bundled };
}

