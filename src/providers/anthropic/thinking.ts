import type { ChatRequest } from "../spec.js";
import { cannotReason, reasoningEffort, type ReasoningEffort } from "../reasoning.js";
import type { AnthropicRequest } from "./wire.js";

/** LiteLLM's budgets for reasoning_effort, so a client moving from it gets the same thinking. Anthropic takes no budget under 1024, so minimal gets that. */
const BUDGETS: Record<Exclude<ReasoningEffort, "none">, number> = { minimal: 1024, low: 1024, medium: 2048, high: 4096 };
const LEAST_BUDGET = 1024;

/** Claude 3.5 and older (3 Opus, 3 Haiku, 2.x, Instant) have no extended thinking; 3.7 and every later model has. */
const CANNOT_THINK = /claude-(?:instant|2(?![0-9])|3-(?!7))/;
/** `claude-<family>-<major>[-<minor>]`; a date after the major (claude-sonnet-4-20250514) is not a minor. */
const FAMILY_VERSION = /claude-(?:opus|sonnet|haiku)-(\d+)(?:[-.](\d{1,2}))?(?!\d)/;

/**
 * Turns reasoning_effort into extended thinking on `out`, the translated request. Claude 4.6 and later
 * think adaptively, at an effort level; earlier models take a token budget, which Anthropic wants at
 * least 1024 and below max_tokens. With thinking on, Anthropic refuses a temperature other than 1, a
 * top_p below 0.95 and a forced tool: a request asking for one of those as well is refused rather than
 * have either ask dropped. A turn that replays Claude's own output (a tool call whose result follows,
 * or a prefilled answer) would have to start with the thinking blocks Claude wrote, which an OpenAI
 * history does not keep, so that call runs without thinking, as LiteLLM's modify_params does.
 * docs/providers.md states each rule.
 */
export function applyThinking(out: AnthropicRequest, request: ChatRequest, provider: string, defaultMaxTokens: number): void {
  const effort = reasoningEffort(request);
  if (effort === undefined || effort === "none") return;
  if (CANNOT_THINK.test(request.model)) throw cannotReason(provider, `${request.model} has no extended thinking`);
  if (!startsAFreshTurn(out)) return;
  if (out.temperature !== undefined && out.temperature !== 1) throw cannotReason(provider, "Claude takes no temperature but 1 while it thinks");
  if (out.top_p !== undefined && out.top_p < 0.95) throw cannotReason(provider, "Claude takes no top_p below 0.95 while it thinks");
  if (out.tool_choice?.type === "any" || out.tool_choice?.type === "tool") throw cannotReason(provider, "Claude cannot be made to call a tool while it thinks");
  if (thinksAdaptively(request.model)) {
    out.thinking = { type: "adaptive" };
    out.output_config = { effort: effort === "minimal" ? "low" : effort };
    return;
  }
  const budget = BUDGETS[effort];
  const limit = request.max_completion_tokens ?? request.max_tokens;
  if (limit === undefined) {
    // No limit was asked for (a budgeted call always has one): the answer keeps the room it has without thinking.
    out.max_tokens = defaultMaxTokens + budget;
    out.thinking = { type: "enabled", budget_tokens: budget };
    return;
  }
  // The limit bounds the call's cost (a budget reserved against it), so the budget fits under it, never the other way.
  if (limit <= LEAST_BUDGET) throw cannotReason(provider, `a limit of ${limit} tokens leaves no room for Claude's least thinking budget (${LEAST_BUDGET})`);
  out.thinking = { type: "enabled", budget_tokens: Math.min(budget, limit - 1) };
}

/** The request ends with a user turn of its own, not tool results answering Claude's calls nor an answer begun for Claude. */
function startsAFreshTurn(out: AnthropicRequest): boolean {
  const last = out.messages[out.messages.length - 1];
  if (last === undefined || last.role !== "user") return false;
  return typeof last.content === "string" || !last.content.some((block) => block.type === "tool_result");
}

function thinksAdaptively(model: string): boolean {
  const version = FAMILY_VERSION.exec(model);
  if (version === null) return false;
  const major = Number(version[1]);
  const minor = Number(version[2] ?? 0);
  return major > 4 || (major === 4 && minor >= 6);
}
