import { beforeAll, describe, expect, it } from "vitest";
import { tokenizerReady } from "../../test/support/tokenizer.js";
import type { ChatResult } from "../providers/spec.js";
import { countTokens } from "./token-counter.js";
import { estimateUsage, generatedText, promptTexts, streamUsage } from "./usage.js";

beforeAll(tokenizerReady, 90_000);

describe("token counts", () => {
  it("counts text with the o200k_base tokenizer", async () => {
    // tiktoken's o200k_base splits this into Hello | , | ␣world | !
    expect(await countTokens(["Hello, world!", "", "The capital of France is Paris."])).toEqual([4, 0, 7]);
  });

  it("counts text that looks like a special token as plain text, and does not throw on it", async () => {
    const [count] = await countTokens(["<|endoftext|>"]);
    expect(count).toBeGreaterThan(1);
  });

  it("counts unbroken runs of 100 characters or more at four characters a token, so no input can make it slow", async () => {
    // Byte-pair encoding is quadratic in such a run: a megabyte of one letter would take minutes.
    const run = "a".repeat(1_000_000);
    expect(await countTokens([run])).toEqual([250_000]);
    const [mixed] = await countTokens([`Hello, world! ${"b".repeat(400)} Hello, world!`]);
    expect(mixed).toBe(100 + (await countTokens(["Hello, world!  Hello, world!"]))[0]!);
  });

  it("counts only the first 64 KB of an estimate exactly, and the rest at four characters a token", async () => {
    const word = "lorem ipsum ";
    const long = word.repeat(10_000); // 120,000 characters of short words
    const [count] = await countTokens([long]);
    const [exactPart] = await countTokens([long.slice(0, 64 * 1024)]);
    expect(count).toBe(exactPart! + Math.ceil((long.length - 64 * 1024) / 4));
  });
});

describe("usage estimate", () => {
  it("frames messages as OpenAI does: one user message saying Hello is 8 prompt tokens", async () => {
    expect((await estimateUsage({ model: "m", messages: [{ role: "user", content: "Hello" }] }, "")).inputTokens).toBe(8);
    // Each further message adds 3 for framing, its role, its content, and for a name 1 more plus the name.
    const two = await estimateUsage(
      {
        model: "m",
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: [{ type: "text", text: "Hello" }], name: "ada" },
        ],
      },
      "",
    );
    const [briefly, ada] = await countTokens(["Be brief.", "ada"]);
    expect(two.inputTokens).toBe(3 + (3 + 1 + briefly!) + (3 + 1 + 1 + 1 + ada!));
  });

  it("counts tool definitions, and skips values that are not text instead of failing", async () => {
    const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
    const plain = await estimateUsage({ model: "m", messages: [{ role: "user", content: "Weather?" }] }, "");
    const withTools = await estimateUsage({ model: "m", messages: [{ role: "user", content: "Weather?" }], tools }, "");
    expect(withTools.inputTokens).toBe(plain.inputTokens + (await countTokens([JSON.stringify(tools)]))[0]!);
    const odd = { model: "m", messages: [{ role: "user", content: [{ type: "text", text: 5 }], name: 7 }] } as never;
    expect(promptTexts(odd).texts).toEqual(["user"]);
    expect((await estimateUsage(odd, "")).inputTokens).toBe(3 + 3 + 1);
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
    const usage = await estimateUsage({ model: "m", messages: [{ role: "user", content: "Hello" }] }, generatedText(result), 40);
    const [generated] = await countTokens(['Paris.f{"a":1}']);
    expect(usage).toEqual({ inputTokens: 8, outputTokens: generated! + 10, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
  });
});

describe("the usage of a stream that ended without its usage event", () => {
  const body = { model: "m", messages: [{ role: "user" as const, content: "What is the capital of France?" }] };
  const reported = { inputTokens: 2009, outputTokens: 1, cachedInputTokens: 1800, cacheWriteTokens: 188, reasoningTokens: 0 };

  it("is estimated whole when the upstream reported nothing", async () => {
    expect(await streamUsage(body, undefined, "Paris.", 0)).toEqual({ usage: await estimateUsage(body, "Paris."), estimated: true });
  });

  it("is the upstream's own when its output counts cover what was streamed", async () => {
    const usage = { ...reported, outputTokens: 10 };
    expect(await streamUsage(body, { usage, outputCounted: true }, "The capital of France", 0)).toEqual({ usage, estimated: false });
  });

  it("keeps the reported input side and counts the output the upstream had not, flagged estimated", async () => {
    const [generated] = await countTokens(["The capital of France"]);
    const billed = await streamUsage(body, { usage: reported, outputCounted: false }, "The capital of France", 40);
    expect(billed).toEqual({ usage: { ...reported, outputTokens: generated! + 10 }, estimated: true });
    // The upstream's count so far stands when it is the larger, and reasoning it reported is added to the text's.
    const thinking = { ...reported, outputTokens: 500, reasoningTokens: 120 };
    expect((await streamUsage(body, { usage: thinking, outputCounted: false }, "", 0)).usage.outputTokens).toBe(500);
    expect((await streamUsage(body, { usage: { ...thinking, outputTokens: 120 }, outputCounted: false }, "The capital of France", 0)).usage.outputTokens).toBe(120 + generated!);
  });
});
