import type { Span } from "@opentelemetry/api";
import { SpanStatusCode } from "@opentelemetry/api";
import { AirlockError } from "../core/errors.js";
import { newId, traceId as randomTraceId } from "../core/ids.js";
import { costText, costUnits, costUnitsText, withUnitFallback } from "../ledger/pricing.js";
import { emptyUsage, type Usage } from "../providers/spec.js";
import type { CatalogModel, Operation } from "../routing/catalog.js";
import type { AttemptRecord } from "../routing/execute.js";
import type { Endpoint, RouteReason } from "../routing/plan.js";
import type { CallContext, CallDeps } from "./context.js";
import type { Reservation } from "../guards/budget-reservations.js";
import type { RateHold } from "../guards/rate-limits.js";
import type { GrantUse } from "../guards/grants.js";
import type { ToolCallTally } from "./tool-calls.js";

export interface Settlement {
  usage: Usage;
  /** USD, exact decimal string. */
  cost: string;
  priceMissing: boolean;
  usageEstimated: boolean;
}

/** What a settled call hands back: its settlement, and which model answered after which attempts. */
export interface SettledCall extends Settlement {
  /** The catalog id that answered. */
  model: string;
  provider: string;
  attempts: AttemptRecord[];
}

/**
 * The settlement and the model that answered, as one object. Written out field by field, not spread:
 * a spread followed by more fields keeps the call's objects from dying young (test/hot-path-shapes.test.ts).
 */
export function settledCall(settlement: Settlement, model: CatalogModel, attempts: AttemptRecord[]): SettledCall {
  return {
    usage: settlement.usage,
    cost: settlement.cost,
    priceMissing: settlement.priceMissing,
    usageEstimated: settlement.usageEstimated,
    model: model.id,
    provider: model.providerName,
    attempts,
  };
}

export interface CallRecord {
  endpoint: Endpoint;
  stream: boolean;
  startedAt: number;
  requestedModel: string | undefined;
  operation: Operation | undefined;
  /** The model that served the call, or the last one tried. */
  model: CatalogModel | undefined;
  attempts: AttemptRecord[];
  usage?: Usage;
  /**
   * Set when the row holds more than one upstream request (a schema repair): `usage` is their sum, and
   * these are the requests one by one. Each is priced apart, as the provider bills it: a long-context
   * tier goes by each request's own prompt, and the request fee is charged per request.
   */
  requestUsages?: Usage[];
  usageEstimated?: boolean;
  ttftMs?: number;
  /** When a stream ended (its last chunk, a break, or its client leaving), if it was before the call settles. */
  endedAt?: number;
  /** The answer's tool calls, when it made any. */
  toolCalls?: ToolCallTally;
  error?: AirlockError;
  /** True when the call never reached a provider: a guard or the router refused it. */
  refused?: boolean;
  routeReason: RouteReason | undefined;
  /** The session pin this call reads and, on success, sets. */
  pinKey: string | undefined;
  /** What the call holds of its budgets until it settles. */
  reservation?: Reservation;
  /** What the call took from its rate limits. */
  rateHold?: RateHold;
  /** The approval grant a HIGH-criticality call ran under, and what it holds of the grant's spend. */
  grant?: GrantUse;
  span: Span;
}

const warnedMissingPrice = new Set<string>();

/** Prices the usage, as the ledger's exact text; an unpriced model is charged the configured safe price and flagged, never $0. */
export function priceUsage(deps: CallDeps, model: CatalogModel, usage: Usage): { cost: string; priceMissing: boolean } {
  if (model.price) {
    // Chat calls carry no units and return here at once.
    if (!usage.characters && !usage.audioSeconds) return { cost: costText(usage, model.price), priceMissing: false };
    const { price, fellBack } = withUnitFallback(usage, model.price, deps.catalog.missingPrice);
    if (fellBack) warnMissing(deps, model.id, "model has no price for the units it answered in (characters or audio); charging the configured missing price for them and flagging rows price_missing");
    return { cost: costText(usage, price), priceMissing: fellBack };
  }
  warnMissing(deps, model.id, "model has no price; charging the configured missing price and flagging rows price_missing");
  return { cost: costText(usage, deps.catalog.missingPrice), priceMissing: true };
}

/** The requests of one row priced one by one and added up, exactly (see CallRecord.requestUsages). */
function priceRequests(deps: CallDeps, model: CatalogModel, usages: readonly Usage[]): { cost: string; priceMissing: boolean } {
  let units = 0n;
  let priceMissing = false;
  for (const usage of usages) {
    const priced = priceUsage(deps, model, usage);
    units += costUnits(priced.cost);
    priceMissing ||= priced.priceMissing;
  }
  return { cost: costUnitsText(units), priceMissing };
}

function warnMissing(deps: CallDeps, model: string, message: string): void {
  if (warnedMissingPrice.has(model)) return;
  warnedMissingPrice.add(model);
  deps.logger.warn({ model }, message);
}

