import { ProviderError } from "./errors.js";
import type { ChatRequest } from "./spec.js";
import { isObject } from "./wire.js";

/**
 * OpenAI request features that an adapter translating to another API has no way to honour. Dropped,
 * they would leave the caller with an answer that silently lacks what it asked for (no logprobs, a
 * function result the model never saw, functions it was never offered), so each is refused before any
 * call, as `unsupported`: a sibling that speaks OpenAI's API (later in the route) may still take it, and
 * when none does the caller gets a 400 that names the feature. `adapter` is the adapter's type.
 */
export function refuseUntranslated(request: ChatRequest, provider: string, adapter: string): void {
  const refuse = (what: string): never => {
    throw new ProviderError(`${provider}: the ${adapter} adapter cannot translate ${what}`, { kind: "unsupported", provider, fallbackable: true });
  };
  if (request.logprobs === true) refuse("logprobs (the upstream returns no token log probabilities to OpenAI clients)");
  if ((Array.isArray(request.functions) && request.functions.length > 0) || (request.function_call !== undefined && request.function_call !== null)) {
    refuse("the deprecated functions/function_call fields; send tools and tool_choice instead");
  }
  for (const message of request.messages) {
    // Role "function" and an assistant's function_call are the deprecated forms of tool messages and tool_calls.
    if ((message.role as string) === "function" || isObject((message as { function_call?: unknown }).function_call)) {
      refuse("messages with the deprecated role function or function_call; send tool messages and tool_calls instead");
    }
  }
}
