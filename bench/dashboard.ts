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
import { sloSchema } from "../src/config/schema.js";
import { LedgerReports } from "../src/ledger/ledger-reports.js";
import { openDatabase, type Database } from "../src/store/database.js";
import { isFiltered, type LedgerFilters } from "../src/store/queries/ledger-filters.js";
import { rowsOf } from "../src/store/queries/rows.js";

/**
 * `npm run bench:dashboard`: how fast the dashboard's overview paints over a large ledger. It loads
 * 1 million rows over the last 30 days (PostgreSQL and PGlite), builds the rollups as migrations
 * 0004 and 0016 do, then times what one overview load asks the admin API for: the overview (totals,
 * SLO readings, latency percentiles, errors by code, top lists), the stacked spend series, the 50
 * latest calls and, unfiltered, the filters' choices. Unfiltered for 24 hours, 7 and 30 days; then narrowed to one
 * operation, one model and one user, which read the ledger through its indexes.
 * `--smoke` is the short CI run: it checks the bench works, not speed.
 */
const { values: flags } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    rows: { type: "string" },
    out: { type: "string" },
    stores: { type: "string", default: "postgres,pglite" },
  },
});
const smoke = flags.smoke === true;
const ROWS = Number(flags.rows ?? (smoke ? 50_000 : 1_000_000));
const RUNS = smoke ? 3 : 10;
const CHUNK = 250_000;
const SPAN_MS = 30 * 86_400_000;
const MODELS = ["openai/gpt-4.1", "openai/gpt-4.1-mini", "openai/o4-mini", "anthropic/claude-sonnet-4", "anthropic/claude-haiku-3.5", "gemini/gemini-2.5-flash", "gemini/gemini-2.5-pro", "deepseek/deepseek-chat"];
const CODES = ["provider_error", "rate_limited", "timeout", "budget_exceeded", "approval_required"];
const array = (items: string[]) => `array[${items.map((item) => `'${item}'`).join(",")}]`;

/**
 * Rows spread evenly over 30 days: 200 keys, 2,000 end users, 20 operations, 8 models, a third of
 * them streamed (with a time to first token), 3% failing with one of five codes, 4% falling back,
 * one in ten making tool calls, latencies with a long tail.
 */
function loadChunk(from: number, to: number, now: Date): string {
  return `insert into ledger (id, ts, request_id, key_id, end_user, operation, requested_model, model, provider, endpoint, stream,
      input_tokens, output_tokens, cost, latency_ms, ttft_ms, outcome, error_code, http_status, attempt_count, fallbacks, tool_calls, tool_call_failures)
    select 'call_' || lpad(i::text, 10, '0'), '${now.toISOString()}'::timestamptz - ((i::bigint * ${SPAN_MS}) / ${ROWS}) * interval '1 millisecond', 'req_' || i,
      'key_' || (i % 200), 'user_' || ((i::bigint * 7919) % 2000), 'op_' || (i % 20), m.model, m.model, split_part(m.model, '/', 1),
      'chat', i % 3 = 0, 100 + i % 900, 20 + i % 300, ((100 + i % 900) * 0.0000025 + (20 + i % 300) * 0.00001)::numeric(24, 12),
      200 + (i::bigint * 7919) % 1800 + case when i % 97 = 0 then 20000 else 0 end, case when i % 3 = 0 then 80 + (i * 31) % 600 end,
      case when i % 33 = 0 then (case when i % 5 = 0 then 'refused' else 'error' end) else 'success' end,
      case when i % 33 = 0 then (${array(CODES)})[1 + (i / 33) % ${CODES.length}] end,
      case when i % 33 = 0 then 502 else 200 end, 1 + (i % 25 = 0)::int, (i % 25 = 0)::int,
      case when i % 10 = 0 then 2 else 0 end, case when i % 170 = 0 then 1 else 0 end
    from generate_series(${from}, ${to}) as i
    cross join lateral (select (${array(MODELS)})[1 + (i / 7) % ${MODELS.length}] as model) as m`;
}

interface Timing {
  label: string;
  p50Ms: number;
  p95Ms: number;
  requests: number;
}

interface StoreResult {
  store: "postgres" | "pglite";
  rows: number;
  loadSeconds: number;
  rollupSeconds: number;
  sizeBytes: number;
  timings: Timing[];
}

