import { z } from "zod";
import { moneyAmount, positiveInt4 } from "../config/bounds.js";
import { budgetSchema, priceSchema } from "../config/schema.js";
import { parseRequest } from "../config/load.js";
import { AirlockError } from "../core/errors.js";
import { budgetInput } from "../guards/budget-book.js";
import type { FeatureToggles } from "../guards/toggles.js";
import { withoutUndefined } from "../ledger/price-book.js";
import { Money, tokenPrice, unitPrice, type UnitPrice } from "../ledger/pricing.js";
import type { Catalog } from "../routing/catalog.js";
import type { RouteBook } from "../routing/route-book.js";
import type { ChangeKind, CheckedChange } from "./change-control.js";

/** A grant to one key for one HIGH-criticality operation: until when, and for how many calls or how much spend. */
export const grantSchema = z
  .strictObject({
    keyId: z.string().min(1),
    operation: z.string().min(1),
    expiresInHours: z.number().positive().max(24 * 365).default(24),
    maxCalls: positiveInt4().optional(),
    maxSpendUsd: moneyAmount({ example: "5.00" }).optional(),
  })
  .refine((g) => g.maxCalls !== undefined || g.maxSpendUsd !== undefined, { message: "a grant needs maxCalls, maxSpendUsd or both" });

const toggleChange = z.strictObject({
  enabled: z.boolean().optional(),
  locked: z.boolean().optional(),
  controlledBy: z.enum(["ADMIN_ONLY", "USER", "BOTH"]).optional(),
});

export interface ChangeWorld {
  routes: RouteBook;
  catalog(): Catalog;
  toggles: FeatureToggles;
  /** Whether a key exists and is not revoked: a grant for any other would never be used. */
  isKeyActive(id: string): Promise<boolean>;
}

/**
 * Checks a proposed change as a direct admin change would be checked, puts it in the form the store
 * applies, and names it: a route whose primary model changes is a model switch, and a cost increase
 * when the new model's list price is higher; a price that goes up is a cost increase too.
 */
export async function checkChange(world: ChangeWorld, kind: ChangeKind, target: string, proposed: unknown): Promise<CheckedChange> {
  switch (kind) {
    case "route": {
      const definition = await world.routes.validate(target, proposed);
      const before = world.routes.get(target)?.definition.model;
      if (before === undefined || before === definition.model) return { proposed: definition, category: "route_change" };
      return { proposed: definition, category: dearer(world.catalog(), definition.model, before) ? "cost_increase" : "model_switch" };
    }
    case "price": {
      const model = world.catalog().models.get(target);
      if (!model) throw new AirlockError("not_found", `unknown model "${target}"`, { param: "target" });
      const price = parseRequest(priceSchema, proposed, `price for "${target}"`, "proposed");
      const higher = model.price !== undefined && raisesAny(unitPrice(price), model.price);
      return { proposed: withoutUndefined(price), category: higher ? "cost_increase" : "price_change" };
    }
    case "budget": {
      const body = proposed && typeof proposed === "object" && !Array.isArray(proposed) ? globalWithoutTarget({ ...proposed, name: target }) : proposed;
      const budget = budgetInput(parseRequest(budgetSchema, body, `budget "${target}"`, "proposed"));
      // A global budget has no target: none is proposed, so that approving the request checks it again as it was taken.
      const aimed = budget.scope === "global" ? {} : { target: budget.target };
      return {
        proposed: { scope: budget.scope, ...aimed, window: budget.period, timezone: budget.timezone, limit: budget.limitUsd, warnAt: budget.warnUsd },
        category: "budget_change",
      };
    }
    case "grant": {
      const grant = checkGrant(world.catalog(), proposed, "proposed");
      await assertKeyActive(world, grant.keyId, "proposed");
      if (target !== `${grant.keyId}/${grant.operation}`) throw new AirlockError("invalid_request", `a grant's target is "<key id>/<operation>": "${grant.keyId}/${grant.operation}"`, { param: "target" });
      return { proposed: grant, category: "approval_grant" };
    }
    case "toggle": {
      if (!world.toggles.get(target)) throw new AirlockError("not_found", `no feature toggle named "${target}"`, { param: "target" });
      return { proposed: parseRequest(toggleChange, proposed, `toggle "${target}"`, "proposed"), category: "toggle_change" };
    }
  }
}

/**
 * A grant's terms, checked the same whether an admin grants directly or approves a request: for an
 * operation the catalog has. `param` names the field errors point to (the whole grant, within a
 * change request); without it, the field at fault.
 */
export function checkGrant(catalog: Catalog, input: unknown, param?: string): z.infer<typeof grantSchema> {
  const grant = parseRequest(grantSchema, input, "grant", param);
  if (!catalog.operations.has(grant.operation)) throw new AirlockError("not_found", `unknown operation "${grant.operation}"`, { param: param ?? "operation" });
  return grant;
}

/** A grant is for a key that can use it: one mistyped, or revoked, would be approved and never used. */
export async function assertKeyActive(keys: Pick<ChangeWorld, "isKeyActive">, keyId: string, param: string): Promise<void> {
  if (!(await keys.isKeyActive(keyId))) throw new AirlockError("not_found", `no active key with id "${keyId}"`, { param });
}

/** True when both are priced catalog models and `next` lists dearer per input plus output token. */
function dearer(catalog: Catalog, next: string, before: string): boolean {
  const perToken = (id: string): Money | undefined => {
    const price = catalog.models.get(catalog.tiers[id as keyof Catalog["tiers"]] ?? id)?.price;
    return price ? price.input.add(price.output) : undefined;
  };
  const a = perToken(next);
  const b = perToken(before);
  return a !== undefined && b !== undefined && a.gt(b);
}

/**
 * True when any unit the model bills costs more under `next`: a dearer cache write, reasoning token,
 * audio token, request fee, character or minute of audio raises a bill as surely as dearer input.
 * Units `before` left unpriced are charged the missing price, so pricing them is not counted a rise.
 * Token prices are compared for every prompt length: a dearer long-context tier, a new one, or a
 * threshold lowered so that a tier starts sooner, raises the bill of a long call.
 */
function raisesAny(next: UnitPrice, before: UnitPrice): boolean {
  const units = ["request", "character", "audioMinute"] as const;
  const rises = (a: Money | undefined, b: Money | undefined) => a !== undefined && b !== undefined && a.gt(b);
  if (units.some((unit) => rises(next[unit], before[unit]))) return true;
  const tokens = ["input", "output", "cachedInput", "cacheWrite", "cacheWrite1h", "audioInput", "audioOutput", "reasoning"] as const;
  // Token prices change only just past a threshold, so the first token count past each one (and 0) covers every prompt length.
  const lengths = [0, ...[...(next.tiers ?? []), ...(before.tiers ?? [])].map((tier) => tier.above + 1)];
  return lengths.some((length) => {
    const [a, b] = [tokenPrice(next, length), tokenPrice(before, length)];
    return tokens.some((unit) => rises(a[unit], b[unit]));
  });
}

/** Requests taken before global budgets were proposed without a target hold an empty one: read as none. */
function globalWithoutTarget(body: Record<string, unknown>): Record<string, unknown> {
  if (body.scope !== "global" || body.target !== "") return body;
  const { target: _empty, ...rest } = body;
  return rest;
}
