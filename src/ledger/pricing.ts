import { Decimal } from "decimal.js";
import type { PriceConfig } from "../config/schema.js";
import type { Usage } from "../providers/spec.js";

/** Enough significant digits that no realistic token count × price ever rounds. */
export const Money = Decimal.clone({ precision: 60, rounding: Decimal.ROUND_HALF_EVEN });
export type Money = Decimal;

/** Digits kept in the ledger: a millionth of a micro-dollar. */
export const COST_SCALE = 12;

/** Per-unit prices, divided out once when the config loads so a call only multiplies. */
export interface UnitPrice {
  input: Money;
  output: Money;
  cachedInput: Money;
  cacheWrite: Money;
  /** Anthropic's 1-hour cache writes; `cacheWrite` when the price sets none. */
  cacheWrite1h: Money;
  /** Audio tokens in and out; `input` and `output` when the price sets none. */
  audioInput: Money;
  audioOutput: Money;
  reasoning: Money;
  request: Money;
  /** Per character; undefined when the price sets none (a price of "0" is a price). */
  character: Money | undefined;
  /** Per minute: audio is divided by 60 last, so whole-second prices stay exact. Undefined when unset. */
  audioMinute: Money | undefined;
  /** The dearest of the input rates and of the output rates, for a budget's worst-case estimate. */
  dearestInput: Money;
  dearestOutput: Money;
  /** The token and request prices as integers at one decimal scale, for `costText`; unset when too fine. */
  fixed?: FixedPrices;
  /**
   * Long-context tiers by ascending `above`, each the token prices of a call whose prompt is longer
   * (see `tokenPrice`). A tier's own `fixed` is at the same scale as this price's, so either compares.
   */
  tiers?: readonly PriceTier[];
}

export interface PriceTier {
  /** Prompt tokens the call must pass (be more than) for the tier to apply. */
  above: number;
  /** The tier's token prices, with the request fee of the price it belongs to; its units are never read. */
  price: UnitPrice;
}

/** Prices × 10^scale, each an exact integer. */
interface FixedPrices {
  scale: number;
  input: bigint;
  output: bigint;
  cachedInput: bigint;
  cacheWrite: bigint;
  cacheWrite1h: bigint;
  audioInput: bigint;
  audioOutput: bigint;
  reasoning: bigint;
  request: bigint;
  /** As in UnitPrice, at the same scale. */
  dearestInput: bigint;
  dearestOutput: bigint;
}

/** Past this many decimal places a price keeps to decimal.js (no real price comes near it). */
const MAX_FIXED_SCALE = 40;

const PER: Record<PriceConfig["per"], number> = { "1M": 1_000_000, "1K": 1_000, "1": 1 };

type TokenFields = Pick<PriceConfig, "input" | "output" | "cachedInput" | "cacheWrite" | "cacheWrite1h" | "audioInput" | "audioOutput" | "reasoning">;
type TokenPrices = Record<Exclude<keyof FixedPrices, "scale" | "request" | "dearestInput" | "dearestOutput">, Money>;

export function unitPrice(price: PriceConfig): UnitPrice {
  const per = new Money(PER[price.per]);
  const request = new Money(price.request ?? "0");
  const base = tokenPrices(price, per);
  const tiers = (price.above ?? []).map((tier) => ({ above: tier.inputTokens, prices: tokenPrices(tier, per) }));
  // One scale for the price and its tiers, so a budget's worst case can compare their integers.
  const scale = Math.max(request.decimalPlaces(), ...[base, ...tiers.map((t) => t.prices)].flatMap((p) => Object.values(p).map((v) => v.decimalPlaces())));
  const units = (prices: TokenPrices): UnitPrice => ({
    ...prices,
    request,
    character: price.characters === undefined ? undefined : new Money(price.characters).div(per),
    audioMinute: price.audioMinute === undefined ? undefined : new Money(price.audioMinute),
    dearestInput: Money.max(prices.input, prices.cachedInput, prices.cacheWrite, prices.cacheWrite1h, prices.audioInput),
    dearestOutput: Money.max(prices.output, prices.reasoning, prices.audioOutput),
    fixed: scale > MAX_FIXED_SCALE ? undefined : fixedPrices(prices, request, scale),
  });
  const unit = units(base);
  if (tiers.length > 0) unit.tiers = tiers.map((tier) => ({ above: tier.above, price: units(tier.prices) }));
  return unit;
}

