import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { sql } from "drizzle-orm";
import { interrupted, runBench } from "./support/interrupt.js";
import { at, backfill } from "./support/ledger-scale.js";
import { ROOT } from "./support/root.js";
import { scratchPostgres } from "./support/scratch-postgres.js";
import { newId } from "../src/core/ids.js";
import { openDatabase, type Database } from "../src/store/database.js";
import { insertSerializedLedgerRows, serializeLedgerRow, spendBy } from "../src/store/queries/ledger.js";
import { rowsOf } from "../src/store/queries/rows.js";
import { SPEND_GROUPS, type SpendGroup } from "../src/store/spend-groups.js";

/**
 * `npm run bench:ledger`: how spend reports scale with the ledger. It loads 10 million rows spread
 * over the last 30 days into a scratch PostgreSQL database (1 million into PGlite), builds the rollup
 * as migration 0004 does, then times the 30-day spend report for every grouping, checks each total
 * against a plain sum over the ledger, and times the live insert path on top of the loaded table.
 * `--smoke` is the short CI run (a few hundred thousand rows): it checks the bench works, not speed.
 */

const { values: flags } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    rows: { type: "string" },
    "pglite-rows": { type: "string" },
    out: { type: "string" },
    stores: { type: "string", default: "postgres,pglite" },
    /** Keep the loaded PostgreSQL database (its name is printed) to study plans afterwards. */
    keep: { type: "boolean", default: false },
  },
});
const stores = new Set(flags.stores!.split(","));
const smoke = flags.smoke === true;
const PG_ROWS = Number(flags.rows ?? (smoke ? 200_000 : 10_000_000));
const PGLITE_ROWS = Number(flags["pglite-rows"] ?? (smoke ? 50_000 : 1_000_000));
const CHUNK = 500_000;
const SPAN_MS = 30 * 86_400_000;
const RUNS = smoke ? 3 : 20;

const MODELS = ["openai/gpt-4.1", "openai/gpt-4.1-mini", "openai/o4-mini", "openai/gpt-5-mini", "anthropic/claude-sonnet-4", "anthropic/claude-haiku-3.5", "gemini/gemini-2.5-flash", "gemini/gemini-2.5-pro", "deepseek/deepseek-chat", "openrouter/meta-llama/llama-3.3-70b-instruct", "openrouter/google/gemini-2.5-flash", "openrouter/openai/gpt-5-mini"];
const sqlArray = (items: string[]) => `array[${items.map((m) => `'${m}'`).join(",")}]`;

/**
 * Rows `from..to` of `total`, evenly spread over the 30 days before `now`: 200 keys, 40 teams, 2,000
 * end users, 20 operations, 12 models, 2% errors, and exact costs from the token counts.
 */
function loadChunk(from: number, to: number, total: number, now: Date): string {
  return `insert into ledger (id, ts, request_id, key_id, team_id, end_user, operation, requested_model, model, provider, endpoint, stream,
      input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost, latency_ms, outcome, http_status, attempt_count)
    select 'call_' || lpad(i::text, 10, '0'), '${now.toISOString()}'::timestamptz - ((i::bigint * ${SPAN_MS}) / ${total}) * interval '1 millisecond', 'req_' || i,
      'key_' || (i % 200), 'team_' || (i % 40), 'user_' || ((i::bigint * 7919) % 2000), 'op_' || (i % 20), m.model, m.model, split_part(m.model, '/', 1),
      'chat', i % 3 = 0, 100 + i % 900, 20 + i % 300, (i % 4) * 64, (i % 5) * 8,
      ((100 + i % 900) * 0.0000025 + (20 + i % 300) * 0.00001)::numeric(24, 12), 100 + i % 400,
      case when i % 50 = 0 then 'error' else 'success' end, case when i % 50 = 0 then 502 else 200 end, 1
    from generate_series(${from}, ${to}) as i
    cross join lateral (select (${sqlArray(MODELS)})[1 + i % ${MODELS.length}] as model) as m`;
}

