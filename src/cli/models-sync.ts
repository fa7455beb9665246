import { readFile } from "node:fs/promises";
import { withoutUndefined } from "../ledger/price-book.js";
import { pricesFromOpenRouter } from "../ledger/openrouter-import.js";
import { CliError } from "./admin-client.js";

/** Reads OpenRouter's models list from a file or a URL and turns it into price entries. */
export async function readOpenRouterModels(source: { file?: string; url?: string }): Promise<ReturnType<typeof pricesFromOpenRouter>> {
  let text: string;
  if (source.file) {
    try {
      text = await readFile(source.file, "utf8");
    } catch (err) {
      throw new CliError(`cannot read ${source.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  } else {
    const res = await fetch(source.url!, { signal: AbortSignal.timeout(30_000) }).catch((err: unknown) => {
      throw new CliError(`cannot fetch ${source.url}: ${err instanceof Error ? err.message : String(err)}`);
    });
    if (!res.ok) throw new CliError(`${source.url} answered ${res.status}`);
    text = await res.text();
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError(`${source.file ?? source.url} is not JSON`);
  }
  const result = pricesFromOpenRouter(json);
  return { ...result, prices: result.prices.map((p) => ({ model: p.model, price: withoutUndefined(p.price) as unknown as typeof p.price })) };
}
