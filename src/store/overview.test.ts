import { readFile } from "node:fs/promises";
import { sql } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { freshStore, STORE_KINDS, type TestStore } from "../../test/support/stores.js";
import { bucketOf } from "../ledger/histogram.js";
import { formatCost, Money } from "../ledger/pricing.js";
import type { Db } from "./database.js";
import type { LedgerFilters } from "./queries/ledger-filters.js";
import { insertLedgerRows, spendBy } from "./queries/ledger.js";
import { latencySince, narrowedOverview, outcomesSince, TOP_DIMENSIONS } from "./queries/overview.js";
import { rowsOf } from "./queries/rows.js";
import { spendSeries } from "./queries/spend-series.js";
import type { NewLedgerRow } from "./schema/ledger.js";

const BASE = Date.parse("2026-11-20T10:00:00Z");
const CODES = ["provider_error", "rate_limited", "approval_required", "budget_exceeded"] as const;

/** A call every 53 minutes across three UTC days, with every outcome, some fallbacks, streams and tool calls. */
function row(i: number): NewLedgerRow {
  const outcome = i % 5 === 0 ? "error" : i % 7 === 0 ? "refused" : "success";
  return {
    id: `call_${i}`,
    ts: new Date(BASE + i * 53 * 60_000),
    requestId: `req_${i}`,
    endpoint: i % 6 === 0 ? "embeddings" : "chat",
    stream: i % 3 === 0,
    cost: `0.0000${i}7`,
    inputTokens: 10 * i,
    outputTokens: i,
    latencyMs: 20 + ((i * 7919) % 3000),
    ttftMs: i % 3 === 0 ? 5 + ((i * 31) % 400) : null,
    outcome,
    errorCode: outcome === "success" ? null : CODES[i % CODES.length],
    httpStatus: outcome === "success" ? 200 : 429,
    fallbacks: i % 4 === 0 ? 1 : 0,
    toolCalls: i % 8 === 0 ? 2 : 0,
    toolCallFailures: i % 16 === 0 ? 1 : 0,
    operation: i % 2 ? "summarize" : undefined,
    model: i % 3 ? "openai/gpt-4.1" : "anthropic/claude-sonnet-4",
    provider: i % 3 ? "openai" : "anthropic",
    keyId: `key_${i % 5}`,
    endUser: i % 7 ? undefined : "alice",
    userId: i % 2 ? "bob" : undefined,
  };
}

const ROWS = Array.from({ length: 80 }, (_, i) => row(i + 1));

function matches(r: NewLedgerRow, filters: LedgerFilters): boolean {
  const is = (value: string | null | undefined, wanted: string | undefined) => wanted === undefined || (value ?? "(none)") === wanted;
  return is(r.operation, filters.operation) && is(r.model, filters.model) && is(r.endUser ?? r.userId, filters.user);
}

/** The reference: the same figures added up here from the rows themselves. */
function expectedOutcomes(since: Date, filters: LedgerFilters = {}) {
  const lines = new Map<string, { endpoint: string; outcome: string; code: string; requests: number; fallbackRequests: number; toolCalls: number; toolCallFailures: number; cost: Money }>();
  for (const r of ROWS.filter((r) => r.ts >= since && matches(r, filters))) {
    const key = `${r.endpoint}|${r.outcome}|${r.errorCode ?? ""}`;
    const line = lines.get(key) ?? { endpoint: r.endpoint, outcome: r.outcome, code: r.errorCode ?? "", requests: 0, fallbackRequests: 0, toolCalls: 0, toolCallFailures: 0, cost: new Money(0) };
    line.requests++;
    if ((r.fallbacks ?? 0) > 0) line.fallbackRequests++;
    line.toolCalls += r.toolCalls ?? 0;
    line.toolCallFailures += r.toolCallFailures ?? 0;
    line.cost = line.cost.add(r.cost);
    lines.set(key, line);
  }
  return [...lines.values()]
    .sort((a, b) => `${a.endpoint}|${a.outcome}|${a.code}`.localeCompare(`${b.endpoint}|${b.outcome}|${b.code}`))
    .map((line) => ({ ...line, cost: formatCost(line.cost) }));
}

function expectedHistograms(since: Date, filters: LedgerFilters = {}) {
  const histograms = { latency: new Map<number, number>(), ttft: new Map<number, number>() };
  for (const r of ROWS.filter((r) => r.ts >= since && r.outcome !== "refused" && matches(r, filters))) {
    histograms.latency.set(bucketOf(r.latencyMs), (histograms.latency.get(bucketOf(r.latencyMs)) ?? 0) + 1);
    if (r.ttftMs != null) histograms.ttft.set(bucketOf(r.ttftMs), (histograms.ttft.get(bucketOf(r.ttftMs)) ?? 0) + 1);
  }
  return histograms;
}

