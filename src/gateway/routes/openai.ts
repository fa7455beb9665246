import type { IncomingMessage, ServerResponse } from "node:http";
import { propagation, ROOT_CONTEXT } from "@opentelemetry/api";
import type { Principal } from "../../auth/principal.js";
import type { CallContext } from "../../calls/context.js";
import type { AbortSource } from "../../core/cancel.js";
import { AirlockError } from "../../core/errors.js";
import { modelNameProblem } from "../../core/model-name.js";
import type { CatalogModel } from "../../routing/catalog.js";
import type { Endpoint } from "../../routing/plan.js";
import { identityOf } from "../../providers/chunk-wire.js";
import type { ChatChunk, ChatRequest, ChunkWire, EmbedRequest, Usage } from "../../providers/spec.js";
import { requirePrincipal } from "../auth.js";
import type { GatewayContext, Handler, RequestScope } from "../context.js";
import { headerLabel, isObject, readJson, sendJson } from "../http.js";
import { SSE_HEADERS, SseWriter } from "../sse.js";
import { validateChat, validateEmbed } from "../../calls/request-shape.js";

/** `POST /v1/chat/completions`, streaming and not, in OpenAI's wire format. */
export function chatCompletions(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    const principal = await requirePrincipal(gw.plane, req, scope);
    const ctx = callContext(req, scope, principal);
    const body = await readValid(gw, ctx, "chat", req, validateChat);
    const { stream, stream_options: streamOptions, ...request } = body;
    scope.log.model = request.model;
    if (stream === true) return streamChat(res, gw, ctx, scope, request as ChatRequest, isObject(streamOptions) && streamOptions.include_usage === true);

    const outcome = await gw.plane.chat(request as ChatRequest, ctx);
    scope.log.model = outcome.model;
    sendJson(
      res,
      200,
      {
        id: outcome.result.id,
        object: "chat.completion",
        created: outcome.result.created,
        model: outcome.model,
        choices: outcome.result.choices,
        usage: openAIUsage(outcome.usage),
        ...(outcome.result.system_fingerprint ? { system_fingerprint: outcome.result.system_fingerprint } : {}),
        ...(outcome.result.service_tier ? { service_tier: outcome.result.service_tier } : {}),
      },
      airlockHeaders(scope, outcome.model, outcome.provider, outcome.attempts.length, outcome.cost),
    );
  };
}

async function streamChat(res: ServerResponse, gw: GatewayContext, ctx: CallContext, scope: RequestScope, request: ChatRequest, includeUsage: boolean): Promise<void> {
  const live = await gw.plane.stream(request, ctx, { chunksAsText: true });
  // The access log names the model that served, as for a call answered whole.
  scope.log.model = live.model;
  // airlockHeaders() returns a fresh object with none of the SSE header names: it takes them, no third copy.
  res.writeHead(200, Object.assign(airlockHeaders({ requestId: ctx.requestId }, live.model, live.provider, live.attempts.length), SSE_HEADERS));
  // Read only for the usage chunk's id and time; a chunk relayed as text is read for them without a parse.
  let last: ChunkWire | ChatChunk | undefined;
  // Alone, the first event leaves before the rest of its burst is written; under load it waits for them.
  const events = new SseWriter(res, gw.requestsInFlight() === 1);
  try {
    for await (const part of live) {
      if (part.type === "wire") {
        let backpressure: Promise<void> | undefined;
        for (const chunk of part.chunks) backpressure = events.write(chunk.text);
        last = part.chunks[part.chunks.length - 1];
        if (backpressure) await drainedOrEnded(backpressure, live.ended);
      } else if (part.type === "chunk") {
        last = part.chunk;
        const backpressure = events.write(JSON.stringify(part.chunk));
        if (backpressure) await drainedOrEnded(backpressure, live.ended);
      } else if (part.type === "delivered") {
        // Every chunk is out and no usage chunk was asked for: the client need not wait for the tokens to be counted.
        if (!includeUsage) {
          await events.write("[DONE]");
          events.end();
        }
      } else if (includeUsage) {
        const lastChunk = last && identityOf(last, live.provider);
        const usageChunk = { id: lastChunk?.id ?? ctx.requestId, object: "chat.completion.chunk", created: lastChunk?.created ?? Math.floor(Date.now() / 1000), model: live.model, choices: [], usage: openAIUsage(part.end.usage) };
        const backpressure = events.write(JSON.stringify(usageChunk));
        if (backpressure) await drainedOrEnded(backpressure, live.ended);
      }
      if (res.destroyed) break;
    }
    await events.write("[DONE]");
  } catch (err) {
    // Bytes are out already: the only honest ending left is an error event, never a silent stop.
    const error = err instanceof AirlockError ? err : new AirlockError("provider_error", "the stream broke");
    scope.log.code = error.code; // the status line said 200; the access log still says the call failed
    // Not awaited: a client that stopped reading would hold the handler until it reads or leaves.
    void events.write(JSON.stringify(error.toJSON()));
  } finally {
    events.end();
  }
}

