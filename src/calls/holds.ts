import { AirlockError } from "../core/errors.js";
import { withDeadline } from "../core/deadline.js";
import { costUnitsText, isWholeCount, type CostUnits } from "../ledger/pricing.js";
import type { GrantUse } from "../guards/grants.js";
import { worstCallCost } from "../guards/budget-reservations.js";
import { inputTokenBound, type BudgetSubject, type WorstCase } from "../policy/budgets.js";
import type { ChatRequest, EmbedRequest } from "../providers/spec.js";
import type { Plan } from "../routing/plan.js";
import type { CallContext, CallDeps } from "./context.js";
import type { PreparedChat } from "./prepare.js";
import { refuse } from "./prepare.js";
import type { CallRecord } from "./settle.js";

export function budgetSubject(ctx: CallContext, plan: Plan): BudgetSubject {
  return { principal: ctx.principal, endUser: ctx.endUser, operation: plan.operation?.name };
}

/** How long a refused call waits for its grant's count to be given back before it answers all the same. */
const GIVE_BACK_WAIT_MS = 1_500;

/**
 * The guards that hold something for the call until it settles, in the hot path's order: an approval
 * grant (HIGH-criticality operations only; a call counts against it), rate limits (a request, and the
 * worst case's tokens), then budgets (the worst case's cost). A refusal is recorded and thrown, and
 * gives back the rate limits' permits and the grant's call. Undefined when nothing needs awaiting: no
 * grant is needed, no limit or budget applies, or local allowance covered the call.
 */
export function holdGuards(deps: CallDeps, ctx: CallContext, begun: { plan: Plan; record: CallRecord }, worst: () => WorstCase): Promise<void> | undefined {
  const operation = begun.plan.operation;
  if (operation?.criticality !== "HIGH") return holdLimits(deps, ctx, begun, worst);
  let bound: WorstCase | undefined;
  let cost: CostUnits | undefined;
  const once = (): WorstCase => (bound ??= worst());
  // Worked out once for the grant's spend limit and the budgets both. An unpriced model is held at the
  // price it will be charged; a budget refuses it all the same (see Budgets.reserve).
  const worstCost = (): CostUnits => (cost ??= worstCallCost(begun.plan.candidates, once(), deps.catalog.missingPrice));
  // A HIGH-criticality operation runs only under an admin's approval grant, asked before anything else
  // is held. A grant's spend limit holds the call's worst case, as a budget does, so that calls running
  // together cannot all start under it.
  return deps.grants.use(ctx.principal, operation.name, () => costUnitsText(worstCost())).then(
    (grant) => {
      begun.record.grant = grant;
      try {
        return holdLimits(deps, ctx, begun, once, worstCost)?.catch((err: unknown) => givenBack(grant, err));
      } catch (err) {
        return givenBack(grant, err);
      }
    },
    (err: unknown) => {
      throw refuse(deps, ctx, begun.record, err);
    },
  );
}

/**
 * Answers a refusal once the grant has its call back (the refusal settled it), so that a caller who
 * retries on it, or an admin who raises the limit that refused it, finds the grant as it was. A store
 * slow to answer does not hold the refusal up for long: the call is given back all the same.
 */
async function givenBack(grant: GrantUse, err: unknown): Promise<never> {
  if (grant.settled) await withDeadline(grant.settled, GIVE_BACK_WAIT_MS).catch(() => undefined);
  throw err;
}

function holdLimits(
  deps: CallDeps,
  ctx: CallContext,
  begun: { plan: Plan; record: CallRecord },
  worst: () => WorstCase,
  worstCost?: () => CostUnits,
): Promise<void> | undefined {
  const { plan, record } = begun;
  const subject = budgetSubject(ctx, plan);
  const defs = deps.budgets.applying(subject);
  if (defs.length === 0 && !deps.rateLimits.any) return undefined;
  const refused = (err: unknown): never => {
    if (record.rateHold) deps.rateLimits.release(record.rateHold);
    record.rateHold = undefined;
    throw refuse(deps, ctx, record, err);
  };
  const reserve = (bound: WorstCase): Promise<void> | undefined => {
    if (defs.length === 0) return undefined;
    const need = worstCost ? worstCost() : worstCallCost(plan.candidates, bound, deps.catalog.missingPrice);
    const held = deps.budgets.reserve(defs, plan.candidates, need);
    if (!(held instanceof Promise)) {
      record.reservation = held;
      return undefined;
    }
    return held.then((reservation) => {
      record.reservation = reservation;
    });
  };
  try {
    const bound = worst();
    const rate = deps.rateLimits.hold(subject, bound.inputTokens + bound.outputTokens * bound.answers);
    if (rate instanceof Promise) {
      return rate
        .then((held) => {
          record.rateHold = held;
          return reserve(bound);
        })
        .catch(refused);
    }
    record.rateHold = rate;
    return reserve(bound)?.catch(refused);
  } catch (err) {
    return refused(err);
  }
}

/**
 * A budgeted or rate-limited chat call's worst case. One that sets no output limit gets the configured
 * default as its `max_tokens`, sent upstream, so the reservation is a real bound and not a guess.
 */
export function holdChatGuards(deps: CallDeps, ctx: CallContext, prepared: PreparedChat): Promise<void> | undefined {
  return holdGuards(deps, ctx, prepared, () => {
    const { body, plan, contract } = prepared;
    let output = body.max_completion_tokens ?? body.max_tokens ?? plan.operation?.maxTokens;
    if (output === undefined) {
      output = deps.budgets.defaultMaxTokens;
      // Our field first, then the caller's, then ours again: a spread followed by a new field would
      // keep the whole request from dying young (docs/performance-findings.md#objects-spread-into).
      const bounded: ChatRequest = { max_tokens: output, ...body };
      bounded.max_tokens = output;
      prepared.body = bounded;
    }
    // A bound that is not a count (a string, 1e400 read as Infinity) bounds nothing: refused, not reserved.
    if (!isWholeCount(output)) {
      const param = body.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens";
      throw new AirlockError("invalid_request", `${param} must be a whole number`, { param });
    }
    if (body.n != null && !isWholeCount(body.n)) throw new AirlockError("invalid_request", "n must be a whole number", { param: "n" });
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
