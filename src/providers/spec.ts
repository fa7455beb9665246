/**
 * The provider interface, version 1. Every upstream adapter implements exactly this and nothing more.
 * The wire shapes are OpenAI's, because that is the lingua franca clients speak: OpenAI-compatible
 * adapters forward them almost untouched, and the others translate at their edge.
 *
 * Changing anything here that an adapter must implement means a new version (`ProviderV2`), not an edit.
 */
import type { AbortSource } from "../core/cancel.js";
export const PROVIDER_SPEC_VERSION = "v1" as const;

export type Role = "system" | "developer" | "user" | "assistant" | "tool";

export interface TextPart {
  type: "text";
  text: string;
}
export interface ImagePart {
  type: "image_url";
  image_url: { url: string; detail?: string };
}
export type ContentPart = TextPart | ImagePart;

export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface ChatMessage {
  role: Role;
  /** Absent or null on an assistant message that carries only tool_calls, as OpenAI allows. */
  content?: string | ContentPart[] | null;
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
}

/** An OpenAI chat completion body, minus `stream`/`stream_options`, which the adapter controls. */
export interface ChatRequest {
  /** The upstream model id: the catalog id without the provider prefix. */
  model: string;
  messages: ChatMessage[];
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  stop?: string | string[];
  n?: number;
  tools?: unknown[];
  tool_choice?: unknown;
  response_format?: unknown;
  user?: string;
  /** Any other OpenAI fields; OpenAI-compatible adapters pass them through, others ignore them. */
  [field: string]: unknown;
}

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter" | "function_call" | null;

export interface ChatChoice {
  index: number;
  message: { role: "assistant"; content: string | null; tool_calls?: ToolCall[]; refusal?: string | null };
  finish_reason: FinishReason;
  logprobs?: unknown;
}

/**
 * Usage, normalised so that costing never has to know which provider it came from.
 * Totals are inclusive: `inputTokens` counts cached and cache-write tokens too, and `outputTokens`
 * counts reasoning tokens too. The breakdown fields say how much of the total was billed differently.
 */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  /** The part of `cacheWriteTokens` written for an hour (Anthropic), priced at `cacheWrite1h`. Absent means none. */
  cacheWrite1hTokens?: number;
  /** The part of `inputTokens` that was audio (not cached), priced at `audioInput`. Absent means none. */
  audioInputTokens?: number;
  /** The part of `outputTokens` that was audio, priced at `audioOutput`. Absent means none. */
  audioOutputTokens?: number;
  /**
   * OpenAI's predicted outputs: the part of `outputTokens` that matched the prediction, and the part that
   * did not (billed as output all the same). Told to the client only; absent means none.
   */
  acceptedPredictionTokens?: number;
  rejectedPredictionTokens?: number;
  /** The provider's own cost figure in USD as a decimal string, when it reports one (OpenRouter). */
  providerCost?: string;
  /** Seconds of audio in (transcription), to the millisecond. */
  audioSeconds?: number;
  /** Characters of text in (speech). */
  characters?: number;
}

export interface ChatResult {
  id: string;
  /** The model the upstream says answered. */
  model: string;
  created: number;
  choices: ChatChoice[];
  usage: Usage;
  /** False when the upstream sent no usage at all, so the caller knows the zeros are not real. */
  usageReported: boolean;
  system_fingerprint?: string;
  /** The processing tier the upstream says served the call (OpenAI's `service_tier`), passed on to the client. */
  service_tier?: string;
}

export interface ChunkChoice {
  index: number;
  delta: { role?: "assistant"; content?: string | null; tool_calls?: unknown[]; refusal?: string | null };
  finish_reason: FinishReason;
  logprobs?: unknown;
}

/** An OpenAI `chat.completion.chunk`, without usage: usage travels as its own event. */
export interface ChatChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: ChunkChoice[];
  system_fingerprint?: string;
}

/**
 * A chunk that can go to an OpenAI client as the upstream wrote it (see openai-wire.ts): OpenAI's chunk
 * JSON without `usage`, and with no error, tool call or function call in it.
 */
export interface ChunkWire {
  text: string;
  /** Each `delta.content` string in the chunk, in order. */
  contents: string[];
  /** Where the chunk's own `model` value lies in `text`, quotes included: the catalog's id goes there (chunk-wire.ts). */
  model: { start: number; end: number };
  /**
   * Set while `text` is the upstream's chunk with a span cut out (its `"usage":null`): the chunk as it
   * came and where the span lay there, so that setModel makes both edits from its pieces in one go.
   * Optional: an adapter that hands on chunks as they came leaves it out.
   */
  uncut?: { source: string; start: number; end: number } | undefined;
}

/**
 * What a stream yields. `wire` comes only when the caller asked for chunks as text (`chunksAsText`):
 * chunks that go to the client as the upstream wrote them, in stream order, as many in one event as
 * arrived together (one event per chunk cost each chunk a turn of every async layer above it).
 */
