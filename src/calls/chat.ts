import type { ChatRequest, ChatResult } from "../providers/spec.js";
import { executeWithFallbacks } from "../routing/execute.js";
import type { AttemptRecord } from "../routing/execute.js";
import type { CallContext, CallDeps } from "./context.js";
import { annotateRequestSpan, begin, callCancellation, executeOptions, fail, refuse, requireMessages, upstreamChatRequest } from "./prepare.js";
import { settle, type Settlement } from "./settle.js";
import { estimateUsage } from "./stream.js";

export interface ChatOutcome extends Settlement {
  result: ChatResult;
  /** The catalog id that answered. */
  model: string;
  provider: string;
  attempts: AttemptRecord[];
}

/** One non-streaming chat call through the whole hot path. */
export async function runChat(deps: CallDeps, ctx: CallContext, body: ChatRequest): Promise<ChatOutcome> {
  const { plan, record } = begin(deps, ctx, "chat", false, body.model);
  try {
    requireMessages(body);
  } catch (err) {
    throw refuse(deps, ctx, record, err);
  }
  annotateRequestSpan(record, body);
  const call = callCancellation(deps, ctx);
  try {
    const { value, model } = await executeWithFallbacks(
      plan.candidates,
      (target, attempt) => target.provider.chat(upstreamChatRequest(body, plan, target), { signal: attempt.signal }),
      executeOptions(deps, plan, record, call),
    );
    record.model = model;
    // No usage from the upstream: estimate rather than record a silent zero, and flag the row.
    record.usage = value.usageReported ? value.usage : estimateUsage(body, outputChars(value));
    record.usageEstimated = !value.usageReported;
    const settlement = settle(deps, ctx, record);
    return { ...settlement, result: value, model: model.id, provider: model.providerName, attempts: record.attempts };
  } catch (err) {
    record.model ??= plan.candidates.find((c) => c.id === record.attempts.at(-1)?.model);
    throw fail(deps, ctx, record, err);
  } finally {
    call.dispose();
  }
}

function outputChars(result: ChatResult): number {
  return result.choices.reduce((sum, c) => sum + (c.message.content?.length ?? 0), 0);
}
