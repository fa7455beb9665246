import { AirlockError } from "../core/errors.js";
import { isTier } from "../config/routes.js";
import type { Catalog, CatalogModel, Operation } from "./catalog.js";

export type Endpoint = "chat" | "embeddings" | "transcriptions" | "speech";

export interface PlanRequest {
  /** The request's `model` field: a catalog id, a bare upstream id, a tier or an operation name. */
  model: string | undefined;
  /** The `x-airlock-operation` header / library `operation` option. */
  operation: string | undefined;
  endpoint: Endpoint;
  /** Where the caller named the operation, for the refusal's `param`: the gateway's header, or the library's option. */
  operationParam?: "x-airlock-operation" | "operation";
}

/** Why the route differs from what was asked: recorded on the ledger row. */
export type RouteReason = "org_default" | "model_not_allowed" | "session_pinned" | "budget_step_down";

export interface Plan {
  operation: Operation | undefined;
  /** In the order they will be tried. Never empty. */
  candidates: CatalogModel[];
  routeReason: RouteReason | undefined;
  /** The model the caller named but the org does not allow, when it was replaced. */
  disallowedModel?: string;
  /** True when the caller named a catalog model: no route was followed, so no session pin applies. */
  named: boolean;
}

/**
 * Turns what the caller asked for into the ordered targets to try. A named model wins; otherwise the
 * operation's route (primary, then fallbacks) decides. Disabled models, and models outside the org's
 * enabled list, are dropped from the chain; a chain with nothing left is refused rather than sent anywhere.
 */
export function planCall(catalog: Catalog, request: PlanRequest): Plan {
  const named = request.model?.trim() || undefined;
  let operation = request.operation ? catalog.operations.get(request.operation) : undefined;
  if (request.operation && !operation) throw new AirlockError("not_found", `unknown operation "${request.operation}"`, { param: request.operationParam ?? "x-airlock-operation" });

  let refs: readonly string[];
  let routeReason: RouteReason | undefined;
  let disallowedModel: string | undefined;
  const direct = named ? lookupModel(catalog, named) : undefined;
  if (direct) {
    refs = [direct.id];
    if (!isAllowed(catalog, direct)) {
      disallowedModel = direct.id;
      refs = [orgSubstitute(catalog, direct).id];
      routeReason = "model_not_allowed";
    }
  } else if (named && catalog.operations.has(named)) {
    operation = catalog.operations.get(named);
    refs = operation!.chain;
  } else if (named && isTier(named)) {
    refs = [named];
  } else if (named) {
    throw new AirlockError("not_found", `unknown model "${named}": not a catalog model, tier or operation`, { param: "model" });
  } else if (operation) {
    refs = operation.chain;
  } else if (catalog.org.defaultModel) {
    refs = [catalog.org.defaultModel.id];
    routeReason = "org_default";
  } else {
    throw new AirlockError("invalid_request", "the request names no model and no operation", { param: "model" });
  }

  if (operation?.problem) throw new AirlockError("misconfigured", `operation "${operation.name}" cannot be served: ${operation.problem}`);
  if (operation && !operation.enabled) throw new AirlockError("disabled", `operation "${operation.name}" is disabled`);

  const candidates = resolveChain(catalog, refs);
  const usable = candidates.filter((m) => m.enabled && isAllowed(catalog, m) && kindServes(m, request.endpoint));
  if (usable.length === 0) {
    const wrongKind = candidates.find((m) => m.enabled && !kindServes(m, request.endpoint));
    if (wrongKind) throw new AirlockError("invalid_request", `model "${wrongKind.id}" is ${wrongKind.kind === "embedding" ? "an" : "a"} ${wrongKind.kind} model and cannot serve ${request.endpoint}`, { param: "model" });
    if (candidates.some((m) => m.enabled && !isAllowed(catalog, m))) {
      throw new AirlockError("forbidden", `no model on this route is enabled for the organisation (${candidates.map((m) => m.id).join(", ")})`);
    }
    throw new AirlockError("disabled", `every model on this route is disabled (${candidates.map((m) => m.id).join(", ")})`);
  }
  return { operation, candidates: usable, routeReason, named: direct !== undefined, ...(disallowedModel ? { disallowedModel } : {}) };
}

/** A chain's refs (models and tiers) as catalog models, in order, each once. */
/** The models a call to `operation` would try now, in order: disabled ones and those outside the org's list are not tried. */
export function servableCandidates(catalog: Catalog, operation: string): string[] {
  const found = catalog.operations.get(operation);
  if (!found) return [];
  return resolveChain(catalog, found.chain)
    .filter((model) => model.enabled && isAllowed(catalog, model))
    .map((model) => model.id);
}

export function resolveChain(catalog: Catalog, refs: readonly string[]): CatalogModel[] {
  const models: CatalogModel[] = [];
  for (const ref of refs) {
    const model = resolveRef(catalog, ref);
    if (model && !models.includes(model)) models.push(model);
  }
  return models;
}

export function isAllowed(catalog: Catalog, model: CatalogModel): boolean {
  return catalog.org.enabledModels === undefined || catalog.org.enabledModels.has(model.id);
}

/** A named model the org does not allow: its default serves instead, or the call is refused. */
function orgSubstitute(catalog: Catalog, asked: CatalogModel): CatalogModel {
  const fallback = catalog.org.defaultModel;
  if (catalog.org.onDisallowedModel === "refuse" || !fallback) {
    throw new AirlockError("forbidden", `model "${asked.id}" is not enabled for the organisation`, { param: "model" });
  }
  return fallback;
}

function lookupModel(catalog: Catalog, name: string): CatalogModel | undefined {
  return catalog.models.get(name) ?? catalog.aliases.get(name);
}

function resolveRef(catalog: Catalog, ref: string): CatalogModel | undefined {
  if (isTier(ref)) {
    const id = catalog.tiers[ref];
    return id ? catalog.models.get(id) : undefined;
  }
  return catalog.models.get(ref);
}

const KIND_FOR: Record<Endpoint, CatalogModel["kind"]> = { chat: "chat", embeddings: "embedding", transcriptions: "transcription", speech: "speech" };

export function kindServes(model: CatalogModel, endpoint: Endpoint): boolean {
  return model.kind === KIND_FOR[endpoint];
}

/**
 * The plan served by `cheap` first, the route's own candidates after it: what a LOW-criticality
 * operation runs on once a budget it spends from has passed its warning amount.
 */
export function stepDown(plan: Plan, cheap: CatalogModel): Plan {
  if (plan.candidates[0] === cheap) return plan;
  return { ...plan, candidates: [cheap, ...plan.candidates.filter((c) => c !== cheap)], routeReason: "budget_step_down" };
}
