import type { Principal } from "../auth/principal.js";
import { parseRequest } from "../config/load.js";
import { rateLimitSchema, type RateLimitConfig } from "../config/schema.js";
import { AirlockError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { Db } from "../store/database.js";
import { auditBy } from "../store/queries/admin-rows.js";
import * as q from "../store/queries/rate-limit-rules.js";
import type { RateLimits } from "./rate-limits.js";

export interface RateLimitStatus extends RateLimitConfig {
  source: "config" | "admin";
  updatedAt: string;
  updatedBy: string | null;
}

export interface RateLimitRulesOptions {
  db: Db;
  logger: Logger;
  seeds: readonly RateLimitConfig[];
  /** Where the limits in force live: the call path reads them from memory only. */
  limits: Pick<RateLimits, "use">;
  announce(): Promise<void>;
}

/** The rate limits in the store: the config file's, and those an admin set through the admin API. */
export class RateLimitRules {
  private statuses: RateLimitStatus[] = [];

  constructor(private readonly options: RateLimitRulesOptions) {}

  async start(): Promise<void> {
    await q.seedRateLimitRules(this.options.db, this.options.seeds);
    await this.reload();
  }

  async reload(): Promise<void> {
    const statuses: RateLimitStatus[] = [];
    for (const row of await q.readRateLimitRules(this.options.db)) {
      const parsed = rateLimitSchema.safeParse(row.definition);
      // A row no schema accepts (written by a newer version) is left out, not allowed to stop the rest.
      if (!parsed.success) {
        this.options.logger.error({ rateLimit: row.name }, "stored rate limit is not valid; it is not enforced");
        continue;
      }
      statuses.push({ ...parsed.data, source: row.source, updatedAt: row.updatedAt.toISOString(), updatedBy: row.updatedBy });
    }
    this.statuses = statuses;
    this.options.limits.use(statuses.map(({ source: _s, updatedAt: _u, updatedBy: _b, ...limit }) => limit));
  }

  list(): RateLimitStatus[] {
    return this.statuses;
  }

  /** Creates or replaces a limit (admin keys), audited, in force at once here and announced to every instance. */
  async put(name: string, input: unknown, actor: Principal): Promise<RateLimitStatus> {
    if (actor.kind !== "admin") throw new AirlockError("forbidden", "only an admin key can set rate limits");
    const body = input && typeof input === "object" && !Array.isArray(input) ? { ...input, name } : input;
    const limit = parseRequest(rateLimitSchema, body, "rate limit");
    await q.writeRateLimitRule(this.options.db, limit, auditBy(actor));
    await this.reload();
    await this.options.announce();
    return this.statuses.find((status) => status.name === name)!;
  }

  async remove(name: string, actor: Principal): Promise<boolean> {
    if (actor.kind !== "admin") throw new AirlockError("forbidden", "only an admin key can delete rate limits");
    const removed = await q.deleteRateLimitRule(this.options.db, name, auditBy(actor));
    await this.reload();
    await this.options.announce();
    return removed;
  }
}
