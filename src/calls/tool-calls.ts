import type { ToolCall } from "../providers/spec.js";
import { isObject } from "../providers/wire.js";

/** How many tool calls an answer made, and how many of them could not be run as asked. */
export interface ToolCallTally {
  calls: number;
  failures: number;
}

/**
 * A tool call fails when it names a function the request did not declare, or when its arguments are
 * not a JSON object: the caller's code could not run it. What the tool then did is the caller's
 * business and never reaches the gateway.
 */
function tallyToolCalls(calls: readonly { name: string; arguments: string }[], tools: readonly unknown[] | undefined): ToolCallTally {
  const declared = declaredNames(tools);
  let failures = 0;
  for (const call of calls) if (!declared.has(call.name) || !isJsonObject(call.arguments)) failures++;
  return { calls: calls.length, failures };
}

/**
 * The function calls of an answer's choices; undefined (and nothing allocated) when it made none, as
 * most answers do. The answer is the provider's, unchecked: a call of another type (a custom tool) or
 * of no recognizable shape is left out, never allowed to fail the call.
 */
export function tallyAnswer(choices: readonly { message: { tool_calls?: readonly ToolCall[] } }[], tools: readonly unknown[] | undefined): ToolCallTally | undefined {
  if (!choices.some((choice) => Array.isArray(choice.message.tool_calls) && choice.message.tool_calls.length > 0)) return undefined;
  const calls: Array<{ name: string; arguments: string }> = [];
  for (const choice of choices) {
    for (const call of Array.isArray(choice.message.tool_calls) ? choice.message.tool_calls : []) {
      const fn = (call as { function?: { name?: unknown; arguments?: unknown } } | null)?.function;
      if (typeof fn?.name === "string") calls.push({ name: fn.name, arguments: typeof fn.arguments === "string" ? fn.arguments : "" });
    }
  }
  return calls.length ? tallyToolCalls(calls, tools) : undefined;
}

/** Arguments kept per streamed call; past this the call is counted, not judged. */
const MAX_ARGUMENT_CHARS = 256 * 1024;

/** Streamed tool calls arrive as fragments keyed by index: the name once, the arguments in pieces. */
export class StreamedToolCalls {
  private readonly calls = new Map<string, { name: string; arguments: string; overflow: boolean }>();

  /** Takes one chunk's deltas; returns the generated text in them (names and argument fragments), for the usage estimate. */
  add(choiceIndex: number, deltas: readonly unknown[]): string {
    let text = "";
    for (const delta of deltas) {
      const { index, function: fn } = (delta ?? {}) as { index?: unknown; function?: { name?: unknown; arguments?: unknown } };
      if (!fn) continue;
      const key = `${choiceIndex}:${typeof index === "number" ? index : 0}`;
      const call = this.calls.get(key) ?? { name: "", arguments: "", overflow: false };
      if (typeof fn.name === "string") {
        text += fn.name;
        // The name comes once; a provider that repeats it in later fragments must not double it.
        if (!call.name) call.name = fn.name;
      }
      if (typeof fn.arguments === "string") {
        text += fn.arguments;
        if (call.arguments.length + fn.arguments.length > MAX_ARGUMENT_CHARS) call.overflow = true;
        else call.arguments += fn.arguments;
      }
      this.calls.set(key, call);
    }
    return text;
  }

  /** Judged only for a stream that ended whole: arguments cut off mid-way say nothing of the model. */
  tally(tools: readonly unknown[] | undefined): ToolCallTally | undefined {
    if (this.calls.size === 0) return undefined;
    const calls = [...this.calls.values()];
    const judged = tallyToolCalls(calls.filter((call) => !call.overflow), tools);
    return { calls: calls.length, failures: judged.failures };
  }
}

function declaredNames(tools: readonly unknown[] | undefined): Set<string> {
  const names = new Set<string>();
  for (const tool of tools ?? []) {
    const name = (tool as { function?: { name?: unknown } } | null)?.function?.name;
    if (typeof name === "string") names.add(name);
  }
  return names;
}

function isJsonObject(text: string): boolean {
  try {
    return isObject(JSON.parse(text === "" ? "{}" : text));
  } catch {
    return false;
  }
}
