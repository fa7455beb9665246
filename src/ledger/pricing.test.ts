import { describe, expect, it } from "vitest";
import { costOf, costText, costUnits, costUnitsOf, costUnitsText, costUnitsUp, formatCost, Money, tokenPrice, unitPrice, withUnitFallback } from "./pricing.js";
import { emptyUsage } from "../providers/spec.js";
import { fixedSequence } from "../../test/support/sequence.js";

describe("costOf", () => {
  it("charges cached and reasoning tokens at their own prices, never twice", () => {
    const price = unitPrice({ input: "2.50", output: "10.00", cachedInput: "1.25", reasoning: "10.00", per: "1M" });
    const usage = { ...emptyUsage(), inputTokens: 1000, cachedInputTokens: 400, outputTokens: 300, reasoningTokens: 200 };
    // 600 × 2.5e-6 + 400 × 1.25e-6 + 100 × 1e-5 + 200 × 1e-5 = 0.0015 + 0.0005 + 0.001 + 0.002 = 0.005
    expect(formatCost(costOf(usage, price))).toBe("0.005");
  });

  it("charges only the request fee for a call with no tokens, and only what a call used when the rest is zero", () => {
    const price = unitPrice({ input: "3", output: "15", cachedInput: "0.3", cacheWrite: "3.75", reasoning: "15", request: "0.002", per: "1M" });
    expect(formatCost(costOf(emptyUsage(), price))).toBe("0.002");
    // All 500 input tokens cached: 500 × 3e-7 + 0.002
    expect(formatCost(costOf({ ...emptyUsage(), inputTokens: 500, cachedInputTokens: 500 }, price))).toBe("0.00215");
    // Only reasoning output: 40 × 1.5e-5, with no fee on a free request price
    const free = unitPrice({ input: "3", output: "15", per: "1M" });
    expect(formatCost(costOf({ ...emptyUsage(), outputTokens: 40, reasoningTokens: 40 }, free))).toBe("0.0006");
  });

  it("is exact where binary floats are not", () => {
    const price = unitPrice({ input: "0.1", output: "0.2", per: "1" });
    const usage = { ...emptyUsage(), inputTokens: 1, outputTokens: 1 };
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(formatCost(costOf(usage, price))).toBe("0.3");
  });

  it("bills cache writes and per-request fees", () => {
    const price = unitPrice({ input: "3", output: "15", cachedInput: "0.30", cacheWrite: "3.75", request: "0.001", per: "1M" });
    const usage = { ...emptyUsage(), inputTokens: 3000, cachedInputTokens: 1000, cacheWriteTokens: 1000, outputTokens: 100 };
    // 1000 × 3e-6 + 1000 × 3e-7 + 1000 × 3.75e-6 + 100 × 1.5e-5 + 0.001
    expect(formatCost(costOf(usage, price))).toBe("0.00955");
  });

  it("bills 1-hour cache writes at their own price, and the rest of the writes at the 5-minute one", () => {
    // Claude Sonnet 4.5: input 3, 5-minute writes 3.75 (1.25x), 1-hour writes 6 (2x), reads 0.30, output 15.
    const price = unitPrice({ input: "3", output: "15", cachedInput: "0.30", cacheWrite: "3.75", cacheWrite1h: "6", per: "1M" });
    const usage = { ...emptyUsage(), inputTokens: 3100, cachedInputTokens: 1000, cacheWriteTokens: 2000, cacheWrite1hTokens: 1500, outputTokens: 100 };
    // 100 × 3 + 1000 × 0.30 + 500 × 3.75 + 1500 × 6 + 100 × 15 = 300 + 300 + 1875 + 9000 + 1500 = 12975 per 1M
    expect(formatCost(costOf(usage, price))).toBe("0.012975");
    expect(costText(usage, price)).toBe("0.012975");
    // Without a 1-hour price, they cost what other cache writes cost: never less than the price says.
    const plain = unitPrice({ input: "3", output: "15", cacheWrite: "3.75", per: "1M" });
    expect(costText({ ...emptyUsage(), inputTokens: 1000, cacheWriteTokens: 1000, cacheWrite1hTokens: 1000 }, plain)).toBe("0.00375");
    // More 1-hour writes reported than writes: never more than the writes, never charged twice.
    expect(costText({ ...emptyUsage(), inputTokens: 1000, cacheWriteTokens: 1000, cacheWrite1hTokens: 5000 }, price)).toBe("0.006");
  });

  it("bills audio tokens in and out at their own prices, and the text around them at the text prices", () => {
    // gpt-4o-transcribe: text in 2.5, audio in 6, text out 10.
    const transcribe = unitPrice({ input: "2.5", audioInput: "6", output: "10", per: "1M" });
    const usage = { ...emptyUsage(), inputTokens: 1100, audioInputTokens: 1024, outputTokens: 15 };
    // 76 × 2.5 + 1024 × 6 + 15 × 10 = 190 + 6144 + 150 = 6484 per 1M
    expect(formatCost(costOf(usage, transcribe))).toBe("0.006484");
    expect(costText(usage, transcribe)).toBe("0.006484");
    // An audio chat model: 200 cached (at 1.25), 800 audio of the 1800 other input (at 40), 150 audio out of 200 (at 80).
    const chat = unitPrice({ input: "2.5", cachedInput: "1.25", audioInput: "40", output: "10", audioOutput: "80", per: "1M" });
    const mixed = { ...emptyUsage(), inputTokens: 2000, cachedInputTokens: 200, audioInputTokens: 800, outputTokens: 200, audioOutputTokens: 150 };
    // 1000 × 2.5 + 200 × 1.25 + 800 × 40 + 50 × 10 + 150 × 80 = 2500 + 250 + 32000 + 500 + 12000 = 47250 per 1M
    expect(costText(mixed, chat)).toBe("0.04725");
    expect(formatCost(costOf(mixed, chat))).toBe("0.04725");
    // Without audio prices, audio costs what text costs; more audio reported than its total is never charged twice.
    const text = unitPrice({ input: "2.5", output: "10", per: "1M" });
    expect(costText({ ...emptyUsage(), inputTokens: 100, audioInputTokens: 5000 }, text)).toBe("0.00025");
    expect(costText({ ...emptyUsage(), inputTokens: 100, audioInputTokens: 5000 }, transcribe)).toBe("0.0006");
  });

  it("keeps sub-micro-dollar precision without exponent notation", () => {
    const price = unitPrice({ input: "0.0375", output: "0", per: "1M" });
    expect(formatCost(costOf({ ...emptyUsage(), inputTokens: 1 }, price))).toBe("0.0000000375");
  });

  it("bills transcription by the second at a per-minute price", () => {
    // whisper-1 at $0.006 a minute, 61.5 s of audio: 0.006 × 61.5 / 60 = 0.00615
    const price = unitPrice({ input: "0", output: "0", audioMinute: "0.006", per: "1M" });
    expect(formatCost(costOf({ ...emptyUsage(), audioSeconds: 61.5 }, price))).toBe("0.00615");
    // 7 s at $0.0043 a minute is 0.00050166…, kept to the ledger's 12 digits, rounded half to even
    const odd = unitPrice({ input: "0", output: "0", audioMinute: "0.0043", per: "1M" });
    expect(formatCost(costOf({ ...emptyUsage(), audioSeconds: 7 }, odd))).toBe("0.000501666667");
  });

  it("bills speech by the character, scaled like tokens by `per`", () => {
    // tts-1 at $15 per 1M characters, 1,234 characters: 1234 × 15 / 1e6 = 0.01851
    const price = unitPrice({ input: "0", output: "0", characters: "15", per: "1M" });
    expect(formatCost(costOf({ ...emptyUsage(), characters: 1234 }, price))).toBe("0.01851");
  });

  it("adds units to tokens on the same call", () => {
    // gpt-4o-mini-tts style: text tokens in, and characters at their own price
    const price = unitPrice({ input: "0.6", output: "12", characters: "1", per: "1M" });
    const usage = { ...emptyUsage(), inputTokens: 100, outputTokens: 1000, characters: 500 };
    // 100 × 0.6 + 1000 × 12 + 500 × 1 = 60 + 12000 + 500 = 12560 per 1M
    expect(formatCost(costOf(usage, price))).toBe("0.01256");
  });

  it("charges units a price leaves unset at the fallback, but takes an explicit \"0\" as a price", () => {
    const fallback = unitPrice({ input: "10", output: "30", characters: "30", audioMinute: "0.05", per: "1M" });
    const speech = { ...emptyUsage(), characters: 1000 };
    const unset = withUnitFallback(speech, unitPrice({ input: "0.6", output: "12", per: "1M" }), fallback);
    expect(unset.fellBack).toBe(true);
    expect(formatCost(costOf(speech, unset.price))).toBe("0.03");
    const free = withUnitFallback(speech, unitPrice({ input: "0", output: "0", characters: "0", per: "1M" }), fallback);
    expect(free.fellBack).toBe(false);
    expect(formatCost(costOf(speech, free.price))).toBe("0");
  });
});

