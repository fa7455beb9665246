import { AirlockError } from "../core/errors.js";
import { TIERS, type Tier } from "../config/schema.js";
import type { Catalog, CatalogModel, Operation } from "./catalog.js";

export type Endpoint = "chat" | "embeddings";

export interface PlanRequest {
  /** The request's `model` field: a catalog id, a bare upstream id, a tier or an operation name. */
  model: string | undefined;
  /** The `x-airlock-operation` header / library `operation` option. */
  operation: string | undefined;
  endpoint: Endpoint;
}

export interface Plan {
  operation: Operation | undefined;
  /** In the order they will be tried. Never empty. */
  candidates: CatalogModel[];
}

/**
 * Turns what the caller asked for into the ordered targets to try. A named model wins; otherwise the
 * operation's route (primary, then fallbacks) decides. Disabled models are dropped from the chain,
 * and a chain with nothing left is refused as `disabled` rather than sent anywhere.
 */
export function planCall(catalog: Catalog, request: PlanRequest): Plan {
  const named = request.model?.trim() || undefined;
  let operation = request.operation ? catalog.operations.get(request.operation) : undefined;
  if (request.operation && !operation) throw new AirlockError("not_found", `unknown operation "${request.operation}"`, { param: "x-airlock-operation" });

  let refs: string[];
  const direct = named ? lookupModel(catalog, named) : undefined;
  if (direct) {
    refs = [direct.id];
  } else if (named && catalog.operations.has(named)) {
    operation = catalog.operations.get(named);
    refs = routeOf(operation!);
  } else if (named && isTier(named)) {
    refs = [named];
  } else if (named) {
    throw new AirlockError("not_found", `unknown model "${named}": not a catalog model, tier or operation`, { param: "model" });
  } else if (operation) {
    refs = routeOf(operation);
  } else {
    throw new AirlockError("invalid_request", "the request names no model and no operation", { param: "model" });
  }

  if (operation && !operation.enabled) throw new AirlockError("disabled", `operation "${operation.name}" is disabled`);

  const candidates: CatalogModel[] = [];
  for (const ref of refs) {
    const model = resolveRef(catalog, ref);
    if (model && !candidates.includes(model)) candidates.push(model);
  }
  const usable = candidates.filter((m) => m.enabled && kindServes(m, request.endpoint));
  if (usable.length === 0) {
    const wrongKind = candidates.find((m) => m.enabled && !kindServes(m, request.endpoint));
    if (wrongKind) throw new AirlockError("invalid_request", `model "${wrongKind.id}" is a ${wrongKind.kind} model and cannot serve ${request.endpoint}`, { param: "model" });
    throw new AirlockError("disabled", `every model on this route is disabled (${candidates.map((m) => m.id).join(", ")})`);
  }
  return { operation, candidates: usable };
}

function routeOf(operation: Operation): string[] {
  return [operation.model, ...operation.fallbacks];
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

function isTier(name: string): name is Tier {
  return (TIERS as readonly string[]).includes(name);
}

function kindServes(model: CatalogModel, endpoint: Endpoint): boolean {
  return endpoint === "chat" ? model.kind === "chat" : model.kind === "embedding";
}
