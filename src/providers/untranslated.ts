import { ProviderError } from "./errors.js";
import type { ChatRequest } from "./spec.js";
import { isObject } from "./wire.js";

/**
 * OpenAI request parameters that some translating adapter has no field for, beyond those every
 * translating adapter refuses (see refuseUntranslated). Each adapter names the ones it cannot send.
 */
export type UntranslatedParam = "seed" | "parallel_tool_calls";

/**
 * OpenAI request features that an adapter translating to another API has no way to honour. Dropped,
 * they would leave the caller with an answer that silently lacks what it asked for (no logprobs, a
 * function result the model never saw, functions it was never offered, a penalty or bias never
 * applied, a seed never used), so each is refused before any call, as `unsupported`: a sibling that
 * speaks OpenAI's API (later in the route) may still take it, and when none does the caller gets a 400
 * that names the feature. A value that asks for nothing (a penalty of 0, an empty logit_bias,
 * `parallel_tool_calls: true`) is no request at all and is taken: clients such as LangChain send those
 * on every call. `adapter` is the adapter's type; `params` the parameters it cannot send either.
 * The decision for each parameter is written down in docs/providers.md.
 */
export function refuseUntranslated(request: ChatRequest, provider: string, adapter: string, params: readonly UntranslatedParam[] = []): void {
  const refuse = (what: string): never => {
    throw new ProviderError(`${provider}: the ${adapter} adapter cannot translate ${what}`, { kind: "unsupported", provider, fallbackable: true });
  };
  if (request.logprobs === true) refuse("logprobs (the upstream returns no token log probabilities to OpenAI clients)");
  if (typeof request.top_logprobs === "number" && request.top_logprobs > 0) refuse("top_logprobs (the upstream returns no token log probabilities to OpenAI clients)");
  if ((Array.isArray(request.functions) && request.functions.length > 0) || (request.function_call !== undefined && request.function_call !== null)) {
    refuse("the deprecated functions/function_call fields; send tools and tool_choice instead");
  }
  for (const message of request.messages) {
    // Role "function" and an assistant's function_call are the deprecated forms of tool messages and tool_calls.
    if ((message.role as string) === "function" || isObject((message as { function_call?: unknown }).function_call)) {
      refuse("messages with the deprecated role function or function_call; send tool messages and tool_calls instead");
    }
  }
  for (const name of ["presence_penalty", "frequency_penalty"] as const) {
    const value = request[name];
    if (typeof value === "number" && value !== 0) refuse(`${name} (the upstream has no such sampling penalty)`);
  }
  if (isObject(request.logit_bias) && Object.keys(request.logit_bias).length > 0) refuse("logit_bias (the upstream takes no token biases)");
  // Audio out: neither translated API's answer is turned into OpenAI's message.audio here.
  if ((Array.isArray(request.modalities) && request.modalities.includes("audio")) || isObject(request.audio)) {
    refuse('modalities ["audio"] and audio (this adapter answers with text only)');
  }
  if (params.includes("seed") && typeof request.seed === "number") refuse("seed (the upstream has no sampling seed)");
  if (params.includes("parallel_tool_calls") && request.parallel_tool_calls === false && Array.isArray(request.tools) && request.tools.length > 0 && request.tool_choice !== "none") {
    refuse("parallel_tool_calls false (the upstream cannot be held to one tool call per answer)");
  }
}
