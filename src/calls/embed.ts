import { AirlockError } from "../core/errors.js";
import type { EmbedRequest, EmbedResult } from "../providers/spec.js";
import type { CallContext, CallDeps } from "./context.js";
import { begin, refuse } from "./prepare.js";
import { runSingle, type SingleOutcome } from "./single.js";

export type EmbedOutcome = SingleOutcome<EmbedResult>;

export async function runEmbed(deps: CallDeps, ctx: CallContext, body: EmbedRequest): Promise<EmbedOutcome> {
  const begun = begin(deps, ctx, "embeddings", false, body.model);
  if (!isInput(body.input)) {
    throw refuse(deps, ctx, begun.record, new AirlockError("invalid_request", "input must be a string, an array of strings, or token arrays", { param: "input" }));
  }
  return runSingle(deps, ctx, begun, (target, attempt) => target.provider.embed({ ...body, model: target.upstreamId }, { signal: attempt.signal }));
}

function isInput(input: unknown): boolean {
  if (typeof input === "string") return input.length > 0;
  return Array.isArray(input) && input.length > 0;
}
