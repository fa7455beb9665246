import { performance } from "node:perf_hooks";
import { z } from "zod";
import { AirlockError } from "../../core/errors.js";
import type { ChatRequest, FinishReason, Usage } from "../../providers/spec.js";
import { parsePayload, type DirectiveBrief, type ExecutionModule } from "./modules.js";

const ROLES = ["system", "developer", "user", "assistant", "tool"] as const;

/** An OpenAI chat body, as a directive's payload; `operation` names the route to take. */
const llmCallPayload = z.looseObject({
  operation: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  messages: z.array(z.looseObject({ role: z.enum(ROLES), content: z.union([z.string(), z.array(z.unknown()), z.null()]).optional() })).min(1),
  max_tokens: z.number().int().positive().optional(),
});

/** What the call path returned, without the answer's text. */
export interface LlmAnswer {
  requestId: string;
  model: string;
  provider: string;
  finishReason: FinishReason;
  outputCharacters: number;
  usage: Usage;
  cost: string;
  priceMissing: boolean;
  attempts: number;
}

/** Runs one chat call through Airlock's own call path, as the directive's issuer: guarded, routed and ledgered. */
export type ChatCaller = (request: { body: ChatRequest; operation: string | undefined; requestId: string; directive: DirectiveBrief; signal: AbortSignal }) => Promise<LlmAnswer>;

/** The parts of a finished chat call that an answer summary reads. */
export interface ChatCallResult {
  result: { choices: Array<{ message: { content: string | null }; finish_reason: FinishReason }> };
  model: string;
  provider: string;
  usage: Usage;
  cost: string;
  priceMissing: boolean;
  attempts: readonly unknown[];
}

export function answerOf(requestId: string, call: ChatCallResult): LlmAnswer {
  const outputCharacters = call.result.choices.reduce((n, choice) => n + (choice.message.content?.length ?? 0), 0);
  return { requestId, model: call.model, provider: call.provider, finishReason: call.result.choices[0]?.finish_reason ?? null, outputCharacters, usage: call.usage, cost: call.cost, priceMissing: call.priceMissing, attempts: call.attempts.length };
}

/** `llm_call`'s way into the call path: the call is made as the directive's issuer, whose key must still be live. */
export function issuerChat<P>(
  principalOf: (keyId: string) => P | undefined,
  chat: (body: ChatRequest, ctx: { principal: P; requestId: string; operation: string | undefined; signal: AbortSignal }) => Promise<ChatCallResult>,
): ChatCaller {
  return async ({ body, operation, requestId, directive, signal }) => {
    const principal = principalOf(directive.issuedBy);
    if (principal === undefined) throw new AirlockError("forbidden", `the key that issued directive "${directive.id}" is no longer active`);
    return answerOf(requestId, await chat(body, { principal, requestId, operation, signal }));
  };
}

interface CallSummary {
  answer?: LlmAnswer;
  refused?: { code: string; message: string };
  latencyMs: number;
}

/**
 * `llm_call`: one chat call. Its artifacts hold the shape of the prompt (message count, roles,
 * characters), tokens, cost and latency; never the text of a message or of the answer.
 */
export function llmCallModule(call: ChatCaller): ExecutionModule {
  return {
    name: "llm_call",
    async execute(context) {
      const { operation, ...body } = parsePayload(llmCallPayload, context.directive.payload, "llm_call");
      const messages = body.messages;
      const shape = { messageCount: messages.length, roles: [...new Set(messages.map((m) => m.role))].sort(), totalCharacters: messages.reduce((n, m) => n + characters(m.content), 0) };
      const summary = await context.once(async (): Promise<CallSummary> => {
        const started = performance.now();
        try {
          const answer = await call({ body: { model: body.model ?? "", ...body } as ChatRequest, operation, requestId: `req_${context.idempotencyKey}`, directive: context.directive, signal: context.signal });
          return { answer, latencyMs: Math.round(performance.now() - started) };
        } catch (err) {
          // A refusal (budget, rate limit, kill switch…) is the call's outcome, kept like an answer.
          if (err instanceof AirlockError) return { refused: { code: err.code, message: err.message }, latencyMs: Math.round(performance.now() - started) };
          throw err;
        }
      });
      const { answer, refused, latencyMs } = summary;
      await context.record("llm_call", { ...shape, operation: operation ?? null, requestId: answer?.requestId ?? null, model: answer?.model ?? null, provider: answer?.provider ?? null, finishReason: answer?.finishReason ?? null, outputCharacters: answer?.outputCharacters ?? 0, attempts: answer?.attempts ?? 0, latencyMs, refused: refused?.code ?? null });
      if (!answer) return { status: "FAILURE", error: `the call was refused (${refused?.code}): ${refused?.message}` };
      const { usage } = answer;
      await context.record("llm_usage", { model: answer.model, inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, cachedInputTokens: usage.cachedInputTokens, reasoningTokens: usage.reasoningTokens, cost: answer.cost, priceMissing: answer.priceMissing, latencyMs });
      return { status: "SUCCESS", output: { requestId: answer.requestId, model: answer.model, finishReason: answer.finishReason, outputCharacters: answer.outputCharacters, inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, cost: answer.cost } };
    },
  };
}

function characters(content: unknown): number {
  if (typeof content === "string") return content.length;
  if (!Array.isArray(content)) return 0;
  return content.reduce((n: number, part: unknown) => n + (typeof part === "object" && part !== null && typeof (part as { text?: unknown }).text === "string" ? (part as { text: string }).text.length : 0), 0);
}
