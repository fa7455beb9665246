import type { MockConfig, MockStep } from "../../config/providers.js";
import { AirlockError } from "../../core/errors.js";
import { Attempt, delay, untilAborted } from "../attempt.js";
import { ProviderError, providerErrorFromResponse } from "../errors.js";
import {
  emptyUsage,
  PROVIDER_SPEC_VERSION,
  type CallOptions,
  type ChatChunk,
  type ChatRequest,
  type ChatResult,
  type EmbedRequest,
  type EmbedResult,
  providerStream,
  type ProviderStream,
  type ProviderV1,
  type StreamEvent,
  type Usage,
} from "../spec.js";
import { defaultReply, embeddingInputs, embeddingVector, estimateTokens, promptChars, sampleFor, streamPieces } from "./synthesis.js";

const NO_STEP: MockStep = {};

/** Above any real embedding model's (3,072 for OpenAI's and Gemini's largest, 4,096 for a few others). */
export const MOCK_MAX_DIMENSIONS = 8_192;

/**
 * An in-process provider that follows a script: the nth call acts out `script[n]`, and the last step
 * repeats. It fails the way a real upstream would (same ProviderError classification, abort reasons
 * passed through, timeouts), so demos and tests exercise the real retry and fallback paths.
 */
export class MockProvider implements ProviderV1 {
  readonly specVersion = PROVIDER_SPEC_VERSION;
  readonly type = "mock";
  private calls = 0;

  constructor(
    readonly name: string,
    private readonly config: MockConfig,
  ) {}

  async chat(request: ChatRequest, options: CallOptions): Promise<ChatResult> {
    this.refuseUnanswerable(request);
    const call = this.calls++;
    const step = this.step(call);
    const attempt = new Attempt(options.signal, this.name, this.config.timeoutMs);
    try {
      await this.prelude(step, request.model, attempt);
      const chars = promptChars(request.messages);
      const reply = this.reply(step, request, chars);
      const n = choiceCount(request);
      return {
        id: `chatcmpl-mock-${call}`,
        model: request.model,
        created: Math.floor(Date.now() / 1000),
        choices: Array.from({ length: n }, (_, index) => ({ index, message: { role: "assistant" as const, content: reply }, finish_reason: "stop" as const })),
        usage: usageFor(chars, reply.length, n),
        usageReported: true,
      };
    } catch (err) {
      throw attempt.outcome(err);
    } finally {
      attempt.finish();
    }
  }

  async stream(request: ChatRequest, options: CallOptions): Promise<ProviderStream> {
    this.refuseUnanswerable(request);
    const call = this.calls++;
    const step = this.step(call);
    const attempt = new Attempt(options.signal, this.name, this.config.timeoutMs);
    try {
      await this.prelude(step, request.model, attempt);
    } catch (err) {
      attempt.finish();
      throw attempt.outcome(err);
    }
    const chars = promptChars(request.messages);
    const reply = this.reply(step, request, chars);
    // Like an upstream that counts as it goes (Gemini): the usage so far covers the reply sent so far.
    const sent = { chunks: 0, chars: 0 };
    const n = choiceCount(request);
    const events = this.chunks(`chatcmpl-mock-${call}`, request.model, reply, n, usageFor(chars, reply.length, n), step, attempt, sent);
    return providerStream(events, () => (sent.chunks === 0 ? undefined : { usage: usageFor(chars, sent.chars), outputCounted: true }));
  }

