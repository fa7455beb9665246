import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Decimal } from "decimal.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { priceSchema } from "../config/schema.js";
import { loadBundledPrices } from "./bundled-catalog.js";

const REQUIRED = [
  "openai/gpt-4.1",
  "openai/gpt-4.1-mini",
  "openai/gpt-4.1-nano",
  "openai/gpt-4o",
  "openai/gpt-4o-mini",
  "openai/o3",
  "openai/o4-mini",
  "openai/gpt-5",
  "openai/gpt-5-mini",
  "openai/gpt-5-nano",
  "openai/text-embedding-3-small",
  "openai/text-embedding-3-large",
  "anthropic/claude-opus-4-1",
  "anthropic/claude-sonnet-4-5",
  "anthropic/claude-sonnet-4",
  "anthropic/claude-haiku-4-5",
  "anthropic/claude-3-5-haiku",
  "gemini/gemini-2.5-pro",
  "gemini/gemini-2.5-flash",
  "gemini/gemini-2.5-flash-lite",
  "gemini/gemini-2.0-flash",
  "deepseek/deepseek-chat",
  "deepseek/deepseek-reasoner",
  "openrouter/openai/gpt-4o-mini",
  "openrouter/anthropic/claude-sonnet-4.5",
  "openrouter/google/gemini-2.5-flash",
  "openrouter/deepseek/deepseek-chat",
  "openrouter/meta-llama/llama-3.3-70b-instruct",
];

