import type { AbortSource, Cancellation } from "../core/cancel.js";
import { abortedCallError, AirlockError } from "../core/errors.js";
import { ProviderError } from "../providers/errors.js";
import { setModel } from "../providers/chunk-wire.js";
import type { CallOptions, ChatChunk, ChatRequest, ChunkWire, ProviderStream, StreamEvent, Usage } from "../providers/spec.js";
import { streamUsage } from "./usage.js";
import type { CatalogModel } from "../routing/catalog.js";
import { executeWithFallbacks, type AttemptRecord } from "../routing/execute.js";
import { failureReason } from "../routing/retry.js";
import { holdChatGuards } from "./holds.js";
import type { CallContext, CallDeps } from "./context.js";
import { attemptTimeoutMs, callCancellation, executeOptions, fail, prepareChat, upstreamChatRequest } from "./prepare.js";
import { StreamedAnswers, type OutputContract } from "./structured.js";
import { StreamedToolCalls } from "./tool-calls.js";
import { settle, settledCall, type CallRecord, type SettledCall } from "./settle.js";

/** Generated text kept for a usage estimate; the tokenizer counts about this much exactly anyway. */
const KEPT_OUTPUT_CHARS = 64 * 1024;

export type StreamEnd = SettledCall;

/** What a stream gives: its chunks as objects, then its end. */
export type StreamPart = { type: "chunk"; chunk: ChatChunk } | { type: "end"; end: StreamEnd };

/**
 * What a stream opened with `chunksAsText` gives: `wire` parts too, chunks to send as they are, their
 * JSON text with the catalog's model set; and `delivered`, when every chunk is out but the end waits
 * on counting tokens (the upstream reported no usage), so that a client that asked for no usage chunk
 * can be told the stream is over without waiting for the count (seconds while the tokenizer starts).
 */
export type TextStreamPart = StreamPart | { type: "wire"; chunks: ChunkWire[] } | { type: "delivered" };

/** An opened stream: the upstream has sent its first event, so retries and fallbacks are over. */
export interface OpenStream<Part = StreamPart> extends AsyncIterable<Part> {
  readonly model: string;
  readonly provider: string;
  readonly attempts: AttemptRecord[];
  /**
   * Aborts when the call ends before its consumer has read it all: its deadline passed, or its caller's
   * signal fired. A consumer that waits on something other than the stream (a client slow to read)
   * stops waiting then, and its next read ends the call.
   */
  readonly ended: AbortSource;
}

export interface StreamOptions {
  /**
   * The consumer writes each chunk as JSON: chunks the adapter hands on as text are relayed as text
   * (`wire` parts, those that arrived together in one), and their objects are never made. The
   * library's stream, which gives objects, leaves it off.
   */
  chunksAsText?: boolean;
}

interface Opened {
  /** Asked for the usage its upstream reported when the stream ends without a usage event. */
  stream: ProviderStream;
  iterator: AsyncIterator<StreamEvent>;
  first: IteratorResult<StreamEvent>;
  /** The attempt that opened it, whose deadline goes on as the limit on the upstream's silence. */
  attempt: Cancellation;
  timeoutMs: number;
}

/**
 * Opens a streaming chat call. Every retry and fallback happens before this resolves: the first event
 * is pulled inside the attempt, so nothing has reached the client while trying another target is
 * still allowed. After that a failure ends the stream with an error, never with a silent stop.
 */
export function openStream(deps: CallDeps, ctx: CallContext, raw: ChatRequest): Promise<OpenStream>;
export function openStream(deps: CallDeps, ctx: CallContext, raw: ChatRequest, options: StreamOptions): Promise<OpenStream<TextStreamPart>>;
export async function openStream(deps: CallDeps, ctx: CallContext, raw: ChatRequest, options: StreamOptions = {}): Promise<OpenStream<TextStreamPart>> {
  const settling = deps.killSwitch.settling();
  if (settling) await settling;
  const prepared = prepareChat(deps, ctx, raw, true);
  const held = holdChatGuards(deps, ctx, prepared);
  if (held) await held;
  const { plan, record, body, contract } = prepared;
  // An output schema reads the text of each choice from the objects.
  const asText = options.chunksAsText === true && contract === undefined;
  const call = callCancellation(deps, ctx);
  let opened: Opened;
  let model: CatalogModel;
  let generation: number | undefined;
  // The stream of the attempt under way, until it fails on its own: one the call's end cuts before its
  // first chunk may have reported usage already (Anthropic's message_start, then thinking, which gives no chunk).
  let unopened: ProviderStream | undefined;
  try {
    const executed = await executeWithFallbacks(
      plan.candidates,
      // The attempt's timeout covers reaching the first event, then each silence of the upstream's after
      // it (the relay holds it while its consumer has an event); the call's cancellation covers the whole.
      async (target, attempt) => {
        unopened = undefined;
        const stream = await target.provider.stream(upstreamChatRequest(prepared, target), asText ? new TextChunks(attempt) : attempt);
        unopened = stream;
        const iterator = stream[Symbol.asyncIterator]();
        try {
          const first = await iterator.next();
          attempt.hold();
          return { stream, iterator, first, attempt, timeoutMs: attemptTimeoutMs(deps, plan, target) };
        } catch (err) {
          if (!call.aborted) unopened = undefined; // the attempt failed by itself: "failed attempts cost 0"
          throw err;
        }
      },
      executeOptions(deps, ctx, plan, record, call, true),
    );
    opened = executed.value;
    model = executed.model;
    generation = executed.generation;
  } catch (err) {
    record.model ??= plan.candidates.find((c) => c.id === record.attempts.at(-1)?.model);
    call.dispose();
    if (unopened && call.aborted) await billUnopened(body, unopened, record);
    throw fail(deps, ctx, record, err);
  }
  record.model = model;
  return {
    model: model.id,
    provider: model.providerName,
    attempts: record.attempts,
    ended: call,
    [Symbol.asyncIterator]: () => relay(deps, ctx, record, { model, generation }, body, opened, call, contract, options.chunksAsText === true),
  };
}

