import { describe, expect, it } from "vitest";
import { z } from "zod";
import { moneyAmount, nameSchema, positiveInt4 } from "./bounds.js";
import { priceSchema } from "./schema.js";

const messages = (schema: z.ZodType, value: unknown) => {
  const parsed = schema.safeParse(value);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

describe("moneyAmount", () => {
  it("keeps amounts below 10^12 as written, compared exactly", () => {
    expect(moneyAmount().parse("999999999999.999999999999")).toBe("999999999999.999999999999");
    expect(moneyAmount().parse(12.5)).toBe("12.5");
    expect(messages(moneyAmount(), "1000000000000")).toEqual([": must be less than 1000000000000"]);
    expect(messages(moneyAmount(), "123456789012345678901234567890")).toEqual([": must be less than 1000000000000"]);
    // Numbers that JavaScript writes in exponent form are read in full.
    expect(messages(moneyAmount(), 1e21)).toEqual([": must be less than 1000000000000"]);
    expect(moneyAmount().parse(1e-7)).toBe("0.0000001");
    expect(messages(moneyAmount(), Number.POSITIVE_INFINITY)).toHaveLength(1);
  });

  it("takes negative amounts only when signed, bounded the same", () => {
    expect(messages(moneyAmount(), "-1")).toHaveLength(1);
    expect(moneyAmount({ signed: true }).parse("-999999999999")).toBe("-999999999999");
    expect(messages(moneyAmount({ signed: true }), "-1000000000000")).toEqual([": must be less than 1000000000000 in magnitude"]);
  });
});

describe("positiveInt4 and nameSchema", () => {
  it("bound counts to the integer column and names to 128 characters", () => {
    expect(positiveInt4().parse(2_147_483_647)).toBe(2_147_483_647);
    expect(messages(positiveInt4(), 2_147_483_648)).toEqual([": must be at most 2147483647"]);
    expect(nameSchema("budget").parse("b".repeat(128))).toHaveLength(128);
    expect(messages(nameSchema("budget"), "b".repeat(129))).toEqual([": budget names are at most 128 characters"]);
  });
});

describe("price bounds", () => {
  it("hold every token and character price to $1 a unit, whatever `per` is", () => {
    expect(priceSchema.parse({ input: "1000000", output: "1000000", per: "1M" }).input).toBe("1000000");
    expect(priceSchema.parse({ input: "1", per: "1" }).input).toBe("1");
    expect(messages(priceSchema, { input: "1000000.000001", per: "1M" })).toEqual(["input: must be at most 1000000 per 1M (a price of at most $1 a token)"]);
    expect(messages(priceSchema, { input: "1", cachedInput: "1001", per: "1K" })).toEqual(["cachedInput: must be at most 1000 per 1K (a price of at most $1 a token)"]);
    expect(messages(priceSchema, { input: "1", characters: "2", per: "1" })).toEqual(["characters: must be at most 1 per 1 (a price of at most $1 a character)"]);
  });

  it("hold the request fee to $1,000 and the audio minute to $100", () => {
    expect(priceSchema.parse({ input: "0", request: "1000", audioMinute: "100" })).toMatchObject({ request: "1000", audioMinute: "100" });
    expect(messages(priceSchema, { input: "0", request: "1000.01", audioMinute: "100.5" })).toEqual(["request: must be at most 1000 USD per request", "audioMinute: must be at most 100 USD per minute of audio"]);
  });

  it("take long-context tiers as exact decimals with a whole token count each, ascending, held to the same bounds", () => {
    const tiered = priceSchema.parse({ input: "1.25", output: 10, per: "1M", above: [{ inputTokens: 200_000, input: "2.5", cachedInput: 0.25, output: "15" }] });
    // Numbers are kept as written, never as floats.
    expect(tiered.above).toEqual([{ inputTokens: 200_000, input: "2.5", cachedInput: "0.25", output: "15" }]);
    expect(messages(priceSchema, { input: "1", per: "1M", above: [{ inputTokens: 1000, input: "2", output: "2000000" }] })).toEqual(["above.0.output: must be at most 1000000 per 1M (a price of at most $1 a token)"]);
    expect(messages(priceSchema, { input: "1", per: "1M", above: [{ inputTokens: 1000, input: "2", output: "3" }, { inputTokens: 1000, input: "4", output: "5" }] })).toEqual(["above.1.inputTokens: tiers go by ascending inputTokens: 1000 follows 1000"]);
    expect(messages(priceSchema, { input: "1", per: "1M", above: [{ inputTokens: 1.5, input: "2", output: "3" }] })).toHaveLength(1);
    expect(messages(priceSchema, { input: "1", per: "1M", above: [{ inputTokens: 10, input: "2" }] })).toHaveLength(1);
    // A tier has token prices only: the request fee and units are the price's own.
    expect(messages(priceSchema, { input: "1", per: "1M", above: [{ inputTokens: 10, input: "2", output: "3", request: "1" }] })[0]).toMatch(/^above\.0: .*request/);
    expect(messages(priceSchema, { input: "1", per: "1M", above: [{ inputTokens: 10, input: "-2", output: "3" }] })).toEqual(['above.0.input: expected a non-negative decimal such as "0.27"']);
  });
});