interface StoreResult {
  store: "postgres" | "pglite";
  rows: number;
  loadSeconds: number;
  rollupSeconds: number;
  rollupRows: number;
  sizeBytes: number;
  rssBytes?: number;
  reports: Array<{ by: SpendGroup; groups: number; p50Ms: number; p95Ms: number; maxMs: number }>;
  /** The same 30-day report summed from the ledger alone, as reports worked before the rollup. */
  withoutRollupMs: number;
  /** Rows per second through the live insert path (ledger plus rollup), in batches of 500. */
  insertRowsPerSecond: number;
  totalsMatch: boolean;
}

async function measureStore(store: "postgres" | "pglite", database: Database, rows: number, sizeOf: () => Promise<number>): Promise<StoreResult> {
  const now = new Date();
  const log = (text: string) => process.stderr.write(`[${store}] ${text}\n`);
  let started = performance.now();
  for (let from = 1; from <= rows; from += CHUNK) {
    interrupted.throwIfAborted();
    await database.execute(loadChunk(from, Math.min(rows, from + CHUNK - 1), rows, now));
    log(`loaded ${Math.min(rows, from + CHUNK - 1).toLocaleString("en")} rows`);
  }
  const loadSeconds = (performance.now() - started) / 1000;

  started = performance.now();
  await backfill(database, "0004_ledger_rollup.sql", /INSERT INTO "ledger_rollup"/);
  await database.execute("analyze");
  const rollupSeconds = (performance.now() - started) / 1000;
  log(`rollup built in ${rollupSeconds.toFixed(1)} s`);

  const db = database.db;
  const since = new Date(Date.now() - SPAN_MS);
  const reports: StoreResult["reports"] = [];
  let totalsMatch = true;
  const [reference] = rowsOf<{ cost: string; n: string }>(await db.execute(sql`select sum(cost)::text as cost, count(*)::text as n from ledger where ts >= ${since}`));
  for (const by of SPEND_GROUPS) {
    const times: number[] = [];
    let lines = await spendBy(db, by, since); // warm
    for (let run = 0; run < RUNS; run++) {
      interrupted.throwIfAborted();
      const t0 = performance.now();
      lines = await spendBy(db, by, since);
      times.push(performance.now() - t0);
    }
    const requests = lines.reduce((n, line) => n + line.requests, 0);
    const cost = lines.reduce((sum, line) => sum + BigInt(scaled(line.cost)), 0n);
    if (String(requests) !== reference!.n || cost !== BigInt(scaled(reference!.cost))) totalsMatch = false;
    times.sort((a, b) => a - b);
    reports.push({ by, groups: lines.length, p50Ms: at(times, 0.5), p95Ms: at(times, 0.95), maxMs: times[times.length - 1]! });
    log(`30-day spend by ${by}: p50 ${at(times, 0.5).toFixed(1)} ms over ${lines.length} groups`);
  }

  const t0 = performance.now();
  await db.execute(sql`select coalesce(model, '(none)'), count(*), sum(cost) from ledger where ts >= ${since} group by 1`);
  const withoutRollupMs = performance.now() - t0;

  const live = Array.from({ length: 20_000 }, (_, i) =>
    serializeLedgerRow({ id: newId("call"), ts: new Date(), requestId: `live_${i}`, keyId: `key_${i % 200}`, operation: `op_${i % 20}`, model: MODELS[i % MODELS.length], provider: "openai", endpoint: "chat", inputTokens: 120, outputTokens: 30, cost: "0.0006", latencyMs: 120, outcome: "success", httpStatus: 200 }),
  );
  const t1 = performance.now();
  for (let i = 0; i < live.length; i += 500) await insertSerializedLedgerRows(database, live.slice(i, i + 500));
  const insertRowsPerSecond = live.length / ((performance.now() - t1) / 1000);

  const [rollup] = rowsOf<{ n: string }>(await db.execute(sql`select count(*)::text as n from ledger_rollup`));
  return { store, rows, loadSeconds, rollupSeconds, rollupRows: Number(rollup!.n), sizeBytes: await sizeOf(), reports, withoutRollupMs, insertRowsPerSecond, totalsMatch };
}

