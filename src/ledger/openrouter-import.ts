import { priceSchema } from "../config/schema.js";
import type { CatalogPrice } from "./bundled-catalog.js";
import { Money } from "./pricing.js";

export const OPENROUTER_SOURCE = "openrouter.ai/api/v1/models";

export interface OpenRouterImport {
  prices: CatalogPrice[];
  /** Models that carry no usable price, and why. */
  skipped: Array<{ id: string; reason: string }>;
}

/** A plain decimal, optionally signed, optionally with an exponent: what OpenRouter's price strings are. */
const DECIMAL_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const PER_TOKEN_TO_PER_1M = 1_000_000;

/** OpenRouter's per-token (per-request for `request`) price fields, and where each one lands. */
const FIELDS = ["prompt", "completion", "request", "internal_reasoning", "input_cache_read", "input_cache_write"] as const;
type Field = (typeof FIELDS)[number];

/**
 * Prices from OpenRouter's `GET /api/v1/models` response. OpenRouter quotes USD per token as decimal
 * strings; they become exact per-1M-token strings (decimal arithmetic, never binary floats) under the id
 * `openrouter/<id>`. A model whose price is variable ("-1", as for `openrouter/auto`), missing or not
 * a number is skipped with the reason.
 */
export function pricesFromOpenRouter(json: unknown, options: { effectiveDate?: string } = {}): OpenRouterImport {
  if (!isRecord(json) || !Array.isArray(json.data)) {
    throw new Error(`not an OpenRouter models list: expected {"data": [...]} as GET https://openrouter.ai/api/v1/models returns, got ${describe(json)}`);
  }
  const effectiveDate = options.effectiveDate ?? new Date().toISOString().slice(0, 10);
  if (!DATE.test(effectiveDate)) throw new Error(`effectiveDate must be YYYY-MM-DD, got ${JSON.stringify(effectiveDate)}`);

  const prices: CatalogPrice[] = [];
  const skipped: OpenRouterImport["skipped"] = [];
  const seen = new Set<string>();

  json.data.forEach((entry: unknown, i: number) => {
    const id = isRecord(entry) && typeof entry.id === "string" && entry.id.trim() ? entry.id : `data[${i}]`;
    const skip = (reason: string) => skipped.push({ id, reason });
    if (!isRecord(entry)) return skip("not an object");
    if (id === `data[${i}]`) return skip("no id");
    if (seen.has(id)) return skip("duplicate id");
    if (!isRecord(entry.pricing)) return skip("no pricing");

    const values: Partial<Record<Field, Money>> = {};
    for (const field of FIELDS) {
      const raw = entry.pricing[field];
      if (raw === undefined || raw === null) continue;
      if (typeof raw !== "string" || !DECIMAL_TEXT.test(raw.trim())) return skip(`pricing.${field} is not a decimal string: ${JSON.stringify(raw)}`);
      const value = new Money(raw.trim());
      if (value.isNegative()) return skip(`pricing.${field} is negative (${raw}): the price varies by route`);
      values[field] = value;
    }
    if (!values.prompt) return skip("no pricing.prompt");
    if (!values.completion) return skip("no pricing.completion");

    const perMillion = (v: Money) => v.times(PER_TOKEN_TO_PER_1M).toFixed();
    const positive = (v: Money | undefined): v is Money => v !== undefined && v.isPositive() && !v.isZero();
    const { prompt, completion, request, internal_reasoning: reasoning, input_cache_read: cacheRead, input_cache_write: cacheWrite } = values;
    const price = priceSchema.parse({
      input: perMillion(prompt),
      output: perMillion(completion),
      ...(positive(cacheRead) ? { cachedInput: perMillion(cacheRead) } : {}),
      ...(positive(cacheWrite) ? { cacheWrite: perMillion(cacheWrite) } : {}),
      ...(positive(reasoning) && !reasoning.equals(completion) ? { reasoning: perMillion(reasoning) } : {}),
      // A flat fee per request: already in USD per request, so not scaled.
      ...(positive(request) ? { request: request.toFixed() } : {}),
      per: "1M",
      source: OPENROUTER_SOURCE,
      effectiveDate,
    });
    seen.add(id);
    prices.push({ model: `openrouter/${id}`, price });
  });
  return { prices, skipped };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (isRecord(value)) return `an object with keys ${JSON.stringify(Object.keys(value).slice(0, 5))}`;
  return typeof value;
}
