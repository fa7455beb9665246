import { AirlockError } from "../core/errors.js";
import { ProviderError } from "./errors.js";
import type { ChatRequest } from "./spec.js";

/** OpenAI's reasoning_effort levels, as the translating adapters read them; `xhigh` is read as `high`, the most either upstream takes. */
export type ReasoningEffort = "none" | "minimal" | "low" | "medium" | "high";

const LEVELS: Record<string, ReasoningEffort> = { none: "none", minimal: "minimal", low: "low", medium: "medium", high: "high", xhigh: "high" };

/**
 * The request's reasoning_effort, or undefined when it sets none (absent or null). A value OpenAI does not
 * define is the caller's mistake, refused as OpenAI refuses it rather than guessed at.
 */
export function reasoningEffort(request: ChatRequest): ReasoningEffort | undefined {
  const value = request.reasoning_effort;
  if (value === undefined || value === null) return undefined;
  const level = typeof value === "string" ? LEVELS[value] : undefined;
  if (level === undefined) {
    throw new AirlockError("invalid_request", `reasoning_effort must be one of ${Object.keys(LEVELS).join(", ")}`, { param: "reasoning_effort" });
  }
  return level;
}

/** A reasoning_effort this upstream model cannot honour: refused before any call, so a later candidate may take it. */
export function cannotReason(provider: string, why: string): ProviderError {
  return new ProviderError(`${provider}: cannot translate reasoning_effort: ${why}`, { kind: "unsupported", provider, fallbackable: true });
}
