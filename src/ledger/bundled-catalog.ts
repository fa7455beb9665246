import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { priceSchema, type PriceConfig } from "../config/schema.js";

/** One model's price as a catalog lists it: the bundled file, or an import such as OpenRouter's. */
export interface CatalogPrice {
  /** The catalog id, `provider/model-id`. */
  model: string;
  price: PriceConfig;
  /**
   * Bundled entries only: false when not every figure could be confirmed on the vendor's page when the
   * catalog was compiled (the file's `verified: false`); true otherwise.
   */
  verified?: boolean;
}

/** The bundled catalog, relative to the package root. */
export const BUNDLED_CATALOG_PATH = path.join("catalog", "prices.yaml");

/** Same shape as the config's model ids. */
const MODEL_ID = /^[A-Za-z0-9_.-]+\/.+$/;
/** Money is written as text: a YAML number would be a float before we ever saw it. */
const MONEY_FIELDS = ["input", "output", "cachedInput", "cacheWrite", "cacheWrite1h", "audioInput", "audioOutput", "reasoning", "request", "characters", "audioMinute"] as const;

const cache = new Map<string, Promise<CatalogPrice[]>>();

/**
 * The prices shipped in `catalog/prices.yaml`, or in `file` when given. Each entry is validated with the
 * config's `priceSchema`; bad data fails the whole load with an error naming the entry and the field.
 * The parsed result is cached per resolved path (a failed load is not cached).
 */
export async function loadBundledPrices(file?: string): Promise<CatalogPrice[]> {
  const resolved = path.resolve(file ?? path.join(packageRoot(), BUNDLED_CATALOG_PATH));
  let pending = cache.get(resolved);
  if (!pending) {
    pending = readCatalog(resolved);
    cache.set(resolved, pending);
    pending.catch(() => cache.delete(resolved));
  }
  return [...(await pending)];
}

/** The directory of the nearest package.json above this module: works from `src/` (tsx) and `dist/`. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`pricing catalog: no package.json above ${path.dirname(fileURLToPath(import.meta.url))}`);
    dir = parent;
  }
}

async function readCatalog(file: string): Promise<CatalogPrice[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new Error(`pricing catalog ${file}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new Error(`pricing catalog ${file}: not valid YAML: ${(err as Error).message}`);
  }
  return parseCatalog(raw, file);
}

function parseCatalog(raw: unknown, file: string): CatalogPrice[] {
  function fail(where: string, message: string): never {
    throw new Error(`pricing catalog ${file}: ${where}: ${message}`);
  }
  if (!isRecord(raw) || !Array.isArray(raw.prices)) fail("(top level)", "expected a `prices:` list");
  const seen = new Map<string, number>();
  const out: CatalogPrice[] = [];

  raw.prices.forEach((entry: unknown, i: number) => {
    if (!isRecord(entry)) fail(`prices[${i}]`, "expected a mapping with model, input, output, …");
    const { model, verified, ...fields } = entry;
    if (typeof model !== "string" || !MODEL_ID.test(model)) fail(`prices[${i}].model`, `expected "provider/model-id", got ${JSON.stringify(model)}`);
    const at = `prices[${i}] (${model})`;
    if (verified !== undefined && typeof verified !== "boolean") fail(`${at}.verified`, "expected true or false");
    const first = seen.get(model);
    if (first !== undefined) fail(`${at}.model`, `duplicate of prices[${first}]`);
    seen.set(model, i);

    const quoted = (record: Record<string, unknown>, where: string) => {
      for (const key of MONEY_FIELDS) {
        const value = record[key];
        if (value !== undefined && typeof value !== "string") {
          fail(`${where}.${key}`, `expected a quoted decimal string such as "0.27", got the YAML ${typeof value} ${JSON.stringify(value)}`);
        }
      }
    };
    quoted(fields, at);
    if (Array.isArray(fields.above)) fields.above.forEach((tier: unknown, t: number) => isRecord(tier) && quoted(tier, `${at}.above[${t}]`));
    const parsed = priceSchema.safeParse(fields);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) =>
        issue.code === "unrecognized_keys"
          ? `${at}.${issue.keys.join(", ")}: unknown field`
          : `${at}${issue.path.length ? `.${issue.path.map(String).join(".")}` : ""}: ${issue.message}`,
      );
      throw new Error(`pricing catalog ${file}: ${problems.join("; ")}`);
    }
    out.push(freeze({ model, price: parsed.data, verified: verified !== false }));
  });
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Cached entries are shared between callers, so none of them may change one. */
function freeze(entry: CatalogPrice): CatalogPrice {
  for (const tier of entry.price.above ?? []) Object.freeze(tier);
  Object.freeze(entry.price.above);
  Object.freeze(entry.price);
  return Object.freeze(entry);
}
