import { FormData } from "undici";
import { emptyUsage, type AudioResult, type SpeechRequest, type TranscriptionRequest, type Usage } from "../spec.js";
import { count, isObject } from "../wire.js";

/** The multipart body OpenAI expects: the model, the caller's other fields in their order, then the file. */
export function transcriptionForm(request: TranscriptionRequest): FormData {
  const form = new FormData();
  form.append("model", request.model);
  for (const [name, value] of request.fields) form.append(name, value);
  form.append("file", request.file, request.filename);
  return form;
}

/**
 * Reads usage from a transcription in whatever form it came: `usage` of type `duration` (whisper-1),
 * `usage` of type `tokens` (gpt-4o-transcribe), or the `duration` of a verbose_json answer. Plain
 * text, srt and vtt carry none.
 */
export function transcriptionResult(contentType: string, bytes: Uint8Array): AudioResult {
  const usage = contentType.includes("json") ? usageOfJson(bytes) : undefined;
  return { contentType, body: bytes, usage: usage ?? emptyUsage(), usageReported: usage !== undefined };
}

function usageOfJson(bytes: Uint8Array): Usage | undefined {
  let answer: unknown;
  try {
    answer = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined; // the bytes still go to the client as they came; only the usage is unknown
  }
  if (!isObject(answer)) return undefined;
  const usage = answer.usage;
  if (isObject(usage) && usage.type === "duration" && isCount(usage.seconds)) return { ...emptyUsage(), audioSeconds: toMillis(usage.seconds) };
  if (isObject(usage) && usage.type === "tokens" && isCount(usage.input_tokens)) {
    const tokens: Usage = { ...emptyUsage(), inputTokens: count(usage.input_tokens), outputTokens: count(usage.output_tokens) };
    // gpt-4o-transcribe bills the audio in at one rate and the text in (a prompt) at another.
    const audio = isObject(usage.input_token_details) ? count(usage.input_token_details.audio_tokens) : 0;
    if (audio > 0) tokens.audioInputTokens = Math.min(audio, tokens.inputTokens);
    return tokens;
  }
  if (isCount(answer.duration)) return { ...emptyUsage(), audioSeconds: toMillis(answer.duration) };
  return undefined;
}

/** Seconds to the millisecond, as the ledger stores them: the row's seconds reproduce its cost. */
function toMillis(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

/** Speech is billed by the characters of its input, which Airlock knows exactly without being told. */
export function speechResult(request: SpeechRequest, contentType: string, bytes: Uint8Array): AudioResult {
  return { contentType, body: bytes, usage: { ...emptyUsage(), characters: characterCount(request.input) }, usageReported: true };
}

/** Characters as people count them: code points, so an emoji is one, not two UTF-16 units. */
export function characterCount(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}