/**
 * Waits for a client that reads slower than the stream comes, but no longer than the call lasts: one
 * that stopped reading must not hold its call past the deadline, its upstream already cut and its
 * ledger row unwritten until it leaves.
 */
function drainedOrEnded(drained: Promise<void>, ended: AbortSource): Promise<void> {
  if (ended.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      ended.removeEventListener("abort", done);
      resolve();
    };
    ended.addEventListener("abort", done, { once: true });
    void drained.then(done);
  });
}

/** `POST /v1/embeddings`. */
export function embeddings(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    const principal = await requirePrincipal(gw.plane, req, scope);
    const ctx = callContext(req, scope, principal);
    const body = await readValid(gw, ctx, "embeddings", req, validateEmbed);
    scope.log.model = body.model as string | undefined;
    const outcome = await gw.plane.embed(body as unknown as EmbedRequest, ctx);
    scope.log.model = outcome.model;
    sendJson(
      res,
      200,
      {
        object: "list",
        data: outcome.result.data.map((d) => ({ object: "embedding", index: d.index, embedding: d.embedding })),
        model: outcome.model,
        usage: { prompt_tokens: outcome.usage.inputTokens, total_tokens: outcome.usage.inputTokens },
      },
      airlockHeaders(scope, outcome.model, outcome.provider, outcome.attempts.length, outcome.cost),
    );
  };
}

/** The order `GET /v1/models` lists the kinds in (a stable sort keeps the catalog's order within each). */
const KIND_ORDER: Record<CatalogModel["kind"], number> = { chat: 0, embedding: 1, transcription: 2, speech: 3 };

interface ModelEntry {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
}

/** What `/v1/models` lists: enabled catalog models first, then operations, which are callable by name too. */
function modelEntries(gw: GatewayContext, principal: Principal): ModelEntry[] {
  const created = Math.floor(gw.startedAt.getTime() / 1000);
  const catalog = gw.plane.catalog;
  // A model outside the org's list is never what serves a call that names it: offering it would mislead.
  const allowed = catalog.org.enabledModels;
  const models = [...catalog.models.values()]
    .filter((m) => m.enabled && (allowed === undefined || allowed.has(m.id)) && (principal.models === undefined || principal.models.has(m.id)))
    .sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind])
    .map((m): ModelEntry => ({ id: m.id, object: "model", created, owned_by: m.providerName }));
  const operations = [...catalog.operations.values()].filter((o) => o.enabled && !o.problem).map((o): ModelEntry => ({ id: o.name, object: "model", created, owned_by: "airlock-operation" }));
  return [...models, ...operations];
}

/** `GET /v1/models`. */
export function listModels(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    const principal = await requirePrincipal(gw.plane, req, scope);
    sendJson(res, 200, { object: "list", data: modelEntries(gw, principal) });
  };
}

