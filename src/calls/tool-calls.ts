import type { ToolCall } from "../providers/spec.js";

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
export function tallyToolCalls(calls: readonly { name: string; arguments: string }[], tools: readonly unknown[] | undefined): ToolCallTally {
  const declared = declaredNames(tools);
  let failures = 0;
  for (const call of calls) if (!declared.has(call.name) || !isJsonObject(call.arguments)) failures++;
  return { calls: calls.length, failures };
}

/** The tool calls of an answer's choices; undefined (and nothing allocated) when it made none, as most answers do. */
export function tallyAnswer(choices: readonly { message: { tool_calls?: readonly ToolCall[] } }[], tools: readonly unknown[] | undefined): ToolCallTally | undefined {
  if (!choices.some((choice) => choice.message.tool_calls?.length)) return undefined;
  return tallyToolCalls(
    choices.flatMap((choice) => (choice.message.tool_calls ?? []).map((call) => ({ name: call.function.name, arguments: call.function.arguments }))),
    tools,
  );
}

/** Streamed tool calls arrive as fragments keyed by index: the name once, the arguments in pieces. */
export class StreamedToolCalls {
  private readonly calls = new Map<string, { name: string; arguments: string }>();

  add(choiceIndex: number, deltas: readonly unknown[]): void {
    for (const delta of deltas) {
      const { index, function: fn } = delta as { index?: unknown; function?: { name?: unknown; arguments?: unknown } };
      const key = `${choiceIndex}:${typeof index === "number" ? index : 0}`;
      const call = this.calls.get(key) ?? { name: "", arguments: "" };
      if (typeof fn?.name === "string") call.name += fn.name;
      if (typeof fn?.arguments === "string") call.arguments += fn.arguments;
      this.calls.set(key, call);
    }
  }

  tally(tools: readonly unknown[] | undefined): ToolCallTally | undefined {
    return this.calls.size === 0 ? undefined : tallyToolCalls([...this.calls.values()], tools);
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
    const value: unknown = JSON.parse(text === "" ? "{}" : text);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}
