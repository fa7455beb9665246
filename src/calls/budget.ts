import { inputTokenBound, type BudgetSubject, type WorstCase } from "../policy/budgets.js";
import type { EmbedRequest } from "../providers/spec.js";
import type { Plan } from "../routing/plan.js";
import type { CallContext, CallDeps } from "./context.js";
import type { PreparedChat } from "./prepare.js";
import { refuse } from "./prepare.js";
import type { CallRecord } from "./settle.js";

export function budgetSubject(ctx: CallContext, plan: Plan): BudgetSubject {
  return { principal: ctx.principal, endUser: ctx.endUser, operation: plan.operation?.name };
}

/**
 * Reserves a call's worst case from the budgets it runs under, or records the refusal and throws it.
 * Undefined when nothing needs awaiting: no budget applies, or local allowance covered the call.
 */
export function holdBudgets(deps: CallDeps, ctx: CallContext, begun: { plan: Plan; record: CallRecord }, worst: () => WorstCase): Promise<void> | undefined {
  const { plan, record } = begun;
  const defs = deps.budgets.applying(budgetSubject(ctx, plan));
  if (defs.length === 0) return undefined;
  try {
    const held = deps.budgets.reserve(defs, plan.candidates, worst(), deps.catalog.missingPrice);
    if (!(held instanceof Promise)) {
      record.reservation = held;
      return undefined;
    }
    return held.then(
      (reservation) => {
        record.reservation = reservation;
      },
      (err) => {
        throw refuse(deps, ctx, record, err);
      },
    );
  } catch (err) {
    throw refuse(deps, ctx, record, err);
  }
}

/**
 * A budgeted chat call's worst case. One that sets no output limit gets the configured default as its
 * `max_tokens`, sent upstream, so the reservation is a real bound and not a guess.
 */
export function holdChatBudgets(deps: CallDeps, ctx: CallContext, prepared: PreparedChat): Promise<void> | undefined {
  return holdBudgets(deps, ctx, prepared, () => {
    const { body, plan, contract } = prepared;
    let output = body.max_completion_tokens ?? body.max_tokens ?? plan.operation?.maxTokens;
    if (output === undefined) {
      output = deps.budgets.defaultMaxTokens;
      prepared.body = { ...body, max_tokens: output };
    }
    const choices = typeof body.n === "number" && body.n > 1 ? body.n : 1;
    // A schema asked for in the prompt is sent as text too.
    const schemaTokens = contract ? Buffer.byteLength(JSON.stringify(contract.schema.jsonSchema)) : 0;
    return {
      inputTokens: inputTokenBound(body.messages, body.tools) + schemaTokens,
      outputTokens: output * choices,
      answers: contract?.repair ? 2 : 1,
    };
  });
}

/** Embedding input: at most one token per UTF-8 byte of text, and token arrays as given. */
export function embedWorstCase(input: EmbedRequest["input"]): WorstCase {
  const items: unknown[] = typeof input === "string" ? [input] : (input as unknown[]);
  let tokens = 0;
  for (const item of items) {
    if (typeof item === "string") tokens += Buffer.byteLength(item);
    else if (typeof item === "number") tokens += 1;
    else if (Array.isArray(item)) tokens += item.length;
  }
  return { inputTokens: tokens, outputTokens: 0, answers: 1 };
}

/**
 * Audio length from the file's size at 16 kbit/s, lower than any speech codec's usual rate, so that
 * the figure bounds the length of nearly every file (a longer one is charged in full all the same).
 */
export function transcriptionWorstCase(file: Blob): WorstCase {
  return { inputTokens: 0, outputTokens: 0, audioSeconds: Math.max(1, Math.ceil(file.size / 2_000)), answers: 1 };
}

export function speechWorstCase(input: string): WorstCase {
  return { inputTokens: 0, outputTokens: 0, characters: input.length, answers: 1 };
}