/**
 * `GET /v1/models/{model}` (the openai SDK's models.retrieve): one entry of the list. A catalog id holds
 * a "/", which the SDK sends encoded (`demo%2Fairlock-mini`) and curl users write as it is: the route
 * takes the rest of the path either way.
 */
export function retrieveModel(gw: GatewayContext): Handler {
  return async (req, res, scope, params) => {
    const principal = await requirePrincipal(gw.plane, req, scope);
    const id = params["*"] ?? "";
    const entry = modelEntries(gw, principal).find((m) => m.id === id);
    if (entry === undefined) throw new AirlockError("not_found", "no such model: it is not in the catalog, or not enabled", { param: "model" });
    sendJson(res, 200, entry);
  };
}

/** Reads and checks the body; a refusal here is still a call, so it gets its ledger row. */
export async function readValid<T extends { model?: string }>(gw: GatewayContext, ctx: CallContext, endpoint: Endpoint, req: IncomingMessage, validate: (body: unknown) => T): Promise<T> {
  let body: unknown;
  try {
    body = await readJson(req, gw, { exactNumbers: false });
    const valid = validate(body);
    // Checked here as well as by the router, so that an unbounded name never reaches the access log.
    checkModelName(valid.model);
    return valid;
  } catch (err) {
    const model = isObject(body) && typeof body.model === "string" ? body.model : undefined;
    throw gw.plane.refuse(ctx, endpoint, model, err);
  }
}

/** A requested model that is too long, or holds control characters or unpaired surrogates, is refused. */
export function checkModelName(model: string | undefined): void {
  const problem = model === undefined ? undefined : modelNameProblem(model);
  if (problem) throw new AirlockError("invalid_request", problem, { param: "model" });
}

export function callContext(req: IncomingMessage, scope: RequestScope, principal: Principal): CallContext {
  return {
    principal,
    requestId: scope.requestId,
    operation: headerLabel(req, "x-airlock-operation"),
    endUser: headerLabel(req, "x-airlock-user"),
    session: headerLabel(req, "x-airlock-session"),
    signal: scope.cancellation,
    // Through the registered propagator (W3C trace context once tracing starts; none otherwise, and then nothing is read).
    traceContext: req.headers.traceparent === undefined ? undefined : propagation.extract(ROOT_CONTEXT, req.headers),
    log: scope.log,
  };
}

export function airlockHeaders(scope: Pick<RequestScope, "requestId">, model: string, provider: string, attempts: number, cost?: string): Record<string, string | number> {
  const headers: Record<string, string | number> = { "x-request-id": scope.requestId, "x-airlock-model": model, "x-airlock-provider": provider, "x-airlock-attempts": attempts };
  if (cost !== undefined) headers["x-airlock-cost"] = cost;
  return headers;
}

/**
 * OpenAI's usage object: inclusive totals with their breakdowns, as the SDKs expect, and every count the
 * ledger prices apart, so that a client can check its bill: audio where OpenAI writes it, cache writes
 * (Anthropic's) as OpenRouter writes them (`prompt_tokens_details.cache_write_tokens`, which Airlock
 * itself reads from an upstream), and the cache reads and writes again under the names LiteLLM and
 * Portkey give them (`cache_read_input_tokens`, `cache_creation_input_tokens`).
 */
export function openAIUsage(usage: Usage): Record<string, unknown> {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens, cache_write_tokens: usage.cacheWriteTokens, audio_tokens: usage.audioInputTokens ?? 0 },
    completion_tokens_details: {
      reasoning_tokens: usage.reasoningTokens,
      audio_tokens: usage.audioOutputTokens ?? 0,
      accepted_prediction_tokens: usage.acceptedPredictionTokens ?? 0,
      rejected_prediction_tokens: usage.rejectedPredictionTokens ?? 0,
    },
    cache_read_input_tokens: usage.cachedInputTokens,
    cache_creation_input_tokens: usage.cacheWriteTokens,
  };
}
