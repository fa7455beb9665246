import { SpanKind, type Context, type Span } from "@opentelemetry/api";
import { LIBRARY_KEY_ID } from "../auth/principal.js";
import { Cancellation, type AbortSource } from "../core/cancel.js";
import { AirlockError, toAirlockError } from "../core/errors.js";
import { modelLabel, modelNameProblem } from "../core/model-name.js";
import type { ChatMessage, ChatRequest } from "../providers/spec.js";
import type { CatalogModel } from "../routing/catalog.js";
import type { ExecuteOptions } from "../routing/execute.js";
import { kindServes, planCall, stepDown, type Endpoint, type Plan } from "../routing/plan.js";
import { pinKey } from "../routing/sessions.js";
import { tracer } from "../telemetry/tracing.js";
import type { CallContext, CallDeps } from "./context.js";
import { GEN_AI_OPERATION, settle, type CallRecord } from "./settle.js";
import { askForShape, outputContract, type OutputContract } from "./structured.js";

function newRecord(deps: CallDeps, ctx: CallContext, endpoint: Endpoint, stream: boolean, model: string | undefined): CallRecord {
  // What the ledger and the span keep of the name: a refused one too, but never unbounded or unstorable.
  const requestedModel = modelLabel(model);
  return {
    endpoint,
    stream,
    startedAt: deps.clock.now(),
    requestedModel,
    operation: undefined,
    model: undefined,
    attempts: [],
    routeReason: undefined,
    pinKey: undefined,
    span: startSpan(endpoint, requestedModel, ctx.traceContext),
  };
}

/** A request refused before it could be planned (a malformed body): still one ledger row. */
export function refuseUnplanned(deps: CallDeps, ctx: CallContext, endpoint: Endpoint, requestedModel: string | undefined, err: unknown): AirlockError {
  return refuse(deps, ctx, newRecord(deps, ctx, endpoint, false, requestedModel), err);
}

/** Steps 2–3 of the hot path: resolve the route and pass the guards, or record the refusal. */
export function begin(deps: CallDeps, ctx: CallContext, endpoint: Endpoint, stream: boolean, requestedModel: string | undefined): { plan: Plan; record: CallRecord } {
  const record = newRecord(deps, ctx, endpoint, stream, requestedModel);
  try {
    const badName = requestedModel === undefined ? undefined : modelNameProblem(requestedModel);
    if (badName) throw new AirlockError("invalid_request", badName, { param: "model" });
    // Guards, before anything can reach an upstream. The global switch stops every call, even one that could not be planned.
    const stoppedAll = deps.killSwitch.check(undefined);
    if (stoppedAll) throw stoppedAll;
    let plan = planCall(deps.catalog, { model: requestedModel, operation: ctx.operation, endpoint, operationParam: ctx.principal.keyId === LIBRARY_KEY_ID ? "operation" : "x-airlock-operation" });
    record.operation = plan.operation;
    plan = keyModelsOnly(ctx, plan, requestedModel);
    const stopped = plan.operation ? deps.killSwitch.checkOperation(plan.operation.name) : undefined;
    if (stopped) throw stopped;
    if (plan.operation?.requiresToggle) deps.toggles.enforce(plan.operation.requiresToggle);
    if (plan.disallowedModel) {
      deps.logger.warn({ requestId: ctx.requestId, requested: plan.disallowedModel, served: plan.candidates[0]?.id }, "model not allowed; serving the org default");
    }
    // A call that names its model neither reads nor moves the session's pin.
    if (ctx.session && !plan.named) {
      record.pinKey = pinKey(ctx.principal.keyId, ctx.session, plan, requestedModel);
      plan = deps.sessions.apply(record.pinKey, plan);
    }
    const stepped = budgetStepDown(deps, ctx, plan, endpoint);
    if (stepped !== plan) {
      // A budget's step-down outranks the session's pin, and does not move it.
      record.pinKey = undefined;
      plan = stepped;
    }
    record.routeReason = plan.routeReason;
    if (ctx.log) ctx.log.operation = plan.operation?.name ?? ctx.operation;
    return { plan, record };
  } catch (err) {
    // A refused operation (disabled, misconfigured) is still recorded under its name.
    record.operation ??= deps.catalog.operations.get(record.requestedModel?.trim() ?? "") ?? (ctx.operation ? deps.catalog.operations.get(ctx.operation) : undefined);
    if (ctx.log) ctx.log.operation = record.operation?.name ?? ctx.operation;
    throw refuse(deps, ctx, record, err);
  }
}

/**
 * A key limited to some models (`POST /admin/keys` `models`) is served by those only, whichever way it
 * named its call: by model, operation, tier or none. Refused when none of the route's models is one.
 */
