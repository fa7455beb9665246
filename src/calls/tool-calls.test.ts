import { describe, expect, it } from "vitest";
import { StreamedToolCalls, tallyAnswer } from "./tool-calls.js";

const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }];
const call = (name: string, args: string) => ({ id: `call_${name}`, type: "function" as const, function: { name, arguments: args } });
const answer = (...calls: ReturnType<typeof call>[]) => [{ message: { tool_calls: calls } }];

describe("tool-call tally", () => {
  it("counts a call that names a declared tool with object arguments as a success", () => {
    expect(tallyAnswer(answer(call("get_weather", '{"city":"Oslo"}'), call("get_weather", "")), tools)).toEqual({ calls: 2, failures: 0 });
  });

  it("counts an undeclared name, unparsable arguments and non-object arguments as failures", () => {
    expect(tallyAnswer(answer(call("get_wether", "{}"), call("get_weather", '{"city":'), call("get_weather", "[1]"), call("get_weather", "{}")), tools)).toEqual({ calls: 4, failures: 3 });
    // Every choice's calls count (n > 1).
    expect(tallyAnswer([...answer(call("get_weather", "{}")), ...answer(call("nope", "{}"))], tools)).toEqual({ calls: 2, failures: 1 });
  });

  it("is undefined for an answer with no tool calls", () => {
    expect(tallyAnswer([{ message: {} }], tools)).toBeUndefined();
    expect(tallyAnswer(answer(), tools)).toBeUndefined();
  });

  it("leaves out calls of another type or no known shape, and never throws on them", () => {
    const custom = { id: "call_c", type: "custom", custom: { name: "grep", input: "foo" } } as unknown as ReturnType<typeof call>;
    expect(tallyAnswer(answer(custom), tools)).toBeUndefined();
    expect(tallyAnswer(answer(custom, call("get_weather", "{}"), null as unknown as ReturnType<typeof call>), tools)).toEqual({ calls: 1, failures: 0 });
    expect(tallyAnswer([{ message: { tool_calls: "nonsense" as unknown as [] } }], tools)).toBeUndefined();
  });

  it("takes a streamed name once, and counts arguments too long to keep without judging them", () => {
    const streamed = new StreamedToolCalls();
    streamed.add(0, [{ index: 0, function: { name: "get_weather", arguments: "{" } }]);
    streamed.add(0, [{ index: 0, function: { name: "get_weather", arguments: "}" } }]);
    streamed.add(0, [{ index: 1, function: { name: "get_weather", arguments: '{"blob":"' } }]);
    for (let i = 0; i < 5; i++) streamed.add(0, [{ index: 1, function: { arguments: "x".repeat(64 * 1024) } }]);
    streamed.add(0, [null, { index: 2 }]);
    expect(streamed.tally(tools)).toEqual({ calls: 2, failures: 0 });
  });

  it("assembles streamed fragments by choice and index before judging them", () => {
    const streamed = new StreamedToolCalls();
    streamed.add(0, [{ index: 0, id: "call_a", function: { name: "get_weather", arguments: "" } }]);
    streamed.add(0, [{ index: 1, id: "call_b", function: { name: "get_weather", arguments: '{"ci' } }]);
    streamed.add(0, [{ index: 0, function: { arguments: '{"city":' } }]);
    streamed.add(0, [{ index: 0, function: { arguments: '"Oslo"}' } }]);
    expect(streamed.tally(tools)).toEqual({ calls: 2, failures: 1 });
    expect(new StreamedToolCalls().tally(tools)).toBeUndefined();
  });
});
