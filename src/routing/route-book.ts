import { operationSchema, OPERATION_NAME, type OperationConfig } from "../config/schema.js";
import { NAME_MAX_LENGTH } from "../config/bounds.js";
import { parseRequest } from "../config/load.js";
import { isTier, type RouteWorld } from "../config/routes.js";
import { AirlockError } from "../core/errors.js";
import { Reloader } from "../core/reloader.js";
import { SerialQueue } from "../core/serial-queue.js";
import type { Logger } from "../core/logger.js";
import type { Db } from "../store/database.js";
import { allRoutes, deleteRoute, seedRoutes, upsertRoute } from "../store/queries/routes.js";
import type { RouteRow } from "../store/schema/routes.js";
import { assertChangeSaves } from "./operations.js";

export interface StoredRoute {
  name: string;
  definition: OperationConfig;
  source: "config" | "admin";
  updatedAt: string;
  updatedBy: string | null;
}

export interface RouteSet {
  routes: Map<string, OperationConfig>;
  /** Stored routes that no longer parse, with why. */
  problems: Map<string, string>;
}

export interface RouteBookOptions {
  db: Db;
  logger: Logger;
  /** The config file's operations: what the store is seeded with and falls back to. */
  seeds: ReadonlyMap<string, OperationConfig>;
  /** The models and tiers that routes may name, as of now. */
  world(): RouteWorld;
  /** Called with every new set of routes: swap them in. */
  apply(set: RouteSet): void;
  /** Tells every other instance that routes changed; never throws (a failure is the announcer's to log). */
  announce(): Promise<void>;
}

/**
 * The routes in the store, mirrored in memory. Reads are memory only; a change is validated against
 * the whole set, written, applied here at once and announced to the other instances, which reload.
 */
export class RouteBook {
  private rows = new Map<string, StoredRoute>();
  private readonly reloader = new Reloader(() => this.read());
  private readonly writes = new SerialQueue();

  constructor(private readonly options: RouteBookOptions) {}

  /** Seeds the store from the config and loads what it then holds. */
  async start(): Promise<void> {
    await seedRoutes(this.options.db, new Map([...this.options.seeds].map(([name, def]) => [name, def as Record<string, unknown>])), new Date());
    await this.reload();
  }

  /** Reads every route again (see Reloader: reads never overlap, and none is lost). */
  reload(): Promise<void> {
    return this.reloader.reload();
  }

  list(): StoredRoute[] {
    return [...this.rows.values()];
  }

  get(name: string): StoredRoute | undefined {
    return this.rows.get(name);
  }

  /** Creates or replaces a route with a whole definition (config syntax). */
  put(name: string, input: unknown, by: string): Promise<StoredRoute> {
    return this.serially(() => this.write(name, input, by));
  }

  private async write(name: string, input: unknown, by: string): Promise<StoredRoute> {
    const definition = await this.validate(name, input);
    const saved = await upsertRoute(this.options.db, { name, definition: definition as Record<string, unknown>, source: "admin", updatedBy: by }, new Date());
    await this.changed();
    return toStored(saved, definition);
  }

  /**
   * The definition parsed, and checked against every route as the store holds them now (not as this
   * instance last heard of them): what saving it would do, without saving it.
   */
  async validate(name: string, input: unknown): Promise<OperationConfig> {
    if (!OPERATION_NAME.test(name) || isTier(name)) {
      throw new AirlockError("invalid_request", `"${name}" is not a valid operation name (letters, digits, _ . : -, and not a tier name)`, { param: "name" });
    }
    if (name.length > NAME_MAX_LENGTH) throw new AirlockError("invalid_request", `an operation name is at most ${NAME_MAX_LENGTH} characters`, { param: "name" });
    // In `model`, an alias wins over an operation of the same name: such a route could only be reached by header.
    if (!this.rows.has(name) && this.options.world().aliases?.has(name)) {
      throw new AirlockError("invalid_request", `"${name}" already names a model (as the short form of a catalog id); choose another operation name`, { param: "name" });
    }
    const definition = parseRequest(operationSchema, input, `route "${name}"`);
    await this.reload();
    const before = this.definitions();
    assertChangeSaves(this.options.world(), before, new Map(before).set(name, definition), name);
    return definition;
  }

  /** Changes some fields of an existing route. */
  patch(name: string, changes: unknown, by: string): Promise<StoredRoute> {
    return this.serially(async () => {
      await this.reload();
      const current = this.rows.get(name);
      if (!current) throw new AirlockError("not_found", `no route "${name}"`);
      if (changes === null || typeof changes !== "object" || Array.isArray(changes)) throw new AirlockError("invalid_request", "the body must be a JSON object");
      return this.write(name, { ...current.definition, ...changes }, by);
    });
  }

  /** Removes the admin version: the config's comes back, or the route goes. */
  remove(name: string): Promise<StoredRoute | undefined> {
    return this.serially(() => this.erase(name));
  }

  private async erase(name: string): Promise<StoredRoute | undefined> {
    await this.reload();
    const current = this.rows.get(name);
    if (!current) throw new AirlockError("not_found", `no route "${name}"`);
    const seed = this.options.seeds.get(name);
    const before = this.definitions();
    const next = new Map(before);
    if (seed) next.set(name, seed);
    else next.delete(name);
    // Another route may fall back to this one: removing it must not leave that route broken.
    assertChangeSaves(this.options.world(), before, next, name);
    const restored = seed ? await upsertRoute(this.options.db, { name, definition: seed as Record<string, unknown>, source: "config", updatedBy: null }, new Date()) : undefined;
    if (!seed) await deleteRoute(this.options.db, name);
    await this.changed();
    return restored && seed ? toStored(restored, seed) : undefined;
  }

  /**
   * One change at a time on this instance, each validated against a fresh read, so that two saves
   * cannot together make a cycle that neither makes alone. Two instances saving in the same instant
   * still could; the result is then refused loudly as `misconfigured`, never served wrongly.
   */
  private serially<T>(work: () => Promise<T>): Promise<T> {
    return this.writes.run(work);
  }

  private definitions(): Map<string, OperationConfig> {
    return new Map([...this.rows].map(([name, row]) => [name, row.definition]));
  }

  /** The write is committed: the others are told even if this instance's own reload fails. */
  private async changed(): Promise<void> {
    try {
      await this.reload();
    } finally {
      await this.options.announce();
    }
  }

  private async read(): Promise<void> {
    const stored = await allRoutes(this.options.db);
    const rows = new Map<string, StoredRoute>();
    const set: RouteSet = { routes: new Map(), problems: new Map() };
    for (const row of stored) {
      const parsed = operationSchema.safeParse(row.definition);
      if (parsed.success) set.routes.set(row.name, parsed.data);
      else {
        // Kept, so that its calls say why they fail instead of the operation vanishing.
        set.problems.set(row.name, `the stored route does not parse: ${parsed.error.issues[0]?.message ?? "invalid"}`);
        set.routes.set(row.name, { model: "", fallbacks: [], enabled: false, criticality: "MEDIUM", repair: false });
        this.options.logger.error({ operation: row.name }, "stored route does not parse; its calls are refused as misconfigured");
      }
      rows.set(row.name, toStored(row, set.routes.get(row.name)!));
    }
    this.rows = rows;
    this.options.apply(set);
  }
}

function toStored(row: RouteRow, definition: OperationConfig): StoredRoute {
  return { name: row.name, definition, source: row.source, updatedAt: row.updatedAt.toISOString(), updatedBy: row.updatedBy };
}
