import { AirlockError } from "../core/errors.js";
import { ProviderError } from "../providers/errors.js";
import type { EmbedRequest, EmbedResult } from "../providers/spec.js";
import { embedWorstCase } from "./holds.js";
import type { CallContext, CallDeps } from "./context.js";
import { begin, refuse } from "./prepare.js";
import { runSingle, type SingleOutcome } from "./single.js";
import { countTokens } from "./token-counter.js";

export type EmbedOutcome = SingleOutcome<EmbedResult>;

export async function runEmbed(deps: CallDeps, ctx: CallContext, body: EmbedRequest): Promise<EmbedOutcome> {
  const settling = deps.killSwitch.settling();
  if (settling) await settling;
  const begun = begin(deps, ctx, "embeddings", false, body.model);
  if (!isInput(body.input)) {
    throw refuse(deps, ctx, begun.record, new AirlockError("invalid_request", "input must be a string, an array of strings, or token arrays", { param: "input" }));
  }
  if (body.encoding_format != null && body.encoding_format !== "float" && body.encoding_format !== "base64") {
    throw refuse(deps, ctx, begun.record, new AirlockError("invalid_request", "encoding_format must be float or base64", { param: "encoding_format" }));
  }
  // OpenAI's rule, checked here so that no adapter sizes a vector (or an array) from an odd value.
  if (body.dimensions != null && !(Number.isSafeInteger(body.dimensions) && body.dimensions >= 1)) {
    throw refuse(deps, ctx, begun.record, new AirlockError("invalid_request", "dimensions must be a whole number of at least 1", { param: "dimensions" }));
  }
  return runSingle(deps, ctx, begun, () => embedWorstCase(body.input), async (target, attempt) => {
    const result = await target.provider.embed({ ...body, model: target.upstreamId }, attempt);
    // Checked inside the attempt, so that a malformed answer fails it (and its ledger row says so)
    // rather than passing as a success that the response then cannot be built from.
    checkEmbeddings(result, target.providerName, inputCount(body.input));
    if (body.encoding_format === "base64") asBase64(result);
    if (result.usageReported !== false) return result;
    // No tokens reported: count the input's text rather than record a silent zero (the row is flagged).
    const { texts, tokens } = inputParts(body.input);
    const counted = (await countTokens(texts)).reduce((sum, n) => sum + n, 0) + tokens;
    return { ...result, usage: { ...result.usage, inputTokens: counted } };
  });
}

/** As OpenAI takes it: a non-empty string, or a non-empty array of non-empty strings, of token ids, or of non-empty token arrays. */
function isInput(input: unknown): boolean {
  if (typeof input === "string") return input.length > 0;
  if (!Array.isArray(input) || input.length === 0) return false;
  const first: unknown = input[0];
  if (typeof first === "string") return input.every((item) => typeof item === "string" && item.length > 0);
  if (typeof first === "number") return isTokenArray(input);
  return input.every((item) => Array.isArray(item) && item.length > 0 && isTokenArray(item));
}

function isTokenArray(items: unknown[]): boolean {
  return items.every((token) => Number.isSafeInteger(token) && (token as number) >= 0);
}

/** How many vectors the input asks for: one per string or token array, one for a lone string or token array. */
function inputCount(input: EmbedRequest["input"]): number {
  if (typeof input === "string") return 1;
  return (input as unknown[]).every((item) => typeof item === "number") ? 1 : input.length;
}

/**
 * Every item an object with a whole-number index and its vector (numbers, or base64 text), and one
 * item for each input: a caller matches vectors to inputs by index, so a missing or repeated one
 * would pair a text with another's vector, or with none, while the call was billed as a success.
 */
function checkEmbeddings(result: EmbedResult, provider: string, expected: number): void {
  const seen = new Set<number>();
  const ok = Array.isArray(result.data) && result.data.every((item: unknown) => {
    if (typeof item !== "object" || item === null) return false;
    const { index, embedding } = item as { index?: unknown; embedding?: unknown };
    return Number.isSafeInteger(index) && (Array.isArray(embedding) || typeof embedding === "string");
  });
  if (!ok) throw new ProviderError(`${provider}: upstream embeddings answer holds an item without an index and a vector`, { kind: "protocol", provider });
  if (result.data.length !== expected) {
    throw new ProviderError(`${provider}: upstream answered ${result.data.length} embeddings for ${expected} inputs`, { kind: "protocol", provider });
  }
  for (const { index } of result.data) {
    if (index >= 0 && index < expected) seen.add(index);
  }
  if (seen.size !== expected) {
    throw new ProviderError(`${provider}: upstream embeddings answer does not number its items 0 to ${expected - 1}, each once`, { kind: "protocol", provider });
  }
}

/**
 * Vectors as base64 where the caller asked for it: the openai SDK asks by default and decodes what
 * comes back as base64, so a vector of numbers (from the mock, or an upstream that ignores the field,
 * as some OpenAI-compatible servers do) would reach it as zeros. OpenAI's encoding: little-endian float32.
 */
function asBase64(result: EmbedResult): void {
  for (const item of result.data) {
    if (!Array.isArray(item.embedding)) continue;
    const floats = Float32Array.from(item.embedding);
    item.embedding = Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).toString("base64");
  }
}

/** The texts to count, and the tokens already given as token arrays. */
function inputParts(input: EmbedRequest["input"]): { texts: string[]; tokens: number } {
  if (typeof input === "string") return { texts: [input], tokens: 0 };
  const items = input as unknown[];
  if (items.every((item) => typeof item === "number")) return { texts: [], tokens: items.length };
  const texts = items.filter((item): item is string => typeof item === "string");
  const tokens = items.reduce<number>((sum, item) => sum + (Array.isArray(item) ? item.length : 0), 0);
  return { texts, tokens };
}
