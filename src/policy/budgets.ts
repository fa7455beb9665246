import type { Principal } from "../auth/principal.js";
import type { BUDGET_SCOPES } from "../config/schema.js";
import { AirlockError } from "../core/errors.js";
import { costUnitsOf, costUnitsUp, isWholeCount, Money, type CostUnits, type UnitPrice } from "../ledger/pricing.js";
import type { ChatMessage } from "../providers/spec.js";

export type BudgetScope = (typeof BUDGET_SCOPES)[number];
export type BudgetPeriod = "daily" | "monthly";

/** A budget as the guard holds it: money already parsed, the window's clock already built. */
export interface BudgetDefinition {
  name: string;
  scope: BudgetScope;
  /** Empty for `global`. */
  target: string;
  period: BudgetPeriod;
  timezone: string;
  limit: Money;
  warnAt: Money | undefined;
}

/** Who a call is for, as budgets see it. */
export interface BudgetSubject {
  principal: Pick<Principal, "keyId" | "userId" | "teamId" | "orgId">;
  /** The end user the caller named (`x-airlock-user`, the library's `user`). */
  endUser: string | undefined;
  operation: string | undefined;
}

/** The index key a budget is filed under; a call looks up one key per scope. */
export function scopeKey(scope: BudgetScope, target: string): string {
  return scope === "global" ? "global" : `${scope}:${target}`;
}

/** The index keys a call's budgets may be filed under, most specific first. */
export function subjectKeys(subject: BudgetSubject): string[] {
  const { principal, endUser, operation } = subject;
  const keys = [scopeKey("key", principal.keyId)];
  if (principal.userId) keys.push(scopeKey("user", principal.userId));
  // Both, when they differ: naming another end user never escapes the key's own user's budget.
  if (endUser && endUser !== principal.userId) keys.push(scopeKey("user", endUser));
  if (principal.teamId) keys.push(scopeKey("team", principal.teamId));
  if (principal.orgId) keys.push(scopeKey("org", principal.orgId));
  if (operation) keys.push(scopeKey("operation", operation));
  keys.push("global");
  return keys;
}

export interface Window {
  /** Epoch milliseconds, inclusive. */
  start: number;
  /** Epoch milliseconds, exclusive. */
  end: number;
}

const wallClocks = new Map<string, Intl.DateTimeFormat>();

function wallClock(timezone: string): Intl.DateTimeFormat {
  let format = wallClocks.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", { timeZone: timezone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });
    wallClocks.set(timezone, format);
  }
  return format;
}

/** The zone's wall-clock fields at an instant. */
function wallAt(timezone: string, at: number): { year: number; month: number; day: number; offsetMs: number } {
  const parts: Record<string, number> = {};
  for (const part of wallClock(timezone).formatToParts(at)) if (part.type !== "literal") parts[part.type] = Number(part.value);
  const wallAsUtc = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return { year: parts.year!, month: parts.month!, day: parts.day!, offsetMs: wallAsUtc - Math.floor(at / 1000) * 1000 };
}

/** The instant a wall-clock midnight happens in the zone, taking the offset in force then (DST moves it). */
function midnight(timezone: string, year: number, monthIndex: number, day: number): number {
  const wall = Date.UTC(year, monthIndex, day);
  const guess = wall - wallAt(timezone, wall).offsetMs;
  const found = wall - wallAt(timezone, guess).offsetMs;
  // Where clocks jump forward at midnight (Santiago, Havana), midnight never shows: `found` is then the
  // previous day's 23:00, and the day starts when the clocks jump, which `guess` (the old offset) is.
  return dayOf(timezone, found) === wall ? found : guess;
}

function dayOf(timezone: string, at: number): number {
  const { year, month, day } = wallAt(timezone, at);
  return Date.UTC(year, month - 1, day);
}

/** The daily or monthly window that holds `at`, bounded by the zone's midnights. */
export function windowAt(period: BudgetPeriod, timezone: string, at: number): Window {
  const { year, month, day } = wallAt(timezone, at);
  if (period === "daily") return { start: midnight(timezone, year, month - 1, day), end: midnight(timezone, year, month - 1, day + 1) };
  return { start: midnight(timezone, year, month - 1, 1), end: midnight(timezone, year, month, 1) };
}

/**
 * Tokens a non-text part (an image, audio, a file) may cost at most. Providers bill images by size
 * (OpenAI up to about 1,100 tokens at high detail, Anthropic about 1,600), far under this bound.
 */
const ATTACHMENT_TOKEN_BOUND = 10_000;
/** OpenAI's framing: a few tokens per message and for the reply's start; generous for the others. */
const TOKENS_PER_MESSAGE = 8;

/**
 * An upper bound on a chat request's input tokens without running a tokenizer: every tokenizer in use
 * (byte-level BPE, or SentencePiece with byte fallback) spends at least one UTF-8 byte per token.
 */
export function inputTokenBound(messages: readonly ChatMessage[], tools: unknown): number {
  let tokens = TOKENS_PER_MESSAGE;
  for (const message of messages) {
    tokens += TOKENS_PER_MESSAGE + contentBound(message.content);
    if (message.tool_calls) tokens += Buffer.byteLength(JSON.stringify(message.tool_calls));
  }
  if (tools !== undefined) tokens += Buffer.byteLength(JSON.stringify(tools));
  return tokens;
}