describe("long-context tiers", () => {
  // Gemini 2.5 Pro: 1.25 in, 0.125 cached, 10 out; prompts over 200K tokens: 2.5 in, 0.25 cached, 15 out.
  const gemini = unitPrice({ input: "1.25", cachedInput: "0.125", output: "10", per: "1M", above: [{ inputTokens: 200_000, input: "2.5", cachedInput: "0.25", output: "15" }] });

  it("charges the whole call at the tier once its prompt, cached tokens included, is longer than the threshold", () => {
    const long = { ...emptyUsage(), inputTokens: 250_000, cachedInputTokens: 50_000, outputTokens: 1000, reasoningTokens: 400 };
    // 200000 × 2.5 + 50000 × 0.25 + 1000 × 15 = 500000 + 12500 + 15000 = 527500 per 1M
    expect(formatCost(costOf(long, gemini))).toBe("0.5275");
    expect(costText(long, gemini)).toBe("0.5275");
    // 190,000 fresh and 20,000 cached: 210,000 in all, past 200,000 though neither part is.
    const split = { ...emptyUsage(), inputTokens: 210_000, cachedInputTokens: 20_000, outputTokens: 10 };
    // 190000 × 2.5 + 20000 × 0.25 + 10 × 15 = 475000 + 5000 + 150 = 480150 per 1M
    expect(costText(split, gemini)).toBe("0.48015");
  });

  it("keeps the base price up to the threshold itself, as the providers' 'over 200K' reads", () => {
    const at = { ...emptyUsage(), inputTokens: 200_000, outputTokens: 1000 };
    // 200000 × 1.25 + 1000 × 10 = 260000 per 1M
    expect(costText(at, gemini)).toBe("0.26");
    expect(formatCost(costOf(at, gemini))).toBe("0.26");
    // One more token: 200001 × 2.5 + 1000 × 15 = 515002.5 per 1M
    expect(costText({ ...at, inputTokens: 200_001 }, gemini)).toBe("0.5150025");
  });

  it("takes the last tier passed, and falls back within a tier as a price does", () => {
    const stepped = unitPrice({
      input: "1",
      output: "2",
      cachedInput: "0.1",
      request: "0.001",
      per: "1M",
      above: [
        { inputTokens: 1000, input: "3", output: "4" },
        { inputTokens: 5000, input: "5", output: "6", cachedInput: "0.5", cacheWrite1h: "9" },
      ],
    });
    expect(tokenPrice(stepped, 1000)).toBe(stepped);
    expect(tokenPrice(stepped, 1001)).toBe(stepped.tiers![0]!.price);
    expect(tokenPrice(stepped, 5001)).toBe(stepped.tiers![1]!.price);
    // The first tier sets no cache price: cache reads cost its input (3), not the base's discount.
    const middle = { ...emptyUsage(), inputTokens: 2000, cachedInputTokens: 1000, outputTokens: 100, reasoningTokens: 50 };
    // 1000 × 3 + 1000 × 3 + 100 × 4 (reasoning at the tier's output) + the 0.001 fee = 6400 per 1M + 0.001
    expect(costText(middle, stepped)).toBe("0.0074");
    // The second: 5-minute writes at its input (5), 1-hour ones at 9.
    const top = { ...emptyUsage(), inputTokens: 6000, cacheWriteTokens: 3000, cacheWrite1hTokens: 1000, outputTokens: 10 };
    // 3000 × 5 + 2000 × 5 + 1000 × 9 + 10 × 6 = 15000 + 10000 + 9000 + 60 = 34060 per 1M + 0.001
    expect(costText(top, stepped)).toBe("0.03506");
    expect(formatCost(costOf(top, stepped))).toBe("0.03506");
  });

  it("prices characters and audio minutes at the price's own, whatever the tier", () => {
    const speech = unitPrice({ input: "1", output: "1", characters: "15", audioMinute: "0.006", per: "1M", above: [{ inputTokens: 10, input: "2", output: "2" }] });
    const usage = { ...emptyUsage(), inputTokens: 20, characters: 1000, audioSeconds: 60 };
    // 20 × 2 / 1M + 1000 × 15 / 1M + 0.006 = 0.00004 + 0.015 + 0.006
    expect(costText(usage, speech)).toBe("0.02104");
    const fallback = unitPrice({ input: "10", output: "30", characters: "30", audioMinute: "0.05", per: "1M" });
    const unpriced = withUnitFallback({ ...emptyUsage(), inputTokens: 20, characters: 1000 }, unitPrice({ input: "1", output: "1", per: "1M", above: [{ inputTokens: 10, input: "2", output: "2" }] }), fallback);
    // 20 × 2 / 1M + 1000 × 30 / 1M: the fallback's characters, never $0 because the tier has none.
    expect(costText({ ...emptyUsage(), inputTokens: 20, characters: 1000 }, unpriced.price)).toBe("0.03004");
  });
});

