import { describe, expect, it } from "vitest";
import type { ChatResult } from "../providers/spec.js";
import { countPromptTokens, countTokens, estimateUsage, generatedText, loadTokenizer } from "./usage.js";

describe("usage estimate", () => {
  it("counts text with the o200k_base tokenizer", async () => {
    const tokenizer = await loadTokenizer();
    // tiktoken's own o200k_base encoding of this string: Hello | , | ␣world | !
    expect(tokenizer.encode("Hello, world!", [], [])).toEqual([13225, 11, 2375, 0]);
    expect(countTokens(tokenizer, "Hello, world!")).toBe(4);
    expect(countTokens(tokenizer, "")).toBe(0);
  });

  it("counts text that looks like a special token as plain text, and does not throw on it", async () => {
    const tokenizer = await loadTokenizer();
    expect(countTokens(tokenizer, "<|endoftext|>")).toBeGreaterThan(1);
  });

  it("frames messages as OpenAI does: one user message saying Hello is 8 prompt tokens", async () => {
    const tokenizer = await loadTokenizer();
    expect(countPromptTokens(tokenizer, { model: "m", messages: [{ role: "user", content: "Hello" }] })).toBe(8);
    // Each further message adds 3 for framing, its role, its content, and for a name 1 more plus the name.
    const two = countPromptTokens(tokenizer, {
      model: "m",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: [{ type: "text", text: "Hello" }], name: "ada" },
      ],
    });
    expect(two).toBe(3 + (3 + 1 + countTokens(tokenizer, "Be brief.")) + (3 + 1 + 1 + 1 + countTokens(tokenizer, "ada")));
  });

  it("counts tool definitions and earlier tool calls in the prompt", async () => {
    const tokenizer = await loadTokenizer();
    const plain = countPromptTokens(tokenizer, { model: "m", messages: [{ role: "user", content: "Weather?" }] });
    const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
    expect(countPromptTokens(tokenizer, { model: "m", messages: [{ role: "user", content: "Weather?" }], tools })).toBe(plain + countTokens(tokenizer, JSON.stringify(tools)));
  });

  it("estimates a whole call: prompt framing plus the generated text, nothing cached or reasoned", async () => {
    const result: ChatResult = {
      id: "x",
      model: "m",
      created: 0,
      usageReported: false,
      usage: { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
      choices: [
        {
          index: 0,
          finish_reason: "tool_calls",
          message: { role: "assistant", content: "Paris.", tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: '{"a":1}' } }] },
        },
      ],
    };
    expect(generatedText(result)).toBe('Paris.f{"a":1}');
    const usage = await estimateUsage({ model: "m", messages: [{ role: "user", content: "Hello" }] }, generatedText(result));
    const tokenizer = await loadTokenizer();
    expect(usage).toEqual({ inputTokens: 8, outputTokens: countTokens(tokenizer, 'Paris.f{"a":1}'), cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
  });
});
