import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { interrupted, runBench } from "./support/interrupt.js";
import { ROOT } from "./support/root.js";
import { benchServerUrl, scratchPostgres } from "./support/scratch-postgres.js";
import { resolveConfig } from "../src/config/load.js";
import { ControlPlane } from "../src/control-plane.js";
import { openDatabase } from "../src/store/database.js";

/**
 * `npm run bench:executions`: what carrying out a directive costs. For each store: the first start of
 * the durable engine (on PGlite that creates its own store), the time from approval to `complete` for
 * directives one at a time, and how long a burst of directives takes with the default concurrency.
 * Defaults are used, so the latency shown is what an operator gets.
 */
const { values: flags } = parseArgs({ options: { smoke: { type: "boolean", default: false }, stores: { type: "string", default: "pglite,postgres" } } });
const SERIAL = flags.smoke ? 3 : 20;
const BURST = flags.smoke ? 8 : 100;
const ADMIN = { keyId: "key_bench", name: "bench", kind: "admin" as const, userId: null, teamId: null, orgId: null };
const CONFIG = resolveConfig(
  {
    providers: { oai: { type: "openai-compatible", baseUrl: "http://127.0.0.1:9", apiKey: "k" } },
    models: [{ id: "oai/gpt-4o-mini" }],
    governance: { policy: { autoApprove: true } },
  },
  "bench",
);

interface StoreResult {
  store: string;
  engineStartMs: number;
  serialMs: { p50: number; p95: number; max: number };
  burst: { directives: number; totalMs: number; perSecond: number };
}

async function waitComplete(plane: ControlPlane, ids: string[]): Promise<void> {
  const open = new Set(ids);
  while (open.size > 0) {
    interrupted.throwIfAborted();
    for (const id of [...open]) if ((await plane.directives.get(id)).status === "complete") open.delete(id);
    if (open.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function issue(plane: ControlPlane, i: number): Promise<string> {
  const draft = await plane.directives.create({ role: "bench", type: "noop", objective: `noop ${i}`, scope: "test", budget: "$1" }, ADMIN);
  await plane.directives.propose(draft.id, ADMIN);
  return draft.id;
}

async function measure(store: "pglite" | "postgres"): Promise<StoreResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "airlock-bench-exec-"));
  const scratch = store === "postgres" ? await scratchPostgres(benchServerUrl()) : undefined;
  const database = await openDatabase(scratch ? { url: scratch.url } : { dataDir: path.join(dir, "pgdata") });
  const plane = await ControlPlane.create({ config: CONFIG, database, dataDir: dir, executorId: "bench" });
  try {
    // The first directive starts the engine: its time, less a warm directive's, is the engine's start.
    let since = performance.now();
    await waitComplete(plane, [await issue(plane, 0)]);
    const first = performance.now() - since;
    const serial: number[] = [];
    for (let i = 1; i <= SERIAL; i++) {
      interrupted.throwIfAborted();
      since = performance.now();
      await waitComplete(plane, [await issue(plane, i)]);
      serial.push(performance.now() - since);
    }
    serial.sort((a, b) => a - b);
    const at = (q: number) => Math.round(serial[Math.min(serial.length - 1, Math.floor(q * serial.length))]!);
    since = performance.now();
    const ids = await Promise.all(Array.from({ length: BURST }, (_, i) => issue(plane, 1_000 + i)));
    await waitComplete(plane, ids);
    const totalMs = Math.round(performance.now() - since);
    return { store, engineStartMs: Math.round(first - at(0.5)), serialMs: { p50: at(0.5), p95: at(0.95), max: at(1) }, burst: { directives: BURST, totalMs, perSecond: Math.round((BURST / totalMs) * 10_000) / 10 } };
  } finally {
    await plane.close();
    await database.close();
    await scratch?.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

await runBench("bench:executions", async () => {
  const results: StoreResult[] = [];
  for (const store of flags.stores!.split(",") as Array<"pglite" | "postgres">) {
    const result = await measure(store);
    console.log(JSON.stringify(result));
    results.push(result);
  }
  if (!flags.smoke) {
    const lines = [
      "# Directive execution",
      "",
      `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores, Node ${process.version}, defaults (pollIntervalMs 250, concurrency 8), \`noop\` module.`,
      "",
      "| store | engine first start | approval → complete p50 / p95 / max | burst of " + BURST + " |",
      "|---|---|---|---|",
      ...results.map((r) => `| ${r.store} | ${r.engineStartMs} ms | ${r.serialMs.p50} / ${r.serialMs.p95} / ${r.serialMs.max} ms | ${r.burst.totalMs} ms (${r.burst.perSecond}/s) |`),
      "",
    ];
    await writeFile(path.join(ROOT, "bench/results/executions.md"), lines.join("\n"));
    await writeFile(path.join(ROOT, "bench/results/executions.json"), JSON.stringify(results, null, 2) + "\n");
  }
});
// The workflow engine keeps handles open after it closes.
process.exit();
