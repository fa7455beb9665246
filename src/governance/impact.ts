import type { OperationConfig, PriceConfig } from "../config/schema.js";
import { costOf, formatCost, Money, tokenPrice, unitPrice, type UnitPrice } from "../ledger/pricing.js";
import type { Catalog } from "../routing/catalog.js";
import type { Db } from "../store/database.js";
import { usageTotals, type PromptGroup, type UsageTotals } from "../store/queries/usage-totals.js";
import type { ChangeImpact } from "../store/schema/index.js";
import type { ChangeKind } from "./change-control.js";

export interface ImpactWorld {
  db: Db;
  catalog(): Catalog;
  /** Writes pending ledger rows first, so the replay sees every call made. */
  flushLedger(): Promise<void>;
}

const DAY_MS = 86_400_000;

/**
 * The last `days` of the ledger replayed under a proposed route or price: the calls of the operation
 * (for a route) or to the model (for a price), priced as the change would price them, beside what they
 * cost. Exact decimal. Null for other kinds, or when the proposed model has no price to replay with.
 * A price with long-context tiers replays each call at the tier its own prompt reaches.
 */
export async function estimateImpact(world: ImpactWorld, kind: ChangeKind, target: string, proposed: unknown, days: number): Promise<ChangeImpact | null> {
  const since = new Date(Date.now() - days * DAY_MS);
  let groups: PromptGroup[];
  let price: UnitPrice;
  let basis: string;
  if (kind === "route") {
    const catalog = world.catalog();
    const primary = (proposed as OperationConfig).model;
    const model = catalog.models.get(catalog.tiers[primary as keyof Catalog["tiers"]] ?? primary);
    if (!model?.price) return null;
    price = model.price;
    await world.flushLedger();
    groups = await usageTotals(world.db, { operation: target }, since, thresholds(price));
    basis = `the successful calls of operation "${target}" over ${days} days, priced as ${model.id}`;
  } else if (kind === "price") {
    price = unitPrice(proposed as PriceConfig);
    await world.flushLedger();
    groups = await usageTotals(world.db, { model: target }, since, thresholds(price));
    basis = `the successful calls to ${target} over ${days} days, at the proposed price`;
  } else {
    return null;
  }
  const current = groups.reduce((sum, group) => sum.add(group.totals.cost), new Money(0));
  const projected = groups.reduce((sum, group) => sum.add(replayCost(group.totals, tokenPrice(price, group.longerThan + 1))), new Money(0));
  return {
    days,
    calls: groups.reduce((sum, group) => sum + group.totals.calls, 0),
    currentCostUsd: formatCost(current),
    projectedCostUsd: formatCost(projected),
    projectedMonthlyChangeUsd: formatCost(projected.sub(current).mul(30).div(days)),
    basis,
  };
}

/** The prompt lengths at which the price's long-context tiers start: the ledger is summed apart between them. */
function thresholds(price: UnitPrice): number[] {
  return (price.tiers ?? []).map((tier) => tier.above);
}

/**
 * Costing is linear in the token counts, so the totals priced at once equal the calls priced one by
 * one; the flat fee is per call. `price` is the one tier every call of the totals is charged at (see
 * `tokenPrice`): summed prompts say nothing of any one call's, so its tiers are not chosen again here.
 */
export function replayCost(totals: UsageTotals, price: UnitPrice): Money {
  if (totals.calls === 0) return new Money(0);
  const usage = {
    inputTokens: totals.inputTokens,
    outputTokens: totals.outputTokens,
    cachedInputTokens: totals.cachedInputTokens,
    cacheWriteTokens: totals.cacheWriteTokens,
    cacheWrite1hTokens: totals.cacheWrite1hTokens,
    audioInputTokens: totals.audioInputTokens,
    audioOutputTokens: totals.audioOutputTokens,
    reasoningTokens: totals.reasoningTokens,
    characters: totals.characters,
  };
  // Units the proposed price does not price cost nothing here, as a call's would cost the missing price:
  // the replay compares prices, and a missing one is the catalog's to fix, not a projected saving.
  let cost = costOf(usage, { ...price, tiers: undefined }).add(price.request.mul(totals.calls - 1));
  // The seconds' sum is exact decimal text (numeric(14,3)): multiplied here, not through a float.
  if (price.audioMinute && totals.audioSeconds !== "0") cost = cost.add(price.audioMinute.mul(totals.audioSeconds).div(60));
  return cost;
}
