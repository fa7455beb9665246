import type { AirlockConfig, ModelConfig, OperationConfig, PriceConfig, Tier } from "../config/schema.js";
import { DEFAULT_MISSING_PRICE, TIERS } from "../config/schema.js";
import { unitPrice, type UnitPrice } from "../ledger/pricing.js";
import type { ProviderV1 } from "../providers/spec.js";
import type { RouteWorld } from "../config/routes.js";
import { compileOperations, type Operation } from "./operations.js";

export type { Operation } from "./operations.js";

export interface CatalogModel {
  /** `provider/model-id` */
  id: string;
  providerName: string;
  /** The id the upstream knows it by: everything after the first `/`. */
  upstreamId: string;
  kind: ModelConfig["kind"];
  enabled: boolean;
  /** Undefined when the catalog has no price: costing then uses the configured missing price, flagged. */
  price: UnitPrice | undefined;
  provider: ProviderV1;
  /** Per-attempt timeout from the provider's config, if it sets one. */
  timeoutMs: number | undefined;
  /** `native`: ask with `response_format: json_schema`; `prompt`: with an instruction, then parse. */
  structuredOutput: "native" | "prompt";
}

export interface OrgPolicy {
  defaultModel: CatalogModel | undefined;
  /** Undefined: every catalog model is allowed. */
  enabledModels: ReadonlySet<string> | undefined;
  onDisallowedModel: "default" | "refuse";
}

/**
 * The config compiled into lookup tables, once per config change, so that resolving a call is a few
 * map reads. Immutable: a config change builds a new catalog and swaps it in.
 */
export interface Catalog {
  readonly models: ReadonlyMap<string, CatalogModel>;
  /** Bare upstream ids that name exactly one catalog model (`gpt-4o` → `openai/gpt-4o`). */
  readonly aliases: ReadonlyMap<string, CatalogModel>;
  readonly operations: ReadonlyMap<string, Operation>;
  readonly tiers: Readonly<Partial<Record<Tier, string>>>;
  readonly missingPrice: UnitPrice;
  readonly providers: ReadonlyMap<string, ProviderV1>;
  readonly org: OrgPolicy;
}

export type ProviderFactory = (name: string, config: AirlockConfig["providers"][string]) => ProviderV1;

/** The config's own operations, as the routes a fresh store is seeded with. */
export function configRoutes(config: AirlockConfig): Map<string, OperationConfig> {
  return new Map(Object.entries(config.operations));
}

/** Builds the catalog; `routes` (from the store) replace the config's operations when given. */
export function buildCatalog(config: AirlockConfig, createProvider: ProviderFactory, routes: ReadonlyMap<string, OperationConfig> = configRoutes(config)): Catalog {
  const providers = new Map<string, ProviderV1>();
  for (const [name, providerConfig] of Object.entries(config.providers)) providers.set(name, createProvider(name, providerConfig));

  const models = new Map<string, CatalogModel>();
  const aliasCounts = new Map<string, CatalogModel[]>();
  for (const model of config.models) {
    const slash = model.id.indexOf("/");
    const providerName = model.id.slice(0, slash);
    const provider = providers.get(providerName);
    if (!provider) throw new Error(`model ${model.id}: unknown provider ${providerName}`);
    const providerConfig = config.providers[providerName];
    const entry: CatalogModel = {
      id: model.id,
      providerName,
      upstreamId: model.id.slice(slash + 1),
      kind: model.kind,
      enabled: model.status === "enabled",
      price: model.price ? unitPrice(model.price) : undefined,
      provider,
      timeoutMs: providerConfig?.timeoutMs,
      structuredOutput: model.structuredOutput ?? providerConfig?.structuredOutput ?? (providerConfig?.type === "anthropic" ? "prompt" : "native"),
    };
    models.set(model.id, entry);
    aliasCounts.set(entry.upstreamId, [...(aliasCounts.get(entry.upstreamId) ?? []), entry]);
  }
  const aliases = new Map<string, CatalogModel>();
  for (const [alias, entries] of aliasCounts) if (entries.length === 1 && entries[0] && !models.has(alias)) aliases.set(alias, entries[0]);

  const tiers: Partial<Record<Tier, string>> = {};
  for (const tier of TIERS) if (config.tiers[tier]) tiers[tier] = config.tiers[tier];

  const org: OrgPolicy = {
    defaultModel: config.org.defaultModel ? models.get(config.org.defaultModel) : undefined,
    enabledModels: config.org.enabledModels ? new Set(config.org.enabledModels) : undefined,
    onDisallowedModel: config.org.onDisallowedModel,
  };
  const base = { models, aliases, tiers, missingPrice: missingUnitPrice(config.pricing.missingPrice), providers, org };
  return { ...base, operations: compileOperations(config, routeWorld(base), routes) };
}

/**
 * The configured missing price, with the default's character and audio prices where it sets none: a
 * missingPrice written for tokens alone must not let unpriced speech and transcription go for $0.
 */
function missingUnitPrice(price: PriceConfig): UnitPrice {
  const unit = unitPrice(price);
  if (unit.character && unit.audioMinute) return unit;
  const fallback = unitPrice(DEFAULT_MISSING_PRICE);
  return { ...unit, character: unit.character ?? fallback.character, audioMinute: unit.audioMinute ?? fallback.audioMinute };
}

/**
 * The same catalog with the prices in force from the store. A model the store has no price for is
 * left unpriced, so its calls are charged the missing price and flagged, never $0.
 */
export function withPrices(catalog: Catalog, prices: ReadonlyMap<string, PriceConfig>): Catalog {
  const models = new Map<string, CatalogModel>();
  for (const [id, model] of catalog.models) {
    const price = prices.get(id);
    models.set(id, { ...model, price: price ? unitPrice(price) : undefined });
  }
  const aliases = new Map([...catalog.aliases].map(([alias, model]) => [alias, models.get(model.id)!]));
  const defaultModel = catalog.org.defaultModel ? models.get(catalog.org.defaultModel.id) : undefined;
  return { ...catalog, models, aliases, org: { ...catalog.org, defaultModel } };
}

/** The same catalog with new routes: models and providers are shared, so nothing reconnects. */
export function withRoutes(catalog: Catalog, config: AirlockConfig, routes: ReadonlyMap<string, OperationConfig>, problems?: ReadonlyMap<string, string>): Catalog {
  return { ...catalog, operations: compileOperations(config, routeWorld(catalog), routes, problems) };
}

export function routeWorld(catalog: Pick<Catalog, "models" | "tiers" | "aliases">): RouteWorld {
  return { modelIds: new Set(catalog.models.keys()), tiers: catalog.tiers, aliases: new Set(catalog.aliases.keys()) };
}

export async function closeCatalog(catalog: Catalog): Promise<void> {
  await Promise.allSettled([...catalog.providers.values()].map((p) => p.close()));
}