async function* relay(
  deps: CallDeps,
  ctx: CallContext,
  record: CallRecord,
  served: { model: CatalogModel; generation: number | undefined },
  body: ChatRequest,
  opened: Opened,
  call: Cancellation,
  contract: OutputContract | undefined,
  announceDelivered: boolean,
): AsyncGenerator<TextStreamPart> {
  const { iterator } = opened;
  const { model } = served;
  let next = opened.first;
  let usage: Usage | undefined;
  // What was generated, in case the usage event never comes and the tokens must be counted here:
  // the text up to KEPT_OUTPUT_CHARS, and past that only how long it was.
  const generated: string[] = [];
  let keptChars = 0;
  let charsBeyond = 0;
  const keep = (text: string) => {
    if (keptChars >= KEPT_OUTPUT_CHARS) charsBeyond += text.length;
    else {
      generated.push(text);
      keptChars += text.length;
    }
  };
  // Kept only when the answer must be checked against a schema at the end.
  const answers = contract ? new StreamedAnswers() : undefined;
  let finished = false;
  // With `killSwitch.inFlight: cut`, a switch flipped on mid-stream ends it at the next chunk (or burst of them).
  const cutOnKill = deps.config.killSwitch.inFlight === "cut";
  const operationName = record.operation?.name;
  const modelJson = JSON.stringify(model.id);
  const toolCalls = new StreamedToolCalls();
  // Without the usage event, from what the upstream had reported, and the rest counted here.
  const billDelivered = async () => {
    // The stream ended here: counting its tokens (seconds while the tokenizer starts) is not part of its latency.
    record.endedAt ??= deps.clock.now();
    if (usage !== undefined) {
      record.usageEstimated = false;
      record.usage = usage;
      return;
    }
    const billed = await streamUsage(body, opened.stream.usageSoFar?.(), generated.join(""), charsBeyond);
    record.usageEstimated = billed.estimated;
    record.usage = billed.usage;
  };
  try {
    while (!next.done) {
      const event = next.value;
      if (event.type === "usage") {
        usage = event.usage;
      } else {
        if (cutOnKill) {
          let stopped = deps.killSwitch.checkSettled(operationName);
          if (stopped instanceof Promise) stopped = await stopped;
          if (stopped) {
            cutUpstream(call, iterator, stopped); // the upstream stops generating what nobody will pay for
            throw stopped;
          }
        }
        record.ttftMs ??= deps.clock.now() - record.startedAt;
        // As text when the adapter handed it on so, with the catalog's model set in place; as an object otherwise.
        if (event.type === "wire") {
          for (const wire of event.chunks) {
            for (const content of wire.contents) if (content) keep(content);
            setModel(wire, modelJson);
          }
          yield event;
        } else {
          event.chunk.model = model.id;
          for (const choice of event.chunk.choices) {
            const content = choice.delta.content;
            if (choice.delta.tool_calls) keep(toolCalls.add(choice.index, choice.delta.tool_calls));
            answers?.add(choice.index, choice.delta);
            if (!content) continue;
            keep(content);
          }
          yield { type: "chunk", chunk: event.chunk };
        }
      }
      opened.attempt.resume();
      next = await iterator.next();
      opened.attempt.hold();
    }
    finished = true;
    // Only a stream that ended whole has tool calls to judge.
    record.toolCalls = toolCalls.tally(body.tools);
    // The chunks are out, so there is nothing to repair: a mismatch ends the stream with the issues.
    if (contract) answers?.check(contract.schema);
    // Settled whatever the consumer does next: one that stops reading once told the stream is over
    // (a client that left after [DONE]) must not leave the call unbilled.
    const ending = billDelivered().then(() => settledCall(settle(deps, ctx, record), model, record.attempts));
    ending.catch(() => undefined); // awaited below, unless the consumer stopped at `delivered`
    if (announceDelivered && usage === undefined) yield { type: "delivered" };
    yield { type: "end", end: await ending };
  } catch (caught) {
    finished = true;
    // The attempt's own deadline ran out, not the call's: the upstream went silent mid-way, its connection open.
    const err = opened.attempt.aborted && !call.aborted ? silenceError(model, opened.timeoutMs) : caught;
    // What was generated before the break was generated, and is billed.
    await billDelivered();
    // A target that keeps cutting streams is as unwell as one that refuses them.
    // Counted under the breaker generation the attempt was admitted in: a probe whose first chunk closed
    // the breaker has had its say.
    if (err instanceof ProviderError && !ctx.signal?.aborted && served.generation !== undefined) deps.breakers.recordFailure(model.id, served.generation);
    const ended = streamError(err, model, ctx.signal);
    // An answer that came whole but does not fit its schema was the upstream's success.
    if (ended.code !== "schema_validation") markCutShort(record, err instanceof ProviderError && !ctx.signal?.aborted ? failureReason(err) : ended.code);
    throw fail(deps, ctx, record, ended);
  } finally {
    if (!finished) {
      // Most often the client left (no reason at all: it stopped reading); a signal's reason otherwise (the gateway's shutdown) is believed.
      const ended = abortedCallError(ctx.signal?.reason, STREAM_ENDED);
      // The consumer stopped early (the client went away, a library caller broke out of its loop): the
      // upstream is cut, and what was delivered is billed.
      cutUpstream(call, iterator, ended);
      await billDelivered();
      markCutShort(record, ended.code);
      fail(deps, ctx, record, ended);
    }
    opened.attempt.clearDeadline();
    call.dispose();
  }
}

