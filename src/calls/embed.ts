import { AirlockError } from "../core/errors.js";
import type { EmbedRequest, EmbedResult } from "../providers/spec.js";
import { executeWithFallbacks, type AttemptRecord } from "../routing/execute.js";
import type { CallContext, CallDeps } from "./context.js";
import { begin, callCancellation, executeOptions, fail, refuse } from "./prepare.js";
import { settle, type Settlement } from "./settle.js";

export interface EmbedOutcome extends Settlement {
  result: EmbedResult;
  model: string;
  provider: string;
  attempts: AttemptRecord[];
}

export async function runEmbed(deps: CallDeps, ctx: CallContext, body: EmbedRequest): Promise<EmbedOutcome> {
  const { plan, record } = begin(deps, ctx, "embeddings", false, body.model);
  if (!isInput(body.input)) {
    throw refuse(deps, ctx, record, new AirlockError("invalid_request", "input must be a string, an array of strings, or token arrays", { param: "input" }));
  }
  const call = callCancellation(deps, ctx);
  try {
    const { value, model } = await executeWithFallbacks(
      plan.candidates,
      (target, attempt) => target.provider.embed({ ...body, model: target.upstreamId }, { signal: attempt.signal }),
      executeOptions(deps, plan, record, call),
    );
    record.model = model;
    record.usage = value.usage;
    const settlement = settle(deps, ctx, record);
    return { ...settlement, result: value, model: model.id, provider: model.providerName, attempts: record.attempts };
  } catch (err) {
    record.model ??= plan.candidates.find((c) => c.id === record.attempts.at(-1)?.model);
    throw fail(deps, ctx, record, err);
  } finally {
    call.dispose();
  }
}

function isInput(input: unknown): boolean {
  if (typeof input === "string") return input.length > 0;
  return Array.isArray(input) && input.length > 0;
}
