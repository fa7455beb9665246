import { SpanKind, type Span } from "@opentelemetry/api";
import { Cancellation, type AbortSource } from "../core/cancel.js";
import { AirlockError, toAirlockError } from "../core/errors.js";
import type { ChatRequest } from "../providers/spec.js";
import type { CatalogModel } from "../routing/catalog.js";
import type { ExecuteOptions } from "../routing/execute.js";
import { planCall, type Endpoint, type Plan } from "../routing/plan.js";
import { tracer } from "../telemetry/tracing.js";
import type { CallContext, CallDeps } from "./context.js";
import { settle, type CallRecord } from "./settle.js";

function newRecord(deps: CallDeps, endpoint: Endpoint, stream: boolean, requestedModel: string | undefined): CallRecord {
  return {
    endpoint,
    stream,
    startedAt: deps.clock.now(),
    requestedModel,
    operation: undefined,
    model: undefined,
    attempts: [],
    span: startSpan(endpoint, requestedModel),
  };
}

/** A request refused before it could be planned (a malformed body): still one ledger row. */
export function refuseUnplanned(deps: CallDeps, ctx: CallContext, endpoint: Endpoint, requestedModel: string | undefined, err: unknown): AirlockError {
  return refuse(deps, ctx, newRecord(deps, endpoint, false, requestedModel), err);
}

/** Steps 2–3 of the hot path: resolve the route and pass the guards, or record the refusal. */
export function begin(deps: CallDeps, ctx: CallContext, endpoint: Endpoint, stream: boolean, requestedModel: string | undefined): { plan: Plan; record: CallRecord } {
  const record = newRecord(deps, endpoint, stream, requestedModel);
  try {
    const plan = planCall(deps.catalog, { model: requestedModel, operation: ctx.operation, endpoint });
    record.operation = plan.operation;
    return { plan, record };
  } catch (err) {
    throw refuse(deps, ctx, record, err);
  }
}

/** Records a call that never reached a provider, and returns the error to throw. */
export function refuse(deps: CallDeps, ctx: CallContext, record: CallRecord, err: unknown): AirlockError {
  const error = toAirlockError(err);
  record.error = error;
  record.refused = true;
  settle(deps, ctx, record);
  return error;
}

export function fail(deps: CallDeps, ctx: CallContext, record: CallRecord, err: unknown): AirlockError {
  const error = toAirlockError(err);
  if (error.code === "misconfigured" && !(err instanceof AirlockError)) deps.logger.error({ err, requestId: ctx.requestId }, "call failed inside Airlock");
  record.error = error;
  settle(deps, ctx, record);
  return error;
}

function startSpan(endpoint: Endpoint, requestedModel: string | undefined): Span {
  const operationName = endpoint === "chat" ? "chat" : "embeddings";
  return tracer.startSpan(`${operationName} ${requestedModel ?? ""}`.trim(), {
    kind: SpanKind.CLIENT,
    attributes: { "gen_ai.operation.name": operationName, ...(requestedModel ? { "gen_ai.request.model": requestedModel } : {}) },
  });
}

/** The whole call's cancellation: the client's signal, bounded by the request deadline. Dispose when the call ends. */
export function callCancellation(deps: CallDeps, ctx: CallContext): Cancellation {
  return new Cancellation(ctx.signal, deps.config.timeouts.requestMs);
}

export function executeOptions(deps: CallDeps, plan: Plan, record: CallRecord, signal: AbortSource): ExecuteOptions {
  const operationTimeout = plan.operation?.timeoutMs;
  const fallbackTimeout = deps.config.timeouts.attemptMs;
  return {
    policy: deps.config.retry,
    clock: deps.clock,
    signal,
    attempts: record.attempts,
    attemptTimeoutMs: (model: CatalogModel) => operationTimeout ?? model.timeoutMs ?? fallbackTimeout,
  };
}

/** Applies the operation's default parameters where the caller set none, and the upstream model id. */
export function upstreamChatRequest(body: ChatRequest, plan: Plan, model: CatalogModel): ChatRequest {
  const op = plan.operation;
  const request: ChatRequest = { ...body, model: model.upstreamId };
  if (op?.maxTokens !== undefined && body.max_tokens === undefined && body.max_completion_tokens === undefined) request.max_tokens = op.maxTokens;
  if (op?.temperature !== undefined && body.temperature === undefined) request.temperature = op.temperature;
  return request;
}

export function annotateRequestSpan(record: CallRecord, body: ChatRequest): void {
  if (!record.span.isRecording()) return;
  const maxTokens = body.max_tokens ?? body.max_completion_tokens;
  if (typeof maxTokens === "number") record.span.setAttribute("gen_ai.request.max_tokens", maxTokens);
  if (typeof body.temperature === "number") record.span.setAttribute("gen_ai.request.temperature", body.temperature);
}

export function requireMessages(body: ChatRequest): void {
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw new AirlockError("invalid_request", "messages must be a non-empty array", { param: "messages" });
  }
}
