import type { Principal } from "../auth/principal.js";
import { budgetSchema, type BudgetConfig } from "../config/schema.js";
import { parseRequest } from "../config/load.js";
import { AirlockError } from "../core/errors.js";
import { COST_SCALE, Money } from "../ledger/pricing.js";
import { scopeKey, subjectKeys, type BudgetDefinition, type BudgetSubject } from "../policy/budgets.js";
import type { Db } from "../store/database.js";
import { auditBy } from "../store/queries/admin-rows.js";
import * as q from "../store/queries/budgets.js";
import type { BudgetRow } from "../store/schema/index.js";
import type { BudgetStatus } from "./budget-status.js";

export type { BudgetStatus } from "./budget-status.js";


/**
 * The budgets in the store, mirrored in memory and indexed by what they hold (a key, a user, a team,
 * an org, an operation, or everything), so that finding a call's budgets is a few map lookups.
 */
export class BudgetBook {
  private rows: BudgetRow[] = [];
  private definitions = new Map<string, BudgetDefinition>();
  private index = new Map<string, BudgetDefinition[]>();

  constructor(
    private readonly db: Db,
    private readonly seeds: readonly q.BudgetInput[],
  ) {}

  async start(): Promise<void> {
    await q.seedBudgets(this.db, this.seeds);
    await this.reload();
  }

  async reload(): Promise<void> {
    const rows = await q.readBudgets(this.db);
    const definitions = new Map(rows.map((row) => [row.name, definitionOf(row)]));
    const index = new Map<string, BudgetDefinition[]>();
    for (const def of definitions.values()) {
      const key = scopeKey(def.scope, def.target);
      index.set(key, [...(index.get(key) ?? []), def]);
    }
    this.rows = rows;
    this.definitions = definitions;
    this.index = index;
  }

  get size(): number {
    return this.definitions.size;
  }

  get(name: string): BudgetDefinition | undefined {
    return this.definitions.get(name);
  }

  applying(subject: BudgetSubject): BudgetDefinition[] {
    if (this.index.size === 0) return [];
    const found: BudgetDefinition[] = [];
    for (const key of subjectKeys(subject)) {
      const defs = this.index.get(key);
      if (defs) found.push(...defs);
    }
    return found;
  }

  /** Every budget with its open window's counters, read from the store. */
  async status(): Promise<BudgetStatus[]> {
    const windows = new Map((await q.openWindows(this.db)).map((w) => [w.budget, w]));
    return this.rows.map((row) => {
      const w = windows.get(row.name);
      return {
        name: row.name,
        scope: row.scope,
        ...(row.scope === "global" ? {} : { target: row.target }),
        window: row.period,
        timezone: row.timezone,
        limit: new Money(row.limitUsd).toFixed(),
        warnAt: row.warnUsd === null ? null : new Money(row.warnUsd).toFixed(),
        source: row.source,
        updatedAt: row.updatedAt.toISOString(),
        updatedBy: row.updatedBy,
        current: w
          ? {
              start: w.start.toISOString(),
              end: w.end.toISOString(),
              spent: new Money(w.spent).toFixed(),
              reserved: new Money(w.reserved).toFixed(),
              remaining: Money.max(0, new Money(w.limit).sub(w.spent)).toFixed(),
              warned: w.warnedAt !== null,
              exhausted: w.exhaustedAt !== null,
            }
          : null,
      };
    });
  }

  /** Creates or replaces a budget (admin keys); audited. The caller announces the change. */
  async put(name: string, input: unknown, actor: Principal): Promise<BudgetRow> {
    if (actor.kind !== "admin") throw new AirlockError("forbidden", "only an admin key can set budgets");
    const body = input && typeof input === "object" && !Array.isArray(input) ? { ...input, name } : input;
    const budget = parseRequest(budgetSchema, body, "budget");
    const row = await q.writeBudget(this.db, budgetInput(budget), auditBy(actor));
    await this.reload();
    return row;
  }

  async remove(name: string, actor: Principal): Promise<boolean> {
    if (actor.kind !== "admin") throw new AirlockError("forbidden", "only an admin key can delete budgets");
    const deleted = await q.deleteBudget(this.db, name, auditBy(actor));
    await this.reload();
    return deleted;
  }
}

/** A config budget as the store holds it: the warning amount defaults to 80% of the limit. */
export function budgetInput(budget: BudgetConfig): q.BudgetInput {
  const limit = new Money(budget.limit);
  return {
    name: budget.name,
    scope: budget.scope,
    target: budget.target ?? "",
    period: budget.window,
    timezone: budget.timezone,
    limitUsd: limit.toFixed(),
    warnUsd: budget.warnAt ?? limit.mul("0.8").toDecimalPlaces(COST_SCALE).toFixed(),
  };
}

function definitionOf(row: BudgetRow): BudgetDefinition {
  return {
    name: row.name,
    scope: row.scope,
    target: row.target,
    period: row.period,
    timezone: row.timezone,
    limit: new Money(row.limitUsd),
    warnAt: row.warnUsd === null ? undefined : new Money(row.warnUsd),
  };
}