/** Settles a finished call: exact cost, one ledger row, metrics and the span. Never throws. */
export function settle(deps: CallDeps, ctx: CallContext, record: CallRecord): Settlement {
  const usage = record.usage ?? emptyUsage();
  const priced = record.model && record.usage ? (record.requestUsages ? priceRequests(deps, record.model, record.requestUsages) : priceUsage(deps, record.model, usage)) : undefined;
  const cost = priced ? priced.cost : "0";
  // Parsed once, here, for the budgets and the spend metric, which both sum exact units.
  const spent = priced ? costUnits(cost) : 0n;
  const latencyMs = (record.endedAt ?? deps.clock.now()) - record.startedAt;
  const outcome = record.error ? (record.refused ? "refused" : "error") : "success";
  const operationName = record.operation?.name ?? ctx.operation;
  const spanContext = record.span.spanContext();
  const traceId = spanContext.traceId && spanContext.traceId !== "00000000000000000000000000000000" ? spanContext.traceId : randomTraceId();

  // A value the call does not have is left undefined, not null: JSON.stringify leaves it out of the
  // row's JSON (see serializeLedgerRow), which is shorter to build and for the store to parse, and a
  // missing key is stored as NULL or the column's default. Zeros and falses whose column defaults to
  // the same (most calls have no cached, cache-write or reasoning tokens) are left out the same way.
  deps.ledger.record({
    id: newId("call"),
    ts: record.startedAt,
    requestId: ctx.requestId,
    traceId,
    keyId: ctx.principal.keyId,
    userId: ctx.principal.userId ?? undefined,
    teamId: ctx.principal.teamId ?? undefined,
    endUser: ctx.endUser,
    sessionId: ctx.session,
    operation: operationName,
    requestedModel: record.requestedModel,
    model: record.model?.id,
    provider: record.model?.providerName,
    endpoint: record.endpoint,
    stream: record.stream || undefined,
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    cachedInputTokens: usage.cachedInputTokens || undefined,
    cacheWriteTokens: usage.cacheWriteTokens || undefined,
    cacheWrite1hTokens: usage.cacheWrite1hTokens || undefined,
    audioInputTokens: usage.audioInputTokens || undefined,
    audioOutputTokens: usage.audioOutputTokens || undefined,
    reasoningTokens: usage.reasoningTokens || undefined,
    audioSeconds: usage.audioSeconds === undefined ? undefined : String(usage.audioSeconds),
    characters: usage.characters,
    cost,
    providerCost: usage.providerCost,
    priceMissing: priced?.priceMissing || undefined,
    usageEstimated: record.usageEstimated || undefined,
    latencyMs,
    ttftMs: record.ttftMs,
    outcome,
    errorCode: record.error?.code,
    httpStatus: record.error?.status ?? 200,
    attemptCount: record.attempts.length,
    attempts: record.attempts,
    fallbacks: countFallbacks(record.attempts) || undefined,
    toolCalls: record.toolCalls?.calls,
    toolCallFailures: record.toolCalls?.failures,
    routeReason: record.routeReason,
    budgetCharges: record.reservation ? deps.budgets.settle(record.reservation, cost, spent) : undefined,
  });
  if (outcome === "success" && record.pinKey && record.model) deps.sessions.remember(record.pinKey, record.model);
  if (record.rateHold) deps.rateLimits.settle(record.rateHold, usage.inputTokens + usage.outputTokens);
  if (record.grant) deps.grants.settle(record.grant, cost, reachedProvider(record.attempts));

  // Only configured operation names become labels: a header value from a client must not grow the series.
  deps.metrics.observeCall({
    endpoint: record.endpoint,
    operation: record.operation?.name ?? "none",
    model: record.model?.id ?? "none",
    outcome,
    latencySeconds: latencyMs / 1000,
    ttftSeconds: record.ttftMs === undefined ? undefined : record.ttftMs / 1000,
    errorCode: record.error?.code,
    usage: record.usage,
    costUnits: priced ? spent : undefined,
  });

  endSpan(record, usage, cost, operationName);
  return { usage, cost, priceMissing: priced?.priceMissing ?? false, usageEstimated: record.usageEstimated ?? false };
}

/** Whether any attempt was sent to a provider: one skipped for its open breaker was not. */
function reachedProvider(attempts: readonly AttemptRecord[]): boolean {
  for (const attempt of attempts) if (attempt.reason !== "circuit_open") return true;
  return false;
}

/** How many times the call moved on to another candidate. */
function countFallbacks(attempts: readonly AttemptRecord[]): number {
  let moves = 0;
  for (let i = 1; i < attempts.length; i++) if (attempts[i]!.model !== attempts[i - 1]!.model) moves++;
  return moves;
}

/** The GenAI semantic conventions' `gen_ai.operation.name` for each endpoint. */
export const GEN_AI_OPERATION: Record<Endpoint, string> = { chat: "chat", embeddings: "embeddings", transcriptions: "transcription", speech: "speech" };

/** GenAI semantic-convention attributes, plus Airlock's own under `airlock.*`. */
function endSpan(record: CallRecord, usage: Usage, cost: string, operation: string | undefined): void {
  const span = record.span;
  if (!span.isRecording()) return span.end();
  if (record.model) {
    span.setAttribute("gen_ai.provider.name", record.model.providerName);
    span.setAttribute("gen_ai.response.model", record.model.upstreamId);
    span.updateName(`${GEN_AI_OPERATION[record.endpoint]} ${record.model.upstreamId}`);
  }
  if (record.usage) {
    span.setAttribute("gen_ai.usage.input_tokens", usage.inputTokens);
    span.setAttribute("gen_ai.usage.output_tokens", usage.outputTokens);
  }
  span.setAttribute("airlock.cost_usd", cost);
  span.setAttribute("airlock.attempts", record.attempts.length);
  if (operation) span.setAttribute("airlock.operation", operation);
  if (record.error) {
    span.setAttribute("error.type", record.error.code);
    // The code, not the message: an upstream's message may quote the request (a parse error quotes the
    // prompt it could not read), and prompt text never leaves for a tracing backend. The ledger keeps the code too.
    span.setStatus({ code: SpanStatusCode.ERROR, message: record.error.code });
  }
  span.end();
}