/** The per-token prices of a price or a tier, each unset one falling back as priceSchema says. */
function tokenPrices(price: TokenFields, per: Money): TokenPrices {
  const perToken = (v: string) => new Money(v).div(per);
  const input = perToken(price.input);
  const output = perToken(price.output);
  const cacheWrite = price.cacheWrite === undefined ? input : perToken(price.cacheWrite);
  return {
    input,
    output,
    cachedInput: price.cachedInput === undefined ? input : perToken(price.cachedInput),
    cacheWrite,
    cacheWrite1h: price.cacheWrite1h === undefined ? cacheWrite : perToken(price.cacheWrite1h),
    audioInput: price.audioInput === undefined ? input : perToken(price.audioInput),
    audioOutput: price.audioOutput === undefined ? output : perToken(price.audioOutput),
    reasoning: price.reasoning === undefined ? output : perToken(price.reasoning),
  };
}

function fixedPrices(prices: TokenPrices, request: Money, scale: number): FixedPrices {
  const factor = new Money(10).pow(scale);
  const at = (p: Money) => BigInt(p.mul(factor).toFixed());
  const [input, output, cachedInput, cacheWrite, cacheWrite1h, audioInput, audioOutput, reasoning] = [
    at(prices.input),
    at(prices.output),
    at(prices.cachedInput),
    at(prices.cacheWrite),
    at(prices.cacheWrite1h),
    at(prices.audioInput),
    at(prices.audioOutput),
    at(prices.reasoning),
  ];
  const max = (...xs: bigint[]) => xs.reduce((a, b) => (b > a ? b : a));
  return {
    scale,
    input,
    output,
    cachedInput,
    cacheWrite,
    cacheWrite1h,
    audioInput,
    audioOutput,
    reasoning,
    request: at(request),
    dearestInput: max(input, cachedInput, cacheWrite, cacheWrite1h, audioInput),
    dearestOutput: max(output, reasoning, audioOutput),
  };
}

/**
 * The token prices for a call with this many prompt tokens (all its input, cached and cache-written
 * included, as Google and Anthropic count it): the last tier the prompt is longer than, else the
 * price itself. The whole call is charged at them, not only the tokens past the threshold. A walk
 * over a short array, allocating nothing.
 */
export function tokenPrice(price: UnitPrice, promptTokens: number): UnitPrice {
  const tiers = price.tiers;
  if (tiers === undefined) return price;
  let chosen = price;
  for (let i = 0; i < tiers.length; i++) {
    const tier = tiers[i]!;
    if (!(promptTokens > tier.above)) break;
    chosen = tier.price;
  }
  return chosen;
}

/**
 * The exact cost of one call. Usage totals are inclusive (see `Usage`), so each breakdown is taken out
 * of its total before the total is charged: cached tokens are never billed twice, reasoning never dropped.
 * Tokens are priced at the call's tier (`tokenPrice`); characters and audio minutes at `price`'s own.
 */
export function costOf(usage: Usage, price: UnitPrice): Money {
  const tokens = tokenPrice(price, usage.inputTokens);
  const [plainInput, audioInput] = audioPart(Math.max(0, usage.inputTokens - usage.cachedInputTokens - usage.cacheWriteTokens), usage.audioInputTokens);
  const [plainOutput, audioOutput] = audioPart(Math.max(0, usage.outputTokens - usage.reasoningTokens), usage.audioOutputTokens);
  const { fiveMinute, oneHour } = cacheWrites(usage);
  // A term whose count is zero is skipped, not added as zero: most calls have no cached, cache-write or
  // reasoning tokens, and each Decimal operation allocates.
  let cost = tokens.request;
  cost = addUnits(cost, tokens.input, plainInput);
  cost = addUnits(cost, tokens.audioInput, audioInput);
  cost = addUnits(cost, tokens.audioOutput, audioOutput);
  cost = addUnits(cost, tokens.cachedInput, usage.cachedInputTokens);
  cost = addUnits(cost, tokens.cacheWrite, fiveMinute);
  cost = addUnits(cost, tokens.cacheWrite1h, oneHour);
  cost = addUnits(cost, tokens.output, plainOutput);
  cost = addUnits(cost, tokens.reasoning, usage.reasoningTokens);
  // Speech and transcription units; a chat call has neither and skips the arithmetic.
  if (usage.characters && price.character) cost = cost.add(price.character.mul(usage.characters));
  if (usage.audioSeconds && price.audioMinute) cost = cost.add(price.audioMinute.mul(usage.audioSeconds).div(60));
  return cost;
}

