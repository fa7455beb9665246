/**
 * The bounds every input shares, so that what a validator accepts the store can hold: a value past
 * them is the caller's mistake (400), never a store refusal that surfaces as an internal error (500).
 */
import { Decimal } from "decimal.js";
import { z } from "zod";
import { INT4_MAX, isDotsOnly, NAME_MAX_LENGTH } from "./limits.js";

export { INT4_MAX, isDotsOnly, LABEL_MAX_LENGTH, NAME_MAX_LENGTH } from "./limits.js";

/** Money columns are numeric(24,12): twelve digits before the point, so an amount stays below 10^12. */
export const MONEY_LIMIT = new Decimal("1e12");
const MONEY_LIMIT_TEXT = "1000000000000";

const PLAIN_DECIMAL = /^\d+(\.\d+)?$/;
const SIGNED_DECIMAL = /^-?\d+(\.\d+)?$/;

export interface MoneyOptions {
  /** Shown in the message for a malformed value. */
  example?: string;
  /** Negative amounts allowed (a change that costs more has negative savings). */
  signed?: boolean;
  /** A bound tighter than the column's, inclusive. */
  atMost?: Decimal;
}

/**
 * A USD amount as an exact decimal string ("0.27"); a JSON number is kept as written. It must fit the
 * store's numeric(24,12) columns: its magnitude stays below 10^12, compared as decimals, never floats.
 */
export function moneyAmount(options: MoneyOptions = {}) {
  const example = options.example ?? "0.27";
  const shape = options.signed ? SIGNED_DECIMAL : PLAIN_DECIMAL;
  const malformed = options.signed ? `expected a decimal such as "${example}"` : `expected a non-negative decimal such as "${example}"`;
  return z
    .union([z.string(), z.number()])
    // A number's own text may be exponent form (1e-7); Decimal writes it out in full.
    .transform((v) => (typeof v === "number" ? new Decimal(v).toFixed() : v.trim()))
    .superRefine((text, ctx) => {
      if (!shape.test(text)) {
        ctx.addIssue({ code: "custom", message: malformed });
        return;
      }
      const value = new Decimal(text);
      if (value.abs().gte(MONEY_LIMIT)) ctx.addIssue({ code: "custom", message: `must be less than ${MONEY_LIMIT_TEXT}${options.signed ? " in magnitude" : ""}` });
      else if (options.atMost && value.gt(options.atMost)) ctx.addIssue({ code: "custom", message: `must be at most ${options.atMost.toFixed()}` });
    });
}

/** A count stored in an `integer` column: a whole number from 1 to 2147483647. */
export function positiveInt4() {
  return z.number().int().positive().max(INT4_MAX, `must be at most ${INT4_MAX}`);
}

/**
 * The longest delay a Node timer keeps: a longer one fires after 1 ms instead (with a warning), so a
 * "very long" timeout would time every call out at once and a long interval would spin.
 */
export const TIMER_MAX_MS = 2_147_483_647;

/** A duration in ms that a timer waits for: a whole number, at most TIMER_MAX_MS (about 24.8 days). */
export function durationMs() {
  return z.number().int().max(TIMER_MAX_MS, `must be at most ${TIMER_MAX_MS} ms (about 24.8 days)`);
}

/** A name that may appear in an admin path: letters, digits, `_ . : -`, at most NAME_MAX_LENGTH characters. */
export function nameSchema(what: string) {
  return z
    .string()
    .regex(/^[A-Za-z0-9_.:-]+$/, `${what} names use letters, digits, _ . : -`)
    .refine((name) => !isDotsOnly(name), `${what} names are not dots alone (a URL path cannot hold them)`)
    .max(NAME_MAX_LENGTH, `${what} names are at most ${NAME_MAX_LENGTH} characters`);
}

/** A price's units per figure: its token and character prices are for `per` of them. */
const PER_UNITS = { "1M": 1_000_000, "1K": 1_000, "1": 1 } as const;
const PER_UNIT_FIELDS = ["input", "output", "cachedInput", "cacheWrite", "cacheWrite1h", "audioInput", "audioOutput", "reasoning", "characters"] as const;
/** A flat fee per request, and USD per minute of audio. */
const REQUEST_FEE_MAX = new Decimal(1_000);
const AUDIO_MINUTE_MAX = new Decimal(100);

type PriceFields = Partial<Record<(typeof PER_UNIT_FIELDS)[number] | "request" | "audioMinute", string>> & { per: keyof typeof PER_UNITS };
type TierFields = Partial<Record<(typeof PER_UNIT_FIELDS)[number], string>> & { inputTokens: number };

/**
 * No call's cost may leave the ledger's numeric(24,12) column. A token or character costs at most $1,
 * a request's fee at most $1,000 and a minute of audio at most $100: with every count the ledger's
 * integer columns can hold (and audio up to its numeric(14,3) seconds), the sum stays below 10^12.
 */
export function checkPriceBounds(price: PriceFields, ctx: z.RefinementCtx): void {
  checkPerUnit(price, price.per, [], ctx);
  const over = (field: "request" | "audioMinute", max: Decimal, why: string) => {
    const value = price[field];
    if (value !== undefined && PLAIN_DECIMAL.test(value) && new Decimal(value).gt(max)) {
      ctx.addIssue({ code: "custom", path: [field], message: `must be at most ${max.toFixed()} ${why}` });
    }
  };
  over("request", REQUEST_FEE_MAX, "USD per request");
  over("audioMinute", AUDIO_MINUTE_MAX, "USD per minute of audio");
}

/** A long-context tier's token prices keep to the same bounds, and tiers go up by prompt length, each once. */
export function checkPriceTiers(price: { per: keyof typeof PER_UNITS; above?: readonly TierFields[] }, ctx: z.RefinementCtx): void {
  price.above?.forEach((tier, i) => {
    checkPerUnit(tier, price.per, ["above", i], ctx);
    const previous = price.above![i - 1];
    if (previous !== undefined && tier.inputTokens <= previous.inputTokens) {
      ctx.addIssue({ code: "custom", path: ["above", i, "inputTokens"], message: `tiers go by ascending inputTokens: ${tier.inputTokens} follows ${previous.inputTokens}` });
    }
  });
}

/** Each token and character price of `fields` at most $1 a unit, reported at `path`. */
function checkPerUnit(fields: Partial<Record<(typeof PER_UNIT_FIELDS)[number], string>>, per: keyof typeof PER_UNITS, path: Array<string | number>, ctx: z.RefinementCtx): void {
  const perUnits = new Decimal(PER_UNITS[per]);
  for (const field of PER_UNIT_FIELDS) {
    const value = fields[field];
    if (value !== undefined && PLAIN_DECIMAL.test(value) && new Decimal(value).gt(perUnits)) {
      ctx.addIssue({ code: "custom", path: [...path, field], message: `must be at most ${perUnits.toFixed()} per ${per} (a price of at most $1 a ${field === "characters" ? "character" : "token"})` });
    }
  }
}

/**
 * Where in a request value a string (or an object key) holds a NUL character, which PostgreSQL's
 * `text` and `jsonb` refuse; undefined when there is none. Depth is bounded by the body reader.
 */
export function nulPath(value: unknown, path: Array<string | number> = []): Array<string | number> | undefined {
  if (typeof value === "string") return value.includes("\u0000") ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulPath(value[i], [...path, i]);
      if (found) return found;
    }
    return undefined;
  }
  if (value && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      if (key.includes("\u0000")) return [...path, key];
      const found = nulPath(inner, [...path, key]);
      if (found) return found;
    }
  }
  return undefined;
}