function contentBound(content: unknown): number {
  if (typeof content === "string") return Buffer.byteLength(content);
  if (!Array.isArray(content)) return content == null ? 0 : Buffer.byteLength(JSON.stringify(content));
  let tokens = 0;
  for (const part of content as Array<{ type?: string; text?: unknown }>) {
    tokens += part?.type === "text" && typeof part.text === "string" ? Buffer.byteLength(part.text) : ATTACHMENT_TOKEN_BOUND;
  }
  return tokens;
}

export interface WorstCase {
  inputTokens: number;
  outputTokens: number;
  characters?: number;
  audioSeconds?: number;
  /** How many upstream answers the call may pay for: 2 when a structured answer may be repaired. */
  answers: number;
}

/**
 * The most one model can charge for the call: every input token at the dearest input rate (cache
 * writes cost more than plain input), every output token at the dearest output rate (reasoning may be
 * billed apart), and the flat fee, once per answer. A repair re-sends the answer as input. A price
 * with long-context tiers is taken at the dearest of those the prompt could pass: the estimate is an
 * upper bound of the prompt, so any tier below it may be the call's.
 */
export function worstCost(price: UnitPrice, worst: WorstCase): Money {
  let inputRate = price.dearestInput;
  let outputRate = price.dearestOutput;
  const tiers = price.tiers;
  if (tiers !== undefined) {
    const prompt = worstPrompt(worst);
    for (let i = 0; i < tiers.length && !(prompt <= tiers[i]!.above); i++) {
      inputRate = Money.max(inputRate, tiers[i]!.price.dearestInput);
      outputRate = Money.max(outputRate, tiers[i]!.price.dearestOutput);
    }
  }
  let one = inputRate.mul(worst.inputTokens).add(outputRate.mul(worst.outputTokens)).add(price.request);
  if (worst.characters && price.character) one = one.add(price.character.mul(worst.characters));
  if (worst.audioSeconds && price.audioMinute) one = one.add(price.audioMinute.mul(worst.audioSeconds).div(60));
  if (worst.answers === 1) return one;
  return one.mul(worst.answers).add(inputRate.mul(worst.outputTokens * (worst.answers - 1)));
}

/** The longest prompt any answer of the call may send: a repair's carries the answer before it. */
function worstPrompt(worst: WorstCase): number {
  return worst.answers > 1 ? worst.inputTokens + worst.outputTokens * (worst.answers - 1) : worst.inputTokens;
}

/**
 * `worstCost` in cost units, rounded up: what a budget reserves. Token prices are integers at one
 * scale (`UnitPrice.fixed`, its tiers' at the same one), so the usual call is four bigint operations,
 * not a dozen decimal.js ones. Units (characters, audio) and prices too fine to scale take the
 * decimal.js path.
 */
export function worstCostUnits(price: UnitPrice, worst: WorstCase): CostUnits {
  const fixed = price.fixed;
  const { inputTokens, outputTokens, answers } = worst;
  if (
    fixed === undefined ||
    (worst.characters && price.character) ||
    (worst.audioSeconds && price.audioMinute) ||
    !isWholeCount(inputTokens) ||
    !isWholeCount(outputTokens) ||
    !isWholeCount(answers) ||
    answers < 1
  ) {
    return costUnitsOf(worstCost(price, worst), Money.ROUND_UP);
  }
  let inputRate = fixed.dearestInput;
  let outputRate = fixed.dearestOutput;
  const tiers = price.tiers;
  if (tiers !== undefined) {
    const prompt = worstPrompt(worst);
    for (let i = 0; i < tiers.length && !(prompt <= tiers[i]!.above); i++) {
      const tier = tiers[i]!.price.fixed!;
      if (tier.dearestInput > inputRate) inputRate = tier.dearestInput;
      if (tier.dearestOutput > outputRate) outputRate = tier.dearestOutput;
    }
  }
  const one = inputRate * BigInt(inputTokens) + outputRate * BigInt(outputTokens) + fixed.request;
  const all = answers === 1 ? one : one * BigInt(answers) + inputRate * BigInt(outputTokens) * BigInt(answers - 1);
  return costUnitsUp(all, fixed.scale);
}

/** The refusal for a budget with no room left: 429, with Retry-After at the window's end. toFixed: a small limit is named as written (0.0000001), never as 1e-7. */
export function budgetExceeded(budget: BudgetDefinition, window: Window, now: number): AirlockError {
  return new AirlockError("budget_exceeded", `budget "${budget.name}" (${budget.scope}${budget.target ? ` ${budget.target}` : ""}, ${budget.period} $${budget.limit.toFixed()}) has no room for this call`, {
    retryAfterSeconds: Math.max(1, Math.ceil((window.end - now) / 1000)),
    details: { budget: budget.name, scope: budget.scope, period: budget.period, limit: budget.limit.toFixed(), resets_at: new Date(window.end).toISOString() },
  });
}

/** A budget cannot be held against a model whose cost is unknown: fail closed, naming both. */
export function unpricedUnderBudget(model: string, budget: BudgetDefinition): AirlockError {
  return new AirlockError("misconfigured", `model "${model}" has no price, and budget "${budget.name}" applies to this call: a budget cannot be kept on an unpriced model. Set a price for the model.`, {
    details: { model, budget: budget.name },
  });
}
