import type { ChatRequest, ChatResult } from "../providers/spec.js";
import { executeWithFallbacks } from "../routing/execute.js";
import { holdChatGuards } from "./holds.js";
import type { CallContext, CallDeps } from "./context.js";
import { attemptTimeoutMs, callCancellation, executeOptions, fail, prepareChat, upstreamChatRequest } from "./prepare.js";
import { settle, settledCall, type SettledCall } from "./settle.js";
import { enforceShape } from "./structured.js";
import { tallyAnswer } from "./tool-calls.js";
import { estimateUsage, generatedText } from "./usage.js";

export interface ChatOutcome extends SettledCall {
  result: ChatResult;
  /** The parsed answer, when the call had an output schema. */
  output?: unknown;
}

/** One non-streaming chat call through the whole hot path. */
export async function runChat(deps: CallDeps, ctx: CallContext, raw: ChatRequest): Promise<ChatOutcome> {
  const settling = deps.killSwitch.settling();
  if (settling) await settling;
  const prepared = prepareChat(deps, ctx, raw, false);
  const held = holdChatGuards(deps, ctx, prepared);
  if (held) await held;
  const { plan, record, body, contract } = prepared;
  const call = callCancellation(deps, ctx);
  try {
    const { value, model } = await executeWithFallbacks(
      plan.candidates,
      async (target, attempt) => {
        const sent = upstreamChatRequest(prepared, target);
        return { sent, result: await target.provider.chat(sent, attempt) };
      },
      executeOptions(deps, ctx, plan, record, call),
    );
    record.model = model;
    let result = value.result;
    // No usage from the upstream: estimate rather than record a silent zero, and flag the row.
    record.usage = result.usageReported ? result.usage : await estimateUsage(body, generatedText(result));
    record.usageEstimated = !result.usageReported;
    let output: unknown;
    if (contract) {
      const shaped = await enforceShape(deps, record, contract, model, value.sent, result, call, attemptTimeoutMs(deps, plan, model));
      result = shaped.result;
      output = shaped.output;
    }
    record.toolCalls = tallyAnswer(result.choices, body.tools);
    const outcome: ChatOutcome = Object.assign(settledCall(settle(deps, ctx, record), model, record.attempts), { result });
    if (contract) outcome.output = output;
    return outcome;
  } catch (err) {
    record.model ??= plan.candidates.find((c) => c.id === record.attempts.at(-1)?.model);
    throw fail(deps, ctx, record, err);
  } finally {
    call.dispose();
  }
}