  async embed(request: EmbedRequest, options: CallOptions): Promise<EmbedResult> {
    const step = this.step(this.calls++);
    const attempt = new Attempt(options.signal, this.name, this.config.timeoutMs);
    try {
      await this.prelude(step, request.model, attempt);
      const dimensions = request.dimensions ?? this.config.embeddingDimensions;
      // Every vector is built in memory: a caller's 10^8 would take the process down, not just the call.
      if (dimensions > MOCK_MAX_DIMENSIONS) {
        throw new AirlockError("invalid_request", `the mock provider makes vectors of at most ${MOCK_MAX_DIMENSIONS} dimensions`, { param: "dimensions" });
      }
      const inputs = embeddingInputs(request.input);
      let tokens = 0;
      const data = inputs.map((input, index) => {
        tokens += input.tokens;
        return { index, embedding: embeddingVector(input.key, dimensions) };
      });
      const usage = emptyUsage();
      usage.inputTokens = tokens;
      return { model: request.model, data, usage };
    } catch (err) {
      throw attempt.outcome(err);
    } finally {
      attempt.finish();
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * The mock has no token probabilities and speaks no audio: a caller that asks for them is sent on to a
   * sibling, as a translating adapter does (docs/providers.md#openai-parameters-on-every-adapter).
   */
  private refuseUnanswerable(request: ChatRequest): void {
    const refuse = (what: string): never => {
      throw new ProviderError(`${this.name}: the mock provider cannot give ${what}`, { kind: "unsupported", provider: this.name, fallbackable: true });
    };
    if (request.logprobs === true || (typeof request.top_logprobs === "number" && request.top_logprobs > 0)) refuse("logprobs");
    if ((Array.isArray(request.modalities) && request.modalities.includes("audio")) || (typeof request.audio === "object" && request.audio !== null)) refuse("audio");
  }

  private step(call: number): MockStep {
    const script = this.config.script;
    if (script === undefined || script.length === 0) return NO_STEP;
    return script[Math.min(call, script.length - 1)] ?? NO_STEP;
  }

  /** Everything before the upstream would have accepted the call: latency, hanging, refusing. */
  private async prelude(step: MockStep, model: string, attempt: Attempt): Promise<void> {
    await delay(step.latencyMs ?? this.config.latencyMs, attempt.signal);
    if (step.hang === true) await untilAborted(attempt.signal);
    if (step.status !== undefined) throw refusal(this.name, step.status, model, step.retryAfterSeconds);
  }

  private reply(step: MockStep, request: ChatRequest, chars: number): string {
    const format = request.response_format as { type?: unknown; json_schema?: { schema?: unknown } } | undefined;
    const structured = format?.type === "json_schema" ? JSON.stringify(sampleFor(format.json_schema?.schema)) : undefined;
    return step.reply ?? this.config.reply ?? structured ?? defaultReply(request.model, chars);
  }

  private async *chunks(id: string, model: string, reply: string, n: number, usage: Usage, step: MockStep, attempt: Attempt, sent: { chunks: number; chars: number }): AsyncGenerator<StreamEvent> {
    const created = Math.floor(Date.now() / 1000);
    const chunk = (index: number, delta: ChatChunk["choices"][number]["delta"], finish: "stop" | null): StreamEvent => ({
      type: "chunk",
      chunk: { id, object: "chat.completion.chunk", created, model, choices: [{ index, delta, finish_reason: finish }] },
    });
    try {
      // Each piece goes out once per choice, as an upstream streams several choices side by side.
      const pieces = streamPieces(reply).flatMap((content, i) => Array.from({ length: n }, (_, index) => ({ index, content, first: i === 0 })));
      const events = pieces.map(({ index, content, first }) => chunk(index, first ? { role: "assistant", content } : { content }, null));
      for (let index = 0; index < n; index++) events.push(chunk(index, {}, "stop"));
      for (let i = 0; i < events.length; i++) {
        if (i > 0) await delay(this.config.chunkDelayMs, attempt.signal);
        if (i === step.cutAfterChunks) {
          throw new ProviderError(`${this.name}: mock stream cut after ${i} chunks`, { kind: "connection", provider: this.name });
        }
        attempt.hold();
        sent.chunks++;
        sent.chars += pieces[i]?.content.length ?? 0;
        yield events[i]!;
        attempt.resume();
        attempt.throwIfAborted();
      }
      yield { type: "usage", usage };
    } catch (err) {
      throw attempt.outcome(err);
    } finally {
      attempt.finish();
    }
  }
}

/** `n` choices, as OpenAI answers them; the mock's every choice is the same reply. */
function choiceCount(request: ChatRequest): number {
  return typeof request.n === "number" && request.n > 1 ? request.n : 1;
}

function usageFor(promptChars: number, replyChars: number, choices = 1): Usage {
  return {
    inputTokens: estimateTokens(promptChars),
    outputTokens: estimateTokens(replyChars) * choices,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
  };
}

/** Built from the body a real upstream would send, so classification (fallbackable etc.) is the real one. */
function refusal(provider: string, status: number, model: string, retryAfterSeconds: number | undefined): ProviderError {
  const headers = retryAfterSeconds === undefined ? {} : { "retry-after": String(retryAfterSeconds) };
  return providerErrorFromResponse(provider, status, headers, JSON.stringify({ error: mockErrorBody(status, model) }));
}

function mockErrorBody(status: number, model: string): { message: string; type: string; code: string | null } {
  switch (status) {
    case 404:
      return { message: `The model \`${model}\` does not exist.`, type: "invalid_request_error", code: "model_not_found" };
    case 429:
      return { message: "Rate limit reached (mock).", type: "requests", code: "rate_limit_exceeded" };
    case 529:
      return { message: "Overloaded (mock).", type: "overloaded_error", code: null };
    default:
      return { message: `Mock upstream error ${status}.`, type: status >= 500 ? "server_error" : "invalid_request_error", code: null };
  }
}
