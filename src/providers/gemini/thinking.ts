import { cannotReason, reasoningEffort, type ReasoningEffort } from "../reasoning.js";
import type { ChatRequest } from "../spec.js";
import type { GeminiThinkingConfig } from "./wire.js";

/** Google's own OpenAI endpoint's budgets for Gemini 2.5 (ai.google.dev/gemini-api/docs/openai); minimal is read as low. */
const BUDGETS: Record<ReasoningEffort, number> = { none: 0, minimal: 1024, low: 1024, medium: 8192, high: 24576 };
/** 2.5 Pro always thinks; 128 is the least budget it takes. */
const PRO_25_LEAST = 128;
/** Gemini 3 Pro takes low and high only; Flash takes minimal and medium as well (Google's thinking guide). */
const PRO_LEVELS: Record<ReasoningEffort, GeminiThinkingConfig["thinkingLevel"]> = { none: "low", minimal: "low", low: "low", medium: "high", high: "high" };
const FLASH_LEVELS: Record<ReasoningEffort, GeminiThinkingConfig["thinkingLevel"]> = { none: "minimal", minimal: "minimal", low: "low", medium: "medium", high: "high" };

const VERSION = /gemini-(\d+)(?:\.(\d+))?/;

/**
 * reasoning_effort as generationConfig.thinkingConfig, chosen by the model id's version: Gemini 3 and
 * later take a thinking level, 2.5 a token budget; an id that names no version (an alias such as
 * gemini-flash-latest) gets a budget too, which Gemini 3 also takes. Models before 2.5 cannot think,
 * so any effort but none is refused there. Gemini 3 cannot stop thinking, nor can 2.5 Pro: none gets
 * the least they take. docs/providers.md states the tables.
 */
export function thinkingConfig(request: ChatRequest, provider: string): GeminiThinkingConfig | undefined {
  const effort = reasoningEffort(request);
  if (effort === undefined) return undefined;
  const model = request.model;
  const version = VERSION.exec(model);
  const major = version === null ? undefined : Number(version[1]);
  const minor = Number(version?.[2] ?? 0);
  if (major !== undefined && (major < 2 || (major === 2 && minor < 5))) {
    if (effort === "none") return undefined;
    throw cannotReason(provider, `${model} does not think (Gemini 2.5 and later do)`);
  }
  if (major !== undefined && major >= 3) return { thinkingLevel: (/flash/.test(model) ? FLASH_LEVELS : PRO_LEVELS)[effort] };
  if (effort === "none" && /2\.5-pro/.test(model)) return { thinkingBudget: PRO_25_LEAST };
  return { thinkingBudget: BUDGETS[effort] };
}