describe("costText", () => {
  const formatted = (usage: Parameters<typeof costOf>[0], price: ReturnType<typeof unitPrice>) => formatCost(costOf(usage, price));

  it("writes what formatCost(costOf()) writes, for prices of every unit and precision and usages of every shape", () => {
    const prices = [
      unitPrice({ input: "2.50", output: "10.00", cachedInput: "1.25", reasoning: "10.00", per: "1M" }),
      unitPrice({ input: "3", output: "15", cachedInput: "0.3", cacheWrite: "3.75", reasoning: "15", request: "0.002", per: "1M" }),
      unitPrice({ input: "0.1", output: "0.2", per: "1" }),
      unitPrice({ input: "0.00015", output: "0.0006", per: "1K" }),
      unitPrice({ input: "0.0375", output: "0.15", cachedInput: "0.01875", per: "1M" }),
      unitPrice({ input: "1.234567891234567", output: "9.87654321", request: "0.0000001", per: "1M" }),
      unitPrice({ input: "0", output: "0", per: "1M" }),
      unitPrice({ input: "12", output: "34", per: "1" }),
      unitPrice({ input: "1", output: "5", cachedInput: "0.1", cacheWrite: "1.25", cacheWrite1h: "2", per: "1M" }),
      unitPrice({ input: "2.5", output: "10", cachedInput: "1.25", audioInput: "40", audioOutput: "80", per: "1M" }),
      // Long-context tiers: the calls below run to 2M prompt tokens, so each tier is met.
      unitPrice({ input: "1.25", cachedInput: "0.125", output: "10", per: "1M", above: [{ inputTokens: 200_000, input: "2.5", cachedInput: "0.25", output: "15" }] }),
      unitPrice({
        input: "3",
        cacheWrite: "3.75",
        cacheWrite1h: "6",
        cachedInput: "0.3",
        output: "15",
        request: "0.0001",
        per: "1M",
        above: [
          { inputTokens: 200_000, input: "6", cacheWrite: "7.5", cacheWrite1h: "12", cachedInput: "0.6", output: "22.5" },
          { inputTokens: 1_000_000, input: "0.0000000123", output: "45.678", audioInput: "90", reasoning: "0.5" },
        ],
      }),
    ];
    const next = fixedSequence(12345);
    let compared = 0;
    for (const price of prices) {
      expect(price.fixed).toBeDefined();
      for (let i = 0; i < 250; i++) {
        const inputTokens = next(5) === 0 ? 0 : next(2_000_000);
        const cachedInputTokens = next(3) === 0 ? 0 : next(inputTokens + 1);
        const cacheWriteTokens = next(4) === 0 ? next(inputTokens - cachedInputTokens + 1) : 0;
        const outputTokens = next(5) === 0 ? 0 : next(100_000);
        const reasoningTokens = next(3) === 0 ? next(outputTokens + 1) : 0;
        const cacheWrite1hTokens = next(2) === 0 ? next(cacheWriteTokens + 1) : 0;
        const audioInputTokens = next(3) === 0 ? next(inputTokens + 1) : 0;
        const audioOutputTokens = next(3) === 0 ? next(outputTokens + 1) : 0;
        const usage = { ...emptyUsage(), inputTokens, cachedInputTokens, cacheWriteTokens, cacheWrite1hTokens, audioInputTokens, audioOutputTokens, outputTokens, reasoningTokens };
        expect(costText(usage, price), JSON.stringify(usage)).toBe(formatted(usage, price));
        compared++;
      }
    }
    expect(compared).toBe(3_000);
  });

  it("rounds half to even at the ledger's twelve digits, as formatCost does", () => {
    const price = unitPrice({ input: "0.0000000000005", output: "0.0000000000015", per: "1" }); // 5e-13 and 1.5e-12 a token
    for (const [inputTokens, outputTokens, expected] of [
      [1, 0, "0"], // 0.5e-12: a tie, to the even 0
      [3, 0, "0.000000000002"], // 1.5e-12: a tie, to the even 2
      [5, 0, "0.000000000002"], // 2.5e-12: a tie, to the even 2
      [7, 0, "0.000000000004"], // 3.5e-12: to 4
      [0, 1, "0.000000000002"], // 1.5e-12
      [2, 1, "0.000000000002"], // 2.5e-12
      [1, 1, "0.000000000002"], // 2e-12, exact
    ] as const) {
      const usage = { ...emptyUsage(), inputTokens, outputTokens };
      expect(costText(usage, price), `${inputTokens} in, ${outputTokens} out`).toBe(expected);
      expect(formatted(usage, price)).toBe(expected);
    }
  });

  it("leaves to decimal.js what it cannot scale: units, fractional or inconsistent counts", () => {
    const price = unitPrice({ input: "3", output: "15", characters: "15", audioMinute: "0.006", per: "1M" });
    for (const usage of [
      { ...emptyUsage(), characters: 1234 },
      { ...emptyUsage(), audioSeconds: 61.5 },
      { ...emptyUsage(), inputTokens: 10, cachedInputTokens: 25, outputTokens: 3 }, // more cached than input: costOf clamps
      { ...emptyUsage(), inputTokens: 10.5, outputTokens: 3 },
    ]) {
      expect(costText(usage, price), JSON.stringify(usage)).toBe(formatted(usage, price));
    }
  });
});