describe("the shipped pricing catalog", () => {
  it("loads, with every entry valid under the config's price schema", async () => {
    const prices = await loadBundledPrices();
    expect(prices.length).toBeGreaterThanOrEqual(REQUIRED.length);
    for (const { model, price, verified } of prices) {
      expect(model).toMatch(/^[A-Za-z0-9_.-]+\/.+$/);
      expect(priceSchema.parse(price)).toEqual(price);
      expect(price.per).toBe("1M");
      expect(price.source).toMatch(/^https:\/\//);
      expect(price.effectiveDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(typeof verified).toBe("boolean");
    }
  });

  it("lists every model once and covers the mainstream providers", async () => {
    const prices = await loadBundledPrices();
    const ids = prices.map((p) => p.model);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(REQUIRED));
    const providers = new Set(ids.map((id) => id.split("/")[0]));
    for (const provider of ["openai", "anthropic", "gemini", "deepseek", "openrouter"]) expect(providers).toContain(provider);
    expect(ids.filter((id) => id.startsWith("openrouter/")).length).toBeGreaterThanOrEqual(10);
  });

  it("never prices a cache read above a fresh input token", async () => {
    const prices = await loadBundledPrices();
    const cached = prices.filter((p) => p.price.cachedInput !== undefined);
    expect(cached.length).toBeGreaterThan(20);
    for (const { model, price } of cached) {
      expect(new Decimal(price.cachedInput!).lessThan(price.input), model).toBe(true);
    }
  });

  it("prices Anthropic 5-minute cache writes at 1.25× input, 1-hour ones at 2×, and cache reads at 0.1×", async () => {
    const anthropic = (await loadBundledPrices()).filter((p) => p.model.startsWith("anthropic/"));
    expect(anthropic).toHaveLength(5);
    for (const { model, price } of anthropic) {
      expect(new Decimal(price.input).times("1.25").equals(price.cacheWrite!), model).toBe(true);
      expect(new Decimal(price.input).times("2").equals(price.cacheWrite1h!), model).toBe(true);
      expect(new Decimal(price.input).times("0.1").equals(price.cachedInput!), model).toBe(true);
    }
  });

  it("prices long prompts at the providers' higher tier: Gemini 2.5 Pro and Claude Sonnet 4 and 4.5 above 200K tokens", async () => {
    const byId = new Map((await loadBundledPrices()).map((p) => [p.model, p.price]));
    expect(byId.get("gemini/gemini-2.5-pro")?.above).toEqual([{ inputTokens: 200_000, input: "2.5", cachedInput: "0.25", output: "15" }]);
    for (const model of ["anthropic/claude-sonnet-4-5", "anthropic/claude-sonnet-4"]) {
      const [tier, ...more] = byId.get(model)?.above ?? [];
      expect({ model, more }).toEqual({ model, more: [] });
      // $6 in and $22.50 out, and the cache at the same multiples of the tier's input as below it.
      expect(tier, model).toMatchObject({ inputTokens: 200_000, input: "6", output: "22.5" });
      expect(new Decimal(tier!.input).times("1.25").equals(tier!.cacheWrite!), model).toBe(true);
      expect(new Decimal(tier!.input).times("2").equals(tier!.cacheWrite1h!), model).toBe(true);
      expect(new Decimal(tier!.input).times("0.1").equals(tier!.cachedInput!), model).toBe(true);
    }
  });

  it("has the expected figures for a few models", async () => {
    const byId = new Map((await loadBundledPrices()).map((p) => [p.model, p]));
    expect(byId.get("anthropic/claude-sonnet-4-5")?.price).toMatchObject({ input: "3", output: "15", cachedInput: "0.3", cacheWrite: "3.75" });
    expect(byId.get("openai/gpt-4o-mini")?.price).toMatchObject({ input: "0.15", output: "0.6", cachedInput: "0.075" });
    expect(byId.get("openai/text-embedding-3-small")?.price).toMatchObject({ input: "0.02", output: "0" });
    expect(byId.get("deepseek/deepseek-chat")?.price).toMatchObject({ input: "0.28", cachedInput: "0.028", output: "0.42" });
    expect(byId.get("gemini/gemini-2.5-pro")?.price).toMatchObject({ input: "1.25", output: "10" });
    // Confirmed on the vendor page, and marked so.
    expect(byId.get("anthropic/claude-haiku-4-5")?.verified).toBe(true);
    expect(byId.get("openai/gpt-5-nano")?.verified).toBe(true);
    expect(byId.get("openai/gpt-4.1")?.verified).toBe(false);
  });

  it("caches the parsed catalog and hands out entries nobody can change", async () => {
    const first = await loadBundledPrices();
    const second = await loadBundledPrices();
    expect(second).not.toBe(first);
    expect(second[0]).toBe(first[0]);
    expect(Object.isFrozen(first[0]!.price)).toBe(true);
    expect(() => {
      (first[0]!.price as { input: string }).input = "0";
    }).toThrow(TypeError);
  });
});

describe("loadBundledPrices on a bad file", () => {
  let dir: string;
  const write = async (name: string, text: string) => {
    const file = path.join(dir, name);
    await writeFile(file, text);
    return file;
  };
  const entry = (model: string, extra = "") => `  - model: "${model}"\n    input: "1"\n    output: "2"\n    per: "1M"\n${extra}`;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "airlock-catalog-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("names the entry and the field of a bad price", async () => {
    const file = await write("bad-price.yaml", `prices:\n${entry("a/ok")}  - model: "a/broken"\n    input: "1.2.3"\n    output: "2"\n`);
    await expect(loadBundledPrices(file)).rejects.toThrow(/prices\[1\] \(a\/broken\)\.input: expected a non-negative decimal/);
  });

  it("refuses prices written as YAML numbers", async () => {
    const file = await write("float.yaml", `prices:\n  - model: "a/float"\n    input: 0.000000075\n    output: "1"\n`);
    await expect(loadBundledPrices(file)).rejects.toThrow(/prices\[0\] \(a\/float\)\.input: expected a quoted decimal string/);
  });

  it("refuses a tier's price written as a YAML number, naming the tier", async () => {
    const file = await write("tier-float.yaml", `prices:\n${entry("a/tiered", "    above:\n      - inputTokens: 200000\n        input: 2.5\n        output: \"15\"\n")}`);
    await expect(loadBundledPrices(file)).rejects.toThrow(/prices\[0\] \(a\/tiered\)\.above\[0\]\.input: expected a quoted decimal string/);
  });

  it("refuses unknown fields, missing ids, duplicates and a bad verified flag", async () => {
    await expect(loadBundledPrices(await write("unknown.yaml", `prices:\n${entry("a/x", '    inptu: "1"\n')}`))).rejects.toThrow(
      /prices\[0\] \(a\/x\)\.inptu: unknown field/,
    );
    await expect(loadBundledPrices(await write("no-id.yaml", `prices:\n  - input: "1"\n`))).rejects.toThrow(/prices\[0\]\.model: expected "provider\/model-id"/);
    await expect(loadBundledPrices(await write("dup.yaml", `prices:\n${entry("a/x")}${entry("a/y")}${entry("a/x")}`))).rejects.toThrow(
      /prices\[2\] \(a\/x\)\.model: duplicate of prices\[0\]/,
    );
    await expect(loadBundledPrices(await write("verified.yaml", `prices:\n${entry("a/x", '    verified: "no"\n')}`))).rejects.toThrow(
      /prices\[0\] \(a\/x\)\.verified: expected true or false/,
    );
  });

  it("says what is wrong with the file as a whole", async () => {
    await expect(loadBundledPrices(await write("empty.yaml", "models: []\n"))).rejects.toThrow(/expected a `prices:` list/);
    await expect(loadBundledPrices(await write("yaml.yaml", "prices: [\n"))).rejects.toThrow(/not valid YAML/);
    await expect(loadBundledPrices(path.join(dir, "missing.yaml"))).rejects.toThrow(/cannot read it: ENOENT/);
  });

  it("does not cache a failed load", async () => {
    const file = await write("later.yaml", "prices: oops\n");
    await expect(loadBundledPrices(file)).rejects.toThrow(/prices/);
    await writeFile(file, `prices:\n${entry("a/fixed", "    verified: false\n")}`);
    await expect(loadBundledPrices(file)).resolves.toEqual([
      { model: "a/fixed", price: { input: "1", output: "2", per: "1M" }, verified: false },
    ]);
  });
});
