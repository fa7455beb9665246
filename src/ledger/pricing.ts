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
  reasoning: Money;
  request: Money;
  /** Per character; undefined when the price sets none (a price of "0" is a price). */
  character: Money | undefined;
  /** Per minute: audio is divided by 60 last, so whole-second prices stay exact. Undefined when unset. */
  audioMinute: Money | undefined;
  /** The dearest of the input rates and of the output rates, for a budget's worst-case estimate. */
  dearestInput: Money;
  dearestOutput: Money;
}

const PER: Record<PriceConfig["per"], number> = { "1M": 1_000_000, "1K": 1_000, "1": 1 };

export function unitPrice(price: PriceConfig): UnitPrice {
  const per = new Money(PER[price.per]);
  const perToken = (v: string) => new Money(v).div(per);
  const input = perToken(price.input);
  const output = perToken(price.output);
  const cachedInput = price.cachedInput === undefined ? input : perToken(price.cachedInput);
  const cacheWrite = price.cacheWrite === undefined ? input : perToken(price.cacheWrite);
  const reasoning = price.reasoning === undefined ? output : perToken(price.reasoning);
  return {
    input,
    output,
    cachedInput,
    cacheWrite,
    reasoning,
    request: new Money(price.request ?? "0"),
    character: price.characters === undefined ? undefined : perToken(price.characters),
    audioMinute: price.audioMinute === undefined ? undefined : new Money(price.audioMinute),
    dearestInput: Money.max(input, cachedInput, cacheWrite),
    dearestOutput: Money.max(output, reasoning),
  };
}

/**
 * The exact cost of one call. Usage totals are inclusive (see `Usage`), so each breakdown is taken out
 * of its total before the total is charged: cached tokens are never billed twice, reasoning never dropped.
 */
export function costOf(usage: Usage, price: UnitPrice): Money {
  const plainInput = Math.max(0, usage.inputTokens - usage.cachedInputTokens - usage.cacheWriteTokens);
  const plainOutput = Math.max(0, usage.outputTokens - usage.reasoningTokens);
  // A term whose count is zero is skipped, not added as zero: most calls have no cached, cache-write or
  // reasoning tokens, and each Decimal operation allocates.
  let cost = price.request;
  cost = addUnits(cost, price.input, plainInput);
  cost = addUnits(cost, price.cachedInput, usage.cachedInputTokens);
  cost = addUnits(cost, price.cacheWrite, usage.cacheWriteTokens);
  cost = addUnits(cost, price.output, plainOutput);
  cost = addUnits(cost, price.reasoning, usage.reasoningTokens);
  // Speech and transcription units; a chat call has neither and skips the arithmetic.
  if (usage.characters && price.character) cost = cost.add(price.character.mul(usage.characters));
  if (usage.audioSeconds && price.audioMinute) cost = cost.add(price.audioMinute.mul(usage.audioSeconds).div(60));
  return cost;
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