function keyModelsOnly(ctx: CallContext, plan: Plan, requestedModel: string | undefined): Plan {
  const allowed = ctx.principal.models;
  if (allowed === undefined) return plan;
  const candidates = plan.candidates.filter((model) => allowed.has(model.id));
  if (candidates.length === plan.candidates.length) return plan;
  if (candidates.length === 0) {
    const asked = plan.named && requestedModel !== undefined ? `model "${requestedModel.trim()}" is` : `no model on this route (${plan.candidates.map((m) => m.id).join(", ")}) is`;
    throw new AirlockError("forbidden", `${asked} not among the models this API key may use`, { param: "model" });
  }
  // The plan is this call's own (planCall makes one per call): narrowed in place, not copied with a new field.
  plan.candidates = candidates;
  return plan;
}

/**
 * Criticality-aware degradation: a LOW-criticality operation's routed call goes to the `cheap` tier
 * while a budget it spends from is past its warning amount, when configured. The ledger row says so
 * (`route_reason = budget_step_down`). Other criticalities, and calls that name their model, never move.
 */
function budgetStepDown(deps: CallDeps, ctx: CallContext, plan: Plan, endpoint: Endpoint): Plan {
  if (!deps.config.budgeting.stepDownLowCriticality || plan.operation?.criticality !== "LOW" || plan.named) return plan;
  const cheap = deps.catalog.tiers.cheap ? deps.catalog.models.get(deps.catalog.tiers.cheap) : undefined;
  // The cheap tier is a chat model as a rule: an embedding or audio call sent to it would fail upstream
  // (or be billed at the missing price), so such calls stay on their own route.
  if (!cheap?.enabled || !kindServes(cheap, endpoint)) return plan;
  if (ctx.principal.models && !ctx.principal.models.has(cheap.id)) return plan;
  if (!deps.budgets.warned({ principal: ctx.principal, endUser: ctx.endUser, operation: plan.operation.name })) return plan;
  return stepDown(plan, cheap);
}

export interface PreparedChat {
  plan: Plan;
  record: CallRecord;
  /** The body with the operation's templates applied and Airlock's own fields removed. */
  body: ChatRequest;
  contract: OutputContract | undefined;
}

/**
 * Steps 2–3 for a chat call, and the request made ready once for every candidate: the prompt
 * templates rendered, the output contract settled. Any refusal here is recorded.
 */
export function prepareChat(deps: CallDeps, ctx: CallContext, raw: ChatRequest, stream: boolean): PreparedChat {
  // Airlock's own fields never go upstream; the body is copied only when it carries them.
  const { variables, output_schema: schemaField } = raw;
  const rest = withoutNullOptions(variables !== undefined || schemaField !== undefined ? withoutAirlockFields(raw) : raw);
  const { plan, record } = begin(deps, ctx, "chat", stream, rest.model);
  try {
    // Only a user template may stand in for the caller's messages; a system prompt alone is no conversation.
    if (!plan.operation?.templates.user) requireMessages(rest);
    const body = applyTemplates(rest, plan, variables);
    requireMessages(body);
    const contract = outputContract(body, schemaField, plan);
    annotateRequestSpan(record, body);
    return { plan, record, body, contract };
  } catch (err) {
    throw refuse(deps, ctx, record, err);
  }
}

function withoutAirlockFields(raw: ChatRequest): ChatRequest {
  const { variables: _variables, output_schema: _schema, ...rest } = raw;
  return rest as ChatRequest;
}

/**
 * OpenAI reads an option sent as null (`"max_tokens": null`, as many clients serialise an unset one) as
 * not given, and so does Airlock: the operation's `maxTokens` and `temperature` then apply, the guards
 * reserve for what is sent, and no adapter translates a null into its own wire format. The body is
 * copied only when it holds one. `model` and `messages` keep theirs, to be refused as malformed.
 */
function withoutNullOptions(body: ChatRequest): ChatRequest {
  let copy: Record<string, unknown> | undefined;
  // `for…in` rather than Object.keys: no array per call on the hot path, and a JSON body has no inherited keys.
  for (const key in body) {
    if ((body as Record<string, unknown>)[key] !== null || key === "model" || key === "messages") continue;
    copy ??= { ...body };
    delete copy[key];
  }
  return (copy as ChatRequest | undefined) ?? body;
}