/**
 * Cache writes split by how long they are kept: the 1-hour part is inside the total (Anthropic reports
 * both), and is never taken to be more than the total, so a write is never charged twice.
 */
function cacheWrites(usage: Usage): { fiveMinute: number; oneHour: number } {
  const oneHour = Math.min(usage.cacheWrite1hTokens ?? 0, usage.cacheWriteTokens);
  return oneHour > 0 ? { fiveMinute: usage.cacheWriteTokens - oneHour, oneHour } : { fiveMinute: usage.cacheWriteTokens, oneHour: 0 };
}

/**
 * The audio tokens out of what is left of a total once its other breakdowns are out: [text, audio].
 * Audio is never taken to be more than that rest, so no token is charged twice.
 */
function audioPart(rest: number, audio: number | undefined): [number, number] {
  if (!audio || !(audio > 0)) return [rest, 0];
  const part = Math.min(audio, rest);
  return [rest - part, part];
}

function addUnits(sum: Money, unit: Money, count: number): Money {
  return count === 0 ? sum : sum.add(unit.mul(count));
}

/**
 * The price with its unit prices (characters, audio) taken from `fallback` where it has none, and
 * whether any were needed: a token-priced model answering in units must not cost $0 for them.
 */
export function withUnitFallback(usage: Usage, price: UnitPrice, fallback: UnitPrice): { price: UnitPrice; fellBack: boolean } {
  const characters = Boolean(usage.characters) && price.character === undefined;
  const audio = Boolean(usage.audioSeconds) && price.audioMinute === undefined;
  if (!characters && !audio) return { price, fellBack: false };
  return {
    price: { ...price, character: characters ? fallback.character : price.character, audioMinute: audio ? fallback.audioMinute : price.audioMinute },
    fellBack: true,
  };
}

/** The ledger's text form: fixed point, no exponent, at most COST_SCALE digits. */
export function formatCost(cost: Money): string {
  return cost.toDecimalPlaces(COST_SCALE).toFixed();
}

const POWERS_OF_TEN = new Map<number, bigint>();

/** 10^n as a bigint, computed once per n (there are at most a few: one per price scale). */
function powerOfTen(n: number): bigint {
  let power = POWERS_OF_TEN.get(n);
  if (power === undefined) POWERS_OF_TEN.set(n, (power = 10n ** BigInt(n)));
  return power;
}

/**
 * `formatCost(costOf(usage, price))`, the same text, for the hot path. A call's token prices are
 * integers at one scale (`UnitPrice.fixed`), so the sum is BigInt arithmetic, rounded half-even to
 * COST_SCALE digits once. Each decimal.js operation allocates a number and its digit array: costing a
 * call that way took seven of them. Units (characters, audio) and prices too fine to scale go through
 * decimal.js as before; pricing.test.ts checks both paths give the same text, long-context tiers and all.
 */