describe("cost units", () => {
  it("read the store's and costText's amounts exactly, and write the shortest text back", () => {
    for (const [text, units, shortest] of [
      ["0", 0n, "0"],
      ["0.050000000000", 50_000_000_000n, "0.05"],
      ["12.000000000001", 12_000_000_000_001n, "12.000000000001"],
      ["-0.000001000000", -1_000_000n, "-0.000001"],
      ["-3.5", -3_500_000_000_000n, "-3.5"],
      ["999999999999.999999999999", 999_999_999_999_999_999_999_999n, "999999999999.999999999999"],
      ["0.1000000000000000", 100_000_000_000n, "0.1"],
    ] as const) {
      expect(costUnits(text), text).toBe(units);
      expect(costUnitsText(units), text).toBe(shortest);
    }
  });

  it("refuse text finer than twelve places, or not a plain decimal, rather than round it", () => {
    for (const text of ["0.0000000000001", "1e-12", "", "abc", "1.", ".5", "+1", "1,5"]) expect(() => costUnits(text), text).toThrow(/decimal places/);
  });

  it("convert a decimal.js amount with the rounding asked, and scaled integers rounding up", () => {
    expect(costUnitsOf(new Money("0.0000000000015"), Money.ROUND_UP)).toBe(2n);
    expect(costUnitsOf(new Money("0.0000000000015"), Money.ROUND_DOWN)).toBe(1n);
    expect(costUnitsUp(15n, 13)).toBe(2n);
    expect(costUnitsUp(10n, 13)).toBe(1n);
    expect(costUnitsUp(0n, 40)).toBe(0n);
    expect(costUnitsUp(7n, 3)).toBe(7_000_000_000n);
  });
});