async function measure(store: StoreResult["store"], database: Database, sizeOf: () => Promise<number>): Promise<StoreResult> {
  const log = (text: string) => process.stderr.write(`[${store}] ${text}\n`);
  const now = new Date();
  let started = performance.now();
  for (let from = 1; from <= ROWS; from += CHUNK) {
    interrupted.throwIfAborted();
    await database.execute(loadChunk(from, Math.min(ROWS, from + CHUNK - 1), now));
    log(`loaded ${Math.min(ROWS, from + CHUNK - 1).toLocaleString("en")} rows`);
  }
  const loadSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  await backfill(database, "0004_ledger_rollup.sql", /INSERT INTO "ledger_rollup"/);
  await backfill(database, "0016_dashboard_rollups.sql", /insert into ledger_(outcomes|latency)/);
  await database.execute("analyze");
  const rollupSeconds = (performance.now() - started) / 1000;
  log(`rollups built in ${rollupSeconds.toFixed(1)} s`);

  const reports = new LedgerReports(database.db, async () => {});
  const slo = sloSchema.parse({});
  // One overview load, as the dashboard makes it (its requests run at once, as the browser sends them).
  const paint = async (sinceMs: number, filters: LedgerFilters) => {
    const since = new Date(Date.now() - sinceMs);
    const [overview] = await Promise.all([
      reports.overview(since, filters, slo),
      reports.spendSeries("operation", sinceMs > 2 * 86_400_000 ? "day" : "hour", since, filters),
      reports.recentCalls(50, filters),
      // The filters' choices: read on an unfiltered load, kept while narrowing within the range.
      ...(isFiltered(filters) ? [] : (["operation", "model", "user"] as const).map((by) => reports.spend(by, since))),
    ]);
    return overview.requests;
  };
  const DAY = 86_400_000;
  const cases: Array<[string, number, LedgerFilters]> = [
    ["24 hours, unfiltered", DAY, {}],
    ["7 days, unfiltered", 7 * DAY, {}],
    ["30 days, unfiltered", 30 * DAY, {}],
    ["7 days, one operation (of 20)", 7 * DAY, { operation: "op_3" }],
    ["7 days, one model (of 8)", 7 * DAY, { model: MODELS[1] }],
    ["7 days, one user (of 2,000)", 7 * DAY, { user: "user_42" }],
    ["30 days, one operation", 30 * DAY, { operation: "op_3" }],
  ];
  const timings: Timing[] = [];
  for (const [label, sinceMs, filters] of cases) {
    let requests = await paint(sinceMs, filters); // warm
    const times: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      interrupted.throwIfAborted();
      const t0 = performance.now();
      requests = await paint(sinceMs, filters);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    timings.push({ label, requests, p50Ms: at(times, 0.5), p95Ms: at(times, 0.95) });
    log(`${label}: p50 ${at(times, 0.5).toFixed(1)} ms over ${requests.toLocaleString("en")} calls`);
  }
  return { store, rows: ROWS, loadSeconds, rollupSeconds, sizeBytes: await sizeOf(), timings };
}

await runBench("bench:dashboard", async () => {
  const results: StoreResult[] = [];
  const stores = new Set(flags.stores!.split(","));
  const databaseUrl = process.env.DATABASE_URL || undefined;
  if (stores.has("postgres")) {
    if (!databaseUrl) process.stderr.write("DATABASE_URL is not set: the PostgreSQL part is left out\n");
    else {
      const scratch = await scratchPostgres(databaseUrl);
      const database = await openDatabase({ url: scratch.url, maxConnections: 4 });
      try {
        results.push(await measure("postgres", database, async () => Number(rowsOf<{ n: string }>(await database.db.execute(sql`select pg_database_size(current_database())::text as n`))[0]?.n)));
      } finally {
        await database.close();
        await scratch.drop();
      }
    }
  }
  if (stores.has("pglite")) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "airlock-bench-dashboard-"));
    const database = await openDatabase({ dataDir });
    try {
      results.push(await measure("pglite", database, async () => Number(execFileSync("du", ["-sb", dataDir], { encoding: "utf8" }).split("\t")[0])));
    } finally {
      await database.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }

  const lines = [`# Dashboard: one overview load over a large ledger`, "", `Run ${new Date().toISOString()} on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "unknown CPU"}), ${Math.round(os.totalmem() / 2 ** 30)} GiB.`, ""];
  for (const r of results) {
    lines.push(`## ${r.store}: ${r.rows.toLocaleString("en")} ledger rows over 30 days`, "");
    lines.push(`Load ${r.loadSeconds.toFixed(1)} s, rollups built in ${r.rollupSeconds.toFixed(1)} s, database ${Math.round(r.sizeBytes / 1_048_576)} MB. ${RUNS} loads each, after one to warm.`, "");
    lines.push("| Overview | calls in range | p50 ms | p95 ms |", "|---|---:|---:|---:|");
    for (const t of r.timings) lines.push(`| ${t.label} | ${t.requests.toLocaleString("en")} | ${t.p50Ms.toFixed(1)} | ${t.p95Ms.toFixed(1)} |`);
    lines.push("");
  }
  const text = lines.join("\n");
  const outDir = flags.out ?? (smoke ? await mkdtemp(path.join(os.tmpdir(), "airlock-bench-dashboard-out-")) : path.join(ROOT, "bench/results"));
  await writeFile(path.join(outDir, "dashboard.md"), text);
  await writeFile(path.join(outDir, "dashboard.json"), JSON.stringify(results, null, 2));
  process.stdout.write(`${text}\nWritten to ${outDir}/dashboard.md\n`);
  if (results.some((r) => r.timings.some((t) => t.requests === 0))) {
    process.stderr.write("an overview found no calls in its range\n");
    process.exit(1);
  }
});