export type StreamEvent = { type: "chunk"; chunk: ChatChunk } | { type: "wire"; chunks: ChunkWire[] } | { type: "usage"; usage: Usage };

/**
 * The usage an upstream has reported so far in a stream. The usage event comes only with a whole
 * stream; this is for one that ends without it (it broke, or its reader stopped), which is billed from
 * what the upstream had reported.
 */
export interface UsageSoFar {
  usage: Usage;
  /**
   * Whether `usage`'s output counts cover all that was streamed. False when the upstream counts output
   * only at the end (Anthropic's message_start reports the input side): the caller counts the rest.
   */
  outputCounted: boolean;
}

/** What a stream gives: its events, and the usage its upstream has reported so far. */
export interface ProviderStream extends AsyncIterable<StreamEvent> {
  /**
   * The last usage the upstream reported, or undefined before it reported any (or any that could be
   * read). Read after the stream has ended, however it ended; the adapter keeps what it has parsed
   * anyway, so streaming costs nothing more. Optional, so that adapters written before it stay valid:
   * without it, a stream that ends without its usage event is estimated whole.
   */
  usageSoFar?(): UsageSoFar | undefined;
}

export interface EmbedRequest {
  model: string;
  input: string | string[] | number[] | number[][];
  dimensions?: number;
  encoding_format?: "float" | "base64";
  user?: string;
}

export interface EmbedResult {
  model: string;
  data: Array<{ index: number; embedding: number[] | string }>;
  usage: Usage;
  /** False when the upstream said nothing of the tokens (optional, so adapters written before it stay valid). */
  usageReported?: boolean;
}

/** An OpenAI `audio/transcriptions` request: the file, and every other form field passed through. */
export interface TranscriptionRequest {
  model: string;
  file: Blob;
  filename: string;
  /** language, prompt, response_format, temperature, timestamp_granularities[], … in the order sent. */
  fields: Array<[string, string]>;
}

/** An OpenAI `audio/speech` request: `input` is the text to speak; voice, response_format, speed… pass through. */
export interface SpeechRequest {
  model: string;
  input: string;
  [field: string]: unknown;
}

/** An audio endpoint's answer: the upstream's bytes as they came, and the usage read from them. */
export interface AudioResult {
  contentType: string;
  body: Uint8Array;
  usage: Usage;
  /** False when the answer said nothing of its size (a transcription as plain text, srt or vtt). */
  usageReported: boolean;
}

export interface CallOptions {
  /** Aborts the upstream call: the client went away, or the deadline passed. */
  signal: AbortSignal;
  /**
   * The same cancellation as `signal`, as a plain listener object (`AbortSignal` satisfies it too).
   * Airlock's own HTTP client (`UpstreamClient`) takes this when it is there: in Node 20 every
   * `AbortSignal` outlives the young-generation collections, and the calls Airlock makes pass
   * `signal` as a getter that makes one only when an adapter reads it (see core/cancel.ts).
   */
  cancellation?: AbortSource;
  /**
   * For a stream: the caller writes chunks as JSON text anyway, so an adapter that can hand chunks on
   * as the upstream wrote them may yield them as `wire` events (see StreamEvent). Without it there is
   * no need to look.
   */
  chunksAsText?: boolean;
  /**
   * For a stream: told whenever the upstream sends bytes. The caller's timeout for reaching the first
   * event then measures silence, so an upstream that is busy before it has a chunk to give (Anthropic's
   * thinking, OpenRouter's keep-alive comments) is not taken for one that hangs.
   */
  heard?(): void;
}

export interface ProviderV1 {
  readonly specVersion: typeof PROVIDER_SPEC_VERSION;
  /** The provider's name in config, e.g. `openrouter`. */
  readonly name: string;
  /** The adapter type, e.g. `openai-compatible`. */
  readonly type: string;
  chat(request: ChatRequest, options: CallOptions): Promise<ChatResult>;
  /**
   * Resolves once the upstream has accepted the call (status and headers seen), so that a refusal
   * is still a retryable error. Errors after that surface from the iterator.
   */
  stream(request: ChatRequest, options: CallOptions): Promise<ProviderStream>;
  embed(request: EmbedRequest, options: CallOptions): Promise<EmbedResult>;
  /**
   * Optional, so no adapter has to change for them: an adapter without an audio endpoint leaves these
   * out, and a call routed to it moves on to the next candidate.
   */
  transcribe?(request: TranscriptionRequest, options: CallOptions): Promise<AudioResult>;
  speak?(request: SpeechRequest, options: CallOptions): Promise<AudioResult>;
  close(): Promise<void>;
}

/** An adapter's stream: its events, with `usageSoFar` reading what the adapter kept of the upstream's usage. */
export function providerStream(events: AsyncIterator<StreamEvent>, usageSoFar: () => UsageSoFar | undefined): ProviderStream {
  return { [Symbol.asyncIterator]: () => events, usageSoFar };
}

export function emptyUsage(): Usage {
  return { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
}