/** The operation's system template opens the conversation and its user template closes it. */
function applyTemplates(body: ChatRequest, plan: Plan, variables: unknown): ChatRequest {
  const templates = plan.operation?.templates;
  if (!templates?.system && !templates?.user) {
    if (variables !== undefined) throw new AirlockError("invalid_request", "variables were sent, but the operation has no prompt template", { param: "variables" });
    return body;
  }
  if (variables !== undefined && (variables === null || typeof variables !== "object" || Array.isArray(variables))) {
    throw new AirlockError("invalid_request", "variables must be a JSON object", { param: "variables" });
  }
  const vars = (variables ?? {}) as Record<string, unknown>;
  const messages: ChatMessage[] = Array.isArray(body.messages) ? [...body.messages] : [];
  if (templates.system) messages.unshift({ role: "system", content: templates.system.render(vars) });
  if (templates.user) messages.push({ role: "user", content: templates.user.render(vars) });
  // Ours first, the caller's after, then ours again: see test/hot-path-shapes.test.ts.
  const templated = { messages, ...(body as Partial<ChatRequest>) } as ChatRequest;
  templated.messages = messages;
  return templated;
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

/** Under `parent` when the caller sent its trace; otherwise under the active context (the library's caller's span, if any). */
function startSpan(endpoint: Endpoint, requestedModel: string | undefined, parent: Context | undefined): Span {
  const operationName = GEN_AI_OPERATION[endpoint];
  return tracer.startSpan(
    `${operationName} ${requestedModel ?? ""}`.trim(),
    {
      kind: SpanKind.CLIENT,
      attributes: { "gen_ai.operation.name": operationName, ...(requestedModel ? { "gen_ai.request.model": requestedModel } : {}) },
    },
    parent,
  );
}

/** The whole call's cancellation: the client's signal, bounded by the request deadline. Dispose when the call ends. */
export function callCancellation(deps: CallDeps, ctx: CallContext): Cancellation {
  return new Cancellation(ctx.signal, deps.config.timeouts.requestMs);
}

/** `keepAttemptDeadline`: a stream's attempt deadline goes on past its first event, as the limit on the upstream's silence. */
export function executeOptions(deps: CallDeps, ctx: CallContext, plan: Plan, record: CallRecord, signal: AbortSource, keepAttemptDeadline = false): ExecuteOptions {
  return {
    policy: plan.operation?.retryPolicy ?? deps.config.retry,
    clock: deps.clock,
    signal,
    attempts: record.attempts,
    attemptTimeoutMs: (model: CatalogModel) => attemptTimeoutMs(deps, plan, model),
    // The call's cancellation (callCancellation) was started just now with the same length.
    deadlineAt: deps.clock.now() + deps.config.timeouts.requestMs,
    breakers: deps.breakers,
    guard: () => deps.killSwitch.checkSettled(plan.operation?.name),
    onUnexpectedError: (error, model) => logUnexpected(deps, ctx, error, model),
    keepAttemptDeadline,
  };
}

/**
 * An adapter threw something it should not (a bug, not an upstream failure). Logged by its kind and
 * stack frames only: an error's message may quote the request (a JSON parse error quotes its input),
 * and prompt text never goes to the log.
 */
function logUnexpected(deps: CallDeps, ctx: CallContext, error: unknown, model: CatalogModel): void {
  const name = error instanceof Error ? error.name : typeof error;
  const frames = error instanceof Error && typeof error.stack === "string" ? error.stack.split("\n").filter((line) => line.trimStart().startsWith("at ")).join("\n") : undefined;
  deps.logger.error({ requestId: ctx.requestId, model: model.id, provider: model.providerName, error: name, stack: frames }, "provider adapter failed inside Airlock; trying the next candidate");
}

export function attemptTimeoutMs(deps: CallDeps, plan: Plan, model: CatalogModel): number {
  return plan.operation?.timeoutMs ?? model.timeoutMs ?? deps.config.timeouts.attemptMs;
}

/** Applies the operation's default parameters where the caller set none, the upstream model id, and the output contract. */
export function upstreamChatRequest(prepared: Pick<PreparedChat, "body" | "plan" | "contract">, model: CatalogModel): ChatRequest {
  const { body, plan, contract } = prepared;
  const op = plan.operation;
  // Not `{ ...body, model }` followed by new fields: fields added to a spread copy keep everything it
  // holds from dying young (docs/performance-findings.md#objects-spread-into). Copied into a literal, they do not.
  const request = { model: model.upstreamId, ...(body as Partial<ChatRequest>) } as ChatRequest;
  request.model = model.upstreamId;
  if (op?.maxTokens !== undefined && body.max_tokens === undefined && body.max_completion_tokens === undefined) request.max_tokens = op.maxTokens;
  if (op?.temperature !== undefined && body.temperature === undefined) request.temperature = op.temperature;
  return contract ? askForShape(request, contract, model) : request;
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