export function costText(usage: Usage, price: UnitPrice): string {
  const fixed = tokenPrice(price, usage.inputTokens).fixed;
  let plainInput = usage.inputTokens - usage.cachedInputTokens - usage.cacheWriteTokens;
  let plainOutput = usage.outputTokens - usage.reasoningTokens;
  if (
    fixed === undefined ||
    usage.characters ||
    usage.audioSeconds ||
    !isWholeCount(plainInput) ||
    !isWholeCount(plainOutput) ||
    !isWholeCount(usage.cachedInputTokens) ||
    !isWholeCount(usage.cacheWriteTokens) ||
    !isWholeCount(usage.reasoningTokens) ||
    (usage.cacheWrite1hTokens !== undefined && !isWholeCount(usage.cacheWrite1hTokens)) ||
    (usage.audioInputTokens !== undefined && !isWholeCount(usage.audioInputTokens)) ||
    (usage.audioOutputTokens !== undefined && !isWholeCount(usage.audioOutputTokens))
  ) {
    return formatCost(costOf(usage, price));
  }
  let sum = fixed.request;
  if (usage.audioInputTokens || usage.audioOutputTokens) {
    const [textInput, audioInput] = audioPart(plainInput, usage.audioInputTokens);
    const [textOutput, audioOutput] = audioPart(plainOutput, usage.audioOutputTokens);
    sum += BigInt(audioInput) * fixed.audioInput + BigInt(audioOutput) * fixed.audioOutput;
    plainInput = textInput;
    plainOutput = textOutput;
  }
  if (plainInput > 0) sum += BigInt(plainInput) * fixed.input;
  if (usage.cachedInputTokens > 0) sum += BigInt(usage.cachedInputTokens) * fixed.cachedInput;
  if (usage.cacheWriteTokens > 0) {
    const { fiveMinute, oneHour } = cacheWrites(usage);
    if (fiveMinute > 0) sum += BigInt(fiveMinute) * fixed.cacheWrite;
    if (oneHour > 0) sum += BigInt(oneHour) * fixed.cacheWrite1h;
  }
  if (plainOutput > 0) sum += BigInt(plainOutput) * fixed.output;
  if (usage.reasoningTokens > 0) sum += BigInt(usage.reasoningTokens) * fixed.reasoning;
  return fixedText(sum, fixed.scale);
}

/**
 * Dollars as integer counts of 10^-COST_SCALE, the store's numeric(24, 12) exactly: budget allowances
 * are sums and differences of these, so they are kept as bigints rather than decimal.js numbers.
 */
export type CostUnits = bigint;

const COST_UNITS_TEXT = /^(-?\d+)(?:\.(\d{1,12})0*)?$/;

/**
 * Exact: a decimal of at most COST_SCALE places (zeros past them are fine), as the store and costText
 * write them. Anything finer is refused rather than rounded, since the books must balance exactly.
 */
export function costUnits(text: string): CostUnits {
  const match = COST_UNITS_TEXT.exec(text);
  if (!match) throw new Error(`not an amount of at most ${COST_SCALE} decimal places: "${text}"`);
  // The sign, the integer digits and the fraction's digits read as one integer: "-0.5" is -5 × 10^11.
  return BigInt(match[1]! + (match[2] ?? "").padEnd(COST_SCALE, "0"));
}

/** A decimal.js amount in cost units, rounded to COST_SCALE places the way asked. */
export function costUnitsOf(amount: Money, rounding: Decimal.Rounding): CostUnits {
  return BigInt(amount.mul(COST_UNIT_FACTOR).toDecimalPlaces(0, rounding).toFixed());
}

const COST_UNIT_FACTOR = new Money(10).pow(COST_SCALE);

/** The shortest exact text, as decimal.js's toFixed() writes it: "0.035", "2", "-0.5". */
export function costUnitsText(units: CostUnits): string {
  return units < 0n ? `-${fixedText(-units, COST_SCALE)}` : fixedText(units, COST_SCALE);
}

/** `units / 10^scale` rounded up to a whole number of cost units (a budget's worst case never rounds down). */
export function costUnitsUp(units: bigint, scale: number): CostUnits {
  if (scale <= COST_SCALE) return units * powerOfTen(COST_SCALE - scale);
  const divisor = powerOfTen(scale - COST_SCALE);
  const quotient = units / divisor;
  return units % divisor > 0n ? quotient + 1n : quotient;
}

/**
 * A count BigInt arithmetic can take exactly: a non-negative whole number within JavaScript's safe
 * integers. costText and worstCostUnits send anything else to decimal.js (costOf clamps negatives to 0).
 */
export function isWholeCount(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

/** `units / 10^scale`, rounded half-even to COST_SCALE digits, as formatCost writes it. */
function fixedText(units: bigint, scale: number): string {
  let digits = scale;
  if (scale > COST_SCALE) {
    const divisor = powerOfTen(scale - COST_SCALE);
    let quotient = units / divisor;
    const twice = (units % divisor) * 2n;
    if (twice > divisor || (twice === divisor && quotient % 2n === 1n)) quotient += 1n;
    units = quotient;
    digits = COST_SCALE;
  }
  const text = units.toString().padStart(digits + 1, "0");
  const whole = text.slice(0, text.length - digits);
  const fraction = text.slice(text.length - digits).replace(/0+$/, "");
  return fraction === "" ? whole : `${whole}.${fraction}`;
}