function silenceError(model: CatalogModel, timeoutMs: number): ProviderError {
  return new ProviderError(`nothing for ${timeoutMs} ms`, { kind: "timeout", provider: model.providerName });
}

/**
 * The attempt that opened the stream did not end well after all: it is recorded as failed, with why
 * (`connection`, `protocol`, `timeout`, `client_closed`…), so that the ledger and the fallback report
 * do not show an upstream that broke mid-way as one that answered.
 */
function markCutShort(record: CallRecord, reason: string): void {
  const attempt = record.attempts.at(-1);
  if (attempt?.outcome !== "success") return;
  attempt.outcome = "error";
  attempt.reason = reason;
}

/**
 * A stream the call's end (its client leaving, its deadline) cut before its first chunk is billed what
 * its upstream had reported by then, the output estimated as for any stream that ends early. An
 * upstream that had reported nothing leaves the call at 0, as any attempt that gave no answer.
 */
async function billUnopened(body: ChatRequest, stream: ProviderStream, record: CallRecord): Promise<void> {
  const reported = stream.usageSoFar?.();
  if (reported === undefined) return;
  const billed = await streamUsage(body, reported, "", 0);
  record.usage = billed.usage;
  record.usageEstimated = billed.estimated;
}

function streamError(err: unknown, model: CatalogModel, clientSignal: AbortSource | undefined): AirlockError {
  if (err instanceof AirlockError) return err;
  // The caller's own signal may be a deadline too (AbortSignal.timeout): that is a timeout, not a leaving.
  if (clientSignal?.aborted) return abortedCallError(clientSignal.reason, STREAM_ENDED);
  if (err instanceof Error && err.name === "TimeoutError") return new AirlockError("timeout", STREAM_ENDED.deadline);
  if (err instanceof ProviderError && err.kind === "timeout") return new AirlockError("timeout", `the stream from ${model.providerName} went silent mid-way: ${err.message}`);
  const detail = err instanceof ProviderError ? err.message : "the connection broke";
  return new AirlockError("provider_error", `the stream from ${model.providerName} broke mid-way: ${detail}`);
}

/**
 * Ends the upstream's stream before its end. The call is aborted first: an adapter told only to stop
 * (`return()`) reads the rest of the body to reuse the connection, as it does after `[DONE]`, and the
 * upstream would go on generating, and billing, tokens nobody receives. A failure while closing has
 * nobody left to tell.
 */
function cutUpstream(call: Cancellation, iterator: AsyncIterator<StreamEvent>, reason: AirlockError): void {
  call.abort(reason);
  void Promise.resolve(iterator.return?.()).catch(() => undefined);
}

/** An attempt's options, asking the adapter for chunks as text. */
class TextChunks implements CallOptions {
  readonly chunksAsText = true;

  constructor(readonly cancellation: Cancellation) {}

  get signal(): AbortSignal {
    return this.cancellation.signal;
  }

  heard(): void {
    this.cancellation.heard();
  }
}

const STREAM_ENDED = { deadline: "the request deadline passed mid-stream", left: "the client closed the stream" };