const SINCE_MINUTES = [0, 25, 61, 14 * 60 + 30, 30 * 60 + 7];

describe.each(STORE_KINDS)("dashboard reports on %s", (kind) => {
  let store: TestStore;
  let db: Db;
  beforeEach(async () => {
    store = await freshStore(kind);
    db = store.database.db;
    // Two batches that overlap: the retried rows must count once.
    await insertLedgerRows(store.database, ROWS.slice(0, 50));
    await insertLedgerRows(store.database, ROWS.slice(40));
  });
  afterEach(async () => {
    await store.cleanup();
  });

  it("reads outcomes and latency histograms from the rollups exactly as the rows add up, for windows that cut an hour", async () => {
    for (const minutes of SINCE_MINUTES) {
      const since = new Date(BASE + minutes * 60_000);
      const expected = expectedOutcomes(since);
      expect(expected.length).toBeGreaterThan(4);
      expect(await outcomesSince(db, since), `outcomes since +${minutes}m`).toEqual(expected);
      expect(await latencySince(db, since), `latency since +${minutes}m`).toEqual(expectedHistograms(since));
    }
  });

  it("narrows every report to an operation, a model, a user or all three, from the ledger", async () => {
    const since = new Date(BASE + 61 * 60_000);
    const cases: LedgerFilters[] = [{ operation: "summarize" }, { operation: "(none)" }, { model: "anthropic/claude-sonnet-4" }, { user: "alice" }, { user: "(none)" }, { operation: "summarize", model: "openai/gpt-4.1", user: "bob" }];
    for (const filters of cases) {
      const label = JSON.stringify(filters);
      const expected = expectedOutcomes(since, filters);
      expect(expected.length, label).toBeGreaterThan(0);
      const narrowed = await narrowedOverview(db, since, filters, 1000);
      expect(narrowed.outcomes, label).toEqual(expected);
      expect(narrowed.histograms, label).toEqual(expectedHistograms(since, filters));
      // The top lists agree with the spend report narrowed the same way, which sums them apart.
      for (const by of TOP_DIMENSIONS) expect(new Set(narrowed.top[by]), `${label} by ${by}`).toEqual(new Set(await spendBy(db, by, since, filters)));
      const byKey = await spendBy(db, "key", since, filters);
      expect(byKey.reduce((n, line) => n + line.requests, 0), label).toBe(ROWS.filter((r) => r.ts >= since && matches(r, filters)).length);
      const series = await spendSeries(db, "model", "hour", since, filters);
      expect(series.reduce((n, point) => n + point.requests, 0), label).toBe(byKey.reduce((n, line) => n + line.requests, 0));
      expect(new Set(series.map((point) => point.group)).size).toBeLessThanOrEqual(filters.model ? 1 : 2);
    }
    // A filter that nothing matches is an empty report, not an error.
    expect(await narrowedOverview(db, since, { model: "nobody/none" }, 1000)).toEqual({ outcomes: [], histograms: { latency: new Map(), ttft: new Map() }, top: { operation: [], model: [], user: [], key: [] } });
  });

  it("is rebuilt by the migration's backfill exactly as the ledger insert built it", async () => {
    const snapshot = async () => ({
      outcomes: rowsOf(await db.execute(sql`select grain, start::text, endpoint, outcome, code, requests::int, fallback_requests::int, tool_calls::int, tool_call_failures::int, cost::text from ledger_outcomes order by 1, 2, 3, 4, 5`)),
      latency: rowsOf(await db.execute(sql`select kind, grain, start::text, bucket, calls::int from ledger_latency order by 1, 2, 3, 4`)),
    });
    const built = await snapshot();
    expect(built.outcomes.length).toBeGreaterThan(50);
    expect(built.latency.length).toBeGreaterThan(50);
    await db.execute(sql`delete from ledger_outcomes`);
    await db.execute(sql`delete from ledger_latency`);
    const migration = await readFile(new URL("../../drizzle/0016_dashboard_rollups.sql", import.meta.url), "utf8");
    const backfill = migration.split("--> statement-breakpoint").filter((part) => /insert into ledger_(outcomes|latency)/.test(part));
    expect(backfill).toHaveLength(2);
    for (const statement of backfill) await db.execute(sql.raw(statement));
    expect(await snapshot()).toEqual(built);
  });
});
