import type { Cancellation } from "../core/cancel.js";
import type { Usage } from "../providers/spec.js";
import type { CatalogModel } from "../routing/catalog.js";
import { executeWithFallbacks } from "../routing/execute.js";
import type { Plan } from "../routing/plan.js";
import type { WorstCase } from "../policy/budgets.js";
import { holdGuards } from "./holds.js";
import type { CallContext, CallDeps } from "./context.js";
import { callCancellation, executeOptions, fail } from "./prepare.js";
import { settle, settledCall, type CallRecord, type SettledCall } from "./settle.js";

export interface SingleOutcome<T> extends SettledCall {
  result: T;
}

/**
 * One upstream request with retries and fallbacks, settled on the ledger: the shape of every call
 * that is not a chat (embeddings, transcription, speech). `usageReported: false` flags the row estimated.
 */
export async function runSingle<T extends { usage: Usage; usageReported?: boolean }>(
  deps: CallDeps,
  ctx: CallContext,
  { plan, record }: { plan: Plan; record: CallRecord },
  worst: () => WorstCase,
  call: (target: CatalogModel, attempt: Cancellation) => Promise<T>,
): Promise<SingleOutcome<T>> {
  const held = holdGuards(deps, ctx, { plan, record }, worst);
  if (held) await held;
  const cancellation = callCancellation(deps, ctx);
  try {
    const { value, model } = await executeWithFallbacks(plan.candidates, call, executeOptions(deps, ctx, plan, record, cancellation));
    record.model = model;
    record.usage = value.usage;
    record.usageEstimated = value.usageReported === false;
    return Object.assign(settledCall(settle(deps, ctx, record), model, record.attempts), { result: value });
  } catch (err) {
    record.model ??= plan.candidates.find((c) => c.id === record.attempts.at(-1)?.model);
    throw fail(deps, ctx, record, err);
  } finally {
    cancellation.dispose();
  }
}
