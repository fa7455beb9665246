import type { ChatRequest, ChatResult } from "../providers/spec.js";
import { executeWithFallbacks } from "../routing/execute.js";
import type { AttemptRecord } from "../routing/execute.js";
import type { CallContext, CallDeps } from "./context.js";
import { annotateRequestSpan, begin, callSignal, executeOptions, fail, refuse, requireMessages, upstreamChatRequest } from "./prepare.js";
import { settle, type Settlement } from "./settle.js";

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
  try {
    const signal = callSignal(deps, ctx);
    const { value, model } = await executeWithFallbacks(
      plan.candidates,
      (target, attemptSignal) => target.provider.chat(upstreamChatRequest(body, plan, target), { signal: attemptSignal }),
      executeOptions(deps, plan, record, signal),
    );
    record.model = model;
    record.usage = value.usage;
    record.usageEstimated = !value.usageReported;
    const settlement = settle(deps, ctx, record);
    return { ...settlement, result: value, model: model.id, provider: model.providerName, attempts: record.attempts };
  } catch (err) {
    record.model ??= plan.candidates.find((c) => c.id === record.attempts.at(-1)?.model);
    throw fail(deps, ctx, record, err);
  }
}