/** A decimal string as an integer count of 1e-12 dollars, to compare totals exactly. */
function scaled(decimal: string): string {
  const [whole, fraction = ""] = decimal.split(".");
  return `${whole}${fraction.padEnd(12, "0").slice(0, 12)}`.replace(/^(-?)0+(?=\d)/, "$1");
}

async function runPostgres(baseUrl: string): Promise<StoreResult> {
  const scratch = await scratchPostgres(baseUrl);
  const database = await openDatabase({ url: scratch.url, maxConnections: 2 });
  try {
    return await measureStore("postgres", database, PG_ROWS, async () => {
      const [row] = rowsOf<{ n: string }>(await database.db.execute(sql`select pg_database_size(current_database())::text as n`));
      return Number(row!.n);
    });
  } finally {
    await database.close();
    if (flags.keep) process.stderr.write(`kept ${await scratch.keep()}\n`);
    else await scratch.drop();
  }
}

async function runPglite(): Promise<StoreResult> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "airlock-bench-ledger-"));
  const database = await openDatabase({ dataDir });
  try {
    const result = await measureStore("pglite", database, PGLITE_ROWS, async () => Number(execFileSync("du", ["-sb", dataDir], { encoding: "utf8" }).split("\t")[0]));
    return { ...result, rssBytes: process.memoryUsage().rss };
  } finally {
    await database.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function markdown(results: StoreResult[]): string {
  const mb = (bytes: number) => `${Math.round(bytes / 1_048_576).toLocaleString("en")} MB`;
  const lines = [`# Ledger scale: 30-day spend reports`, "", `Run ${new Date().toISOString()} on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "unknown CPU"}), ${Math.round(os.totalmem() / 2 ** 30)} GiB.`, ""];
  for (const r of results) {
    lines.push(`## ${r.store}: ${r.rows.toLocaleString("en")} ledger rows over 30 days`, "");
    lines.push(`- Load ${r.loadSeconds.toFixed(1)} s, rollup built in ${r.rollupSeconds.toFixed(1)} s (${r.rollupRows.toLocaleString("en")} rollup rows), database ${mb(r.sizeBytes)}${r.rssBytes ? `, process RSS ${mb(r.rssBytes)}` : ""}.`);
    lines.push(`- Live insert path (ledger + rollup, batches of 500): ${Math.round(r.insertRowsPerSecond).toLocaleString("en")} rows/s.`);
    lines.push(`- The same report from the ledger alone (by model): ${Math.round(r.withoutRollupMs).toLocaleString("en")} ms.`);
    lines.push(`- Every report's totals equal a plain sum over the ledger: ${r.totalsMatch ? "yes" : "**NO**"}.`, "");
    lines.push("| 30-day spend by | groups | p50 ms | p95 ms | max ms |", "|---|---:|---:|---:|---:|");
    for (const line of r.reports) lines.push(`| ${line.by} | ${line.groups} | ${line.p50Ms.toFixed(1)} | ${line.p95Ms.toFixed(1)} | ${line.maxMs.toFixed(1)} |`);
    lines.push("");
  }
  return lines.join("\n");
}

await runBench("bench:ledger", async () => {
  const results: StoreResult[] = [];
  const databaseUrl = process.env.DATABASE_URL || undefined;
  if (stores.has("postgres")) {
    if (databaseUrl) results.push(await runPostgres(databaseUrl));
    else process.stderr.write("DATABASE_URL is not set: the PostgreSQL part is left out\n");
  }
  if (stores.has("pglite")) results.push(await runPglite());

  const text = markdown(results);
  const outDir = flags.out ?? (smoke ? await mkdtemp(path.join(os.tmpdir(), "airlock-bench-ledger-out-")) : path.join(ROOT, "bench/results"));
  await writeFile(path.join(outDir, "ledger.md"), text);
  await writeFile(path.join(outDir, "ledger.json"), JSON.stringify(results, null, 2));
  process.stdout.write(`${text}\nWritten to ${outDir}/ledger.md\n`);
  if (results.some((r) => !r.totalsMatch)) {
    process.stderr.write("a report's totals differ from the ledger's\n");
    process.exit(1);
  }
});
