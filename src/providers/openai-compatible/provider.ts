import type { OpenAICompatibleConfig } from "../../config/providers.js";
import { UpstreamClient } from "../http.js";
import {
  PROVIDER_SPEC_VERSION,
  type AudioResult,
  type CallOptions,
  type ChatRequest,
  type ChatResult,
  type EmbedRequest,
  type EmbedResult,
  providerStream,
  type ProviderStream,
  type ProviderV1,
  type SpeechRequest,
  type TranscriptionRequest,
  type Usage,
} from "../spec.js";
import { speechResult, transcriptionForm, transcriptionResult } from "./audio.js";
import { toChatResult, toEmbedResult, toStreamEvents } from "./translate.js";

/** Usage on the final chunk is how streamed calls get costed; without it the ledger would be guessing. */
const STREAM_OPTIONS = { include_usage: true } as const;

/**
 * OpenAI and everything that speaks its API (OpenRouter, DeepSeek, Groq, vLLM, Ollama). The request
 * is already OpenAI-shaped, so it is forwarded as is; only `stream` and `stream_options` are ours.
 */
export class OpenAICompatibleProvider implements ProviderV1 {
  readonly specVersion = PROVIDER_SPEC_VERSION;
  readonly type = "openai-compatible";
  private readonly http: UpstreamClient;
  private readonly chatPath: string;
  private readonly embeddingsPath: string;
  private readonly transcriptionsPath: string;
  private readonly speechPath: string;

  constructor(
    readonly name: string,
    config: OpenAICompatibleConfig,
  ) {
    const headers: Record<string, string> = { ...config.headers };
    if (config.apiKey !== undefined) headers.authorization = `Bearer ${config.apiKey}`;
    this.http = new UpstreamClient({
      provider: name,
      baseUrl: config.baseUrl,
      headers,
      connections: config.connections,
      timeoutMs: config.timeoutMs,
    });
    this.chatPath = this.http.path("/chat/completions");
    this.embeddingsPath = this.http.path("/embeddings");
    this.transcriptionsPath = this.http.path("/audio/transcriptions");
    this.speechPath = this.http.path("/audio/speech");
  }

  async chat(request: ChatRequest, options: CallOptions): Promise<ChatResult> {
    const raw = await this.http.postJson(this.chatPath, JSON.stringify(withoutStreaming(withOutputLimit(request))), options);
    return toChatResult(raw, this.name, this.http.secrets);
  }

  async stream(request: ChatRequest, options: CallOptions): Promise<ProviderStream> {
    // Our fields first, the request's after them, then ours again so that they win: a spread followed by
    // new fields would keep the whole request from dying young (docs/performance-findings.md#objects-spread-into).
    const streaming: ChatRequest = { stream: true, stream_options: STREAM_OPTIONS, ...withOutputLimit(request) };
    streaming.stream = true;
    streaming.stream_options = STREAM_OPTIONS;
    const body = JSON.stringify(streaming);
    const messages = await this.http.postSse(this.chatPath, body, options);
    // The usage comes whole, on one chunk: once there, it counts all the output.
    const reported: { usage?: Usage } = {};
    const events = toStreamEvents(messages, this.name, options.chunksAsText === true, reported, this.http.secrets);
    return providerStream(events, () => (reported.usage === undefined ? undefined : { usage: reported.usage, outputCounted: true }));
  }

  async embed(request: EmbedRequest, options: CallOptions): Promise<EmbedResult> {
    const raw = await this.http.postJson(this.embeddingsPath, JSON.stringify(request), options);
    return toEmbedResult(raw, this.name, this.http.secrets);
  }

  async transcribe(request: TranscriptionRequest, options: CallOptions): Promise<AudioResult> {
    const answer = await this.http.postForBytes(this.transcriptionsPath, transcriptionForm(request), options);
    return transcriptionResult(answer.contentType, answer.bytes);
  }

  async speak(request: SpeechRequest, options: CallOptions): Promise<AudioResult> {
    const answer = await this.http.postForBytes(this.speechPath, JSON.stringify(request), options);
    return speechResult(request, answer.contentType, answer.bytes);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

/**
 * OpenAI's reasoning models (o1, o3, o4-mini, gpt-5 and its successors) refuse `max_tokens` with a 400
 * ("use max_completion_tokens instead"), and the limit Airlock adds itself (an operation's `maxTokens`,
 * a budget's default) comes as `max_tokens`. For them the limit goes as `max_completion_tokens`; one
 * the request sends in that field wins. Other upstreams get `max_tokens`, the field they all know.
 */
const REFUSES_MAX_TOKENS = /^(o[1-9]|gpt-5)/i;

function withOutputLimit(request: ChatRequest): ChatRequest {
  if (request.max_tokens === undefined || !REFUSES_MAX_TOKENS.test(request.model)) return request;
  const { max_tokens: limit, ...rest } = request;
  return { max_completion_tokens: limit, ...rest } as ChatRequest;
}

/** A pass-through field must not turn a JSON call into an SSE answer. */
function withoutStreaming(request: ChatRequest): ChatRequest {
  if (request.stream === undefined && request.stream_options === undefined) return request;
  const { stream: _stream, stream_options: _options, ...rest } = request;
  return rest as ChatRequest;
}
