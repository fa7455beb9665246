import { count, desc, getTableColumns, sql, type SQL } from "drizzle-orm";
import type { Database, Db, PreparedStatement } from "../database.js";
import { ledger, ledgerRollup, type LedgerRow, type NewLedgerRow } from "../schema/index.js";
import type { SpendGroup } from "../spend-groups.js";
import { filterSql, isFiltered, type LedgerFilters } from "./ledger-filters.js";
import { latencyRollupSql, outcomesRollupSql } from "./ledger-rollups.js";
import { rowsOf } from "./rows.js";

const ROWS_PER_STATEMENT = 5000;

/**
 * Rows travel as JSON: a batch is one parameter that Postgres unpacks (`json_to_recordset`), one bind
 * instead of 31 per row and no per-column SQL building in JavaScript, which profiling showed to cost
 * more than the insert itself. The JSON uses the row's own property names, so a row is serialized with
 * one `JSON.stringify` and no copy; the statement below, built once from the schema, maps them to
 * columns and fills a missing value with the column's default. A row already present (a retried
 * batch) is skipped.
 *
 * The same statement adds the rows it inserted to the hourly rollup (see `ledgerRollup`): one
 * statement is atomic on both stores, so the rollup holds exactly the ledger's rows, and a skipped
 * duplicate is never counted twice. The dashboard's rollups (ledger-rollups.ts) are kept the same way.
 * Rollup rows are taken in key order, so two instances writing at
 * once lock them in the same order and cannot deadlock.
 */
/** How each rollup dimension reads a ledger row `l`. Migration 0004 folds old rows in with the same list. */
const ROLLUP_VALUES = `('total', ''),
  ('operation', coalesce(l.operation, '(none)')),
  ('model', coalesce(l.model, '(none)')),
  ('provider', coalesce(l.provider, '(none)')),
  ('user', coalesce(l.end_user, l.user_id, '(none)')),
  ('team', coalesce(l.team_id, '(none)')),
  ('key', coalesce(l.key_id, '(none)'))`;

/**
 * The inserted rows' budget charges move the budgets' counters in the same statement: `spent` grows by
 * the cost, and the part the holder's lease covered leaves both the lease and the window's `reserved`.
 * A lease already reaped (its holder was presumed dead) releases nothing, so nothing is freed twice.
 * Leases are locked before windows, and windows in key order, as every budget statement does
 * (queries/budgets.ts), so concurrent statements cannot deadlock.
 */
const BUDGET_CHARGES = `charges as (
  select c.budget, c."window"::timestamptz as window_start, c.holder, sum(c.spent) as spent, sum(c.released) as released
  from inserted l cross join lateral jsonb_to_recordset(l.budget_charges) as c(budget text, "window" text, holder text, spent numeric, released numeric)
  where l.budget_charges is not null
  group by 1, 2, 3
), freed as (
  update budget_leases b set amount = b.amount - c.released from charges c
  where b.budget_name = c.budget and b.window_start = c.window_start and b.holder = c.holder
  returning b.budget_name, b.window_start, c.released
), charged as (
  insert into budget_windows (budget_name, start, "end", limit_usd, spent, reserved)
  select w.budget_name, w.start, w."end", w.limit_usd, c.spent, coalesce(f.released, 0)
  from (select budget, window_start, sum(spent) as spent from charges group by 1, 2) c
  join budget_windows w on w.budget_name = c.budget and w.start = c.window_start
  left join (select budget_name, window_start, sum(released) as released from freed group by 1, 2) f on f.budget_name = c.budget and f.window_start = c.window_start
  order by 1, 2
  on conflict (budget_name, start) do update set spent = budget_windows.spent + excluded.spent, reserved = budget_windows.reserved - excluded.reserved
)`;

/**
 * A row's `ts` arrives as epoch milliseconds (what the gateway writes: `LedgerRecord`), or as ISO text
 * (a `Date` serialized, and rows spooled before the number was used). A number serializes in a third
 * of the time a `Date` takes through its `toJSON` (measured: a row in 1.2 against 2.5 µs), and every
 * call writes one. ISO text always has a `-` in its date; a number in JSON never does, being positive.
 */
const TS_VALUE = `(case when strpos(r."ts", '-') > 0 then r."ts"::timestamptz else timestamptz 'epoch' + trunc(r."ts"::float8) * interval '1 millisecond' end)`;

/** Properties that the batch's JSON holds in another type than their column's, and how each becomes the column's value. */
const READ_AS: Record<string, { type: string; value: string }> = { ts: { type: "text", value: TS_VALUE } };

const [INSERT_HEAD, INSERT_TAIL] = buildInsert();

function buildInsert(): [string, string] {
  const columns = Object.entries(getTableColumns(ledger));
  const names = columns.map(([, column]) => `"${column.name}"`).join(", ");
  const values = columns
    .map(([property, column]) => READ_AS[property]?.value ?? (column.hasDefault ? `coalesce(r."${property}", ${sqlLiteral(column.default, column.getSQLType())})` : `r."${property}"`))
    .join(", ");
  const shape = columns.map(([property, column]) => `"${property}" ${READ_AS[property]?.type ?? column.getSQLType()}`).join(", ");
  // The batch is summed by hour and by every dimension's column first: most of a batch's rows share
  // them, so the rollup spreads a few sums over its dimensions and grains instead of every row
  // (measured: the rollup's sort went from 4,200 rows to 14 for a batch of 300 alike calls).
  const hourly = `hourly as (select date_trunc('hour', l.ts, 'UTC') as ts, l.operation, l.model, l.provider, l.end_user, l.user_id, l.team_id, l.key_id,
  count(*) as requests, count(*) filter (where l.outcome <> 'success') as errors, sum(l.input_tokens) as input_tokens, sum(l.output_tokens) as output_tokens, sum(l.cost) as cost
from inserted l group by 1, 2, 3, 4, 5, 6, 7, 8)`;
  const rollup = `insert into ledger_rollup (dimension, grain, start, value, requests, errors, input_tokens, output_tokens, cost)
select d.dimension, g.grain, date_trunc(g.grain, l.ts, 'UTC'), d.value, sum(l.requests), sum(l.errors),
  sum(l.input_tokens), sum(l.output_tokens), sum(l.cost)
from hourly l cross join (values ('hour'), ('day')) as g(grain) cross join lateral (values ${ROLLUP_VALUES}) as d(dimension, value)
group by 1, 2, 3, 4 order by 1, 2, 3, 4
on conflict (dimension, grain, start, value) do update set
  requests = ledger_rollup.requests + excluded.requests, errors = ledger_rollup.errors + excluded.errors,
  input_tokens = ledger_rollup.input_tokens + excluded.input_tokens, output_tokens = ledger_rollup.output_tokens + excluded.output_tokens,
  cost = ledger_rollup.cost + excluded.cost`;
  // The batch parameter goes between the two halves.
  return [
    // The brackets are added here rather than around the parameter in JavaScript: a string built as
    // "[" + rows + "]" is a rope that the driver copies whole to measure it, about 1 KB per row.
    `with inserted as (insert into ledger (${names}) select ${values} from json_to_recordset(('[' || `,
    ` || ']')::json) as r(${shape}) on conflict (id) do nothing returning *), ${BUDGET_CHARGES},
outcomes as (${outcomesRollupSql("inserted")}), latencies as (${latencyRollupSql("inserted")}), ${hourly} ${rollup}`,
  ];
}

function sqlLiteral(value: unknown, type: string): string {
  if (typeof value === "boolean" || typeof value === "number") return String(value);
  return `'${JSON.stringify(value).replaceAll("'", "''")}'::${type}`;
}

/** The ledger insert, prepared where the store allows (see Database.runPrepared): planned once, not once per batch. */
const LEDGER_INSERT: PreparedStatement = { name: "airlock_ledger_insert", text: `${INSERT_HEAD}$1${INSERT_TAIL}` };

/** What inserting ledger rows needs of the store. */
export type LedgerStore = Pick<Database, "runPrepared">;

/** A ledger row as the writer takes it: `ts` may be epoch milliseconds, which serializes cheaper than a `Date`. */
export type LedgerRecord = Omit<NewLedgerRow, "ts"> & { ts: Date | number };

export async function insertLedgerRows(store: LedgerStore, rows: LedgerRecord[]): Promise<void> {
  await insertSerializedLedgerRows(store, rows.map(serializeLedgerRow));
}

/**
 * Rows already serialized by `serializeLedgerRow` (the ledger writer's buffer and spool hold them so).
 * They go to the store as a list, which it joins with commas (see StatementParam): never one string here.
 */
export async function insertSerializedLedgerRows(store: LedgerStore, records: string[]): Promise<void> {
  for (let i = 0; i < records.length; i += ROWS_PER_STATEMENT) {
    await store.runPrepared(LEDGER_INSERT, [records.slice(i, i + ROWS_PER_STATEMENT)]);
  }
}

/**
 * One row as the JSON the insert unpacks. Serializing when a call settles, not when the batch is
 * written, lets the row's objects die young: held until the flush they were promoted and cost the
 * garbage collector more than the serializing.
 */
export function serializeLedgerRow(row: LedgerRecord): string {
  return JSON.stringify(row);
}

export { SPEND_GROUPS, type SpendGroup } from "../spend-groups.js";

export const GROUP_COLUMN: Record<SpendGroup, SQL> = {
  operation: sql`coalesce(${ledger.operation}, '(none)')`,
  model: sql`coalesce(${ledger.model}, '(none)')`,
  provider: sql`coalesce(${ledger.provider}, '(none)')`,
  user: sql`coalesce(${ledger.endUser}, ${ledger.userId}, '(none)')`,
  team: sql`coalesce(${ledger.teamId}, '(none)')`,
  key: sql`coalesce(${ledger.keyId}, '(none)')`,
  day: sql`to_char(${ledger.ts} at time zone 'UTC', 'YYYY-MM-DD')`,
};

export interface SpendLine {
  group: string;
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  /** USD, exact decimal string. */
  cost: string;
}

/**
 * Spend since a moment, grouped one way. Whole UTC days come from the daily rollup, the whole hours
 * before the first of them from the hourly rollup, and only the minutes before the first whole hour
 * from the ledger: exact to the row, and its cost does not grow with the ledger's size.
 */
export async function spendBy(db: Db, by: SpendGroup, since: Date, filters?: LedgerFilters, limit?: number): Promise<SpendLine[]> {
  if (isFiltered(filters)) return filteredSpendBy(db, by, since, filters, limit);
  const { hoursFrom, daysFrom, ledgerMinutes } = stretchesSince(since);
  const dimension = by === "day" ? "total" : by;
  const rollupGroup = by === "day" ? sql`to_char(${ledgerRollup.start} at time zone 'UTC', 'YYYY-MM-DD')` : sql`${ledgerRollup.value}`;
  const result = await db.execute(sql`
    select grp as "group", sum(requests)::text as requests, sum(errors)::text as errors,
      sum(input_tokens)::text as input, sum(output_tokens)::text as output, sum(cost)::text as cost
    from (
      select ${rollupGroup} as grp, ${ledgerRollup.requests} as requests, ${ledgerRollup.errors} as errors,
        ${ledgerRollup.inputTokens} as input_tokens, ${ledgerRollup.outputTokens} as output_tokens, ${ledgerRollup.cost} as cost
      from ${ledgerRollup}
      where ${ledgerRollup.dimension} = ${dimension} and ${ledgerRollup.grain} = 'day' and ${ledgerRollup.start} >= ${daysFrom}
      union all
      select ${rollupGroup}, ${ledgerRollup.requests}, ${ledgerRollup.errors}, ${ledgerRollup.inputTokens}, ${ledgerRollup.outputTokens}, ${ledgerRollup.cost}
      from ${ledgerRollup}
      where ${ledgerRollup.dimension} = ${dimension} and ${ledgerRollup.grain} = 'hour' and ${ledgerRollup.start} >= ${hoursFrom} and ${ledgerRollup.start} < ${daysFrom}
      union all
      select ${GROUP_COLUMN[by]}, count(*), count(*) filter (where ${ledger.outcome} <> 'success'),
        sum(${ledger.inputTokens}), sum(${ledger.outputTokens}), sum(${ledger.cost})
      from ${ledger}
      where ${ledgerMinutes}
      group by 1
    ) as spend
    group by grp
    order by sum(cost) desc, grp${limitSql(limit)}`);
  return spendLines(result);
}

/** Spend of the calls that match the filters, from the ledger: no rollup holds their combination. */
async function filteredSpendBy(db: Db, by: SpendGroup, since: Date, filters: LedgerFilters, limit: number | undefined): Promise<SpendLine[]> {
  const result = await db.execute(sql`
    select ${GROUP_COLUMN[by]} as "group", count(*)::text as requests, (count(*) filter (where ${ledger.outcome} <> 'success'))::text as errors,
      sum(${ledger.inputTokens})::text as input, sum(${ledger.outputTokens})::text as output, sum(${ledger.cost})::text as cost
    from ${ledger}
    where ${ledger.ts} >= ${since}${filterSql(filters)}
    group by 1
    order by sum(${ledger.cost}) desc, 1${limitSql(limit)}`);
  return spendLines(result);
}

/** The costliest `limit` lines only, when given. */
function limitSql(limit: number | undefined): SQL {
  return limit === undefined ? sql`` : sql` limit ${limit}`;
}

function spendLines(result: unknown): SpendLine[] {
  return rowsOf<{ group: string; requests: string; errors: string; input: string; output: string; cost: string }>(result).map((r) => ({
    group: String(r.group),
    requests: Number(r.requests),
    errors: Number(r.errors),
    inputTokens: Number(r.input),
    outputTokens: Number(r.output),
    cost: normalizeDecimal(String(r.cost)),
  }));
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** The first whole UTC hour (or day) at or after `moment`; UTC days and hours are whole multiples since the epoch. */
export function nextWhole(moment: Date, unitMs: number): Date {
  return new Date(Math.ceil(moment.getTime() / unitMs) * unitMs);
}

/**
 * The stretches every report since `since` reads: whole UTC days (from `daysFrom`) from the daily
 * rollups, the whole hours before them (from `hoursFrom`) from the hourly ones, and only the minutes
 * before the first whole hour from the ledger itself.
 */
export function stretchesSince(since: Date) {
  const hoursFrom = nextWhole(since, HOUR_MS);
  const daysFrom = nextWhole(since, DAY_MS);
  return {
    hoursFrom,
    daysFrom,
    /** The rollup rows of those days and hours, for a rollup with `grain` and `start` columns. */
    wholes: (grain: SQL, start: SQL) => sql`((${grain} = 'day' and ${start} >= ${daysFrom}) or (${grain} = 'hour' and ${start} >= ${hoursFrom} and ${start} < ${daysFrom}))`,
    /** The ledger rows of the minutes before the first whole hour. */
    ledgerMinutes: sql`${ledger.ts} >= ${since} and ${ledger.ts} < ${hoursFrom}`,
  };
}

export async function countLedgerRows(db: Db): Promise<number> {
  const [row] = await db.select({ n: count() }).from(ledger);
  return Number(row?.n ?? 0);
}

export function recentLedgerRows(db: Db, limit: number, filters?: LedgerFilters): Promise<LedgerRow[]> {
  const query = db.select().from(ledger);
  return (isFiltered(filters) ? query.where(sql`true${filterSql(filters)}`) : query).orderBy(desc(ledger.ts)).limit(limit);
}

/** `0.000123000000` → `0.000123`: the numeric column's scale is storage detail, not meaning. */
export function normalizeDecimal(value: string): string {
  if (!value.includes(".")) return value;
  const trimmed = value.replace(/0+$/, "").replace(/\.$/, "");
  return trimmed === "" || trimmed === "-" ? "0" : trimmed;
}

export interface FallbackLine {
  operation: string;
  /** The model that served the call, or the last one tried when it failed. */
  model: string;
  /** Calls that reached a provider. */
  calls: number;
  /** Calls that moved past their first candidate. */
  fellBack: number;
  errors: number;
  /** Attempts repeated on the same candidate. */
  retries: number;
  /** Failed attempts by reason: rate_limited, server_error, timeout, circuit_open… */
  reasons: Record<string, number>;
}

/** Per operation and model: how often calls fell back, failed and retried, and why attempts failed. */
export async function fallbacksBy(db: Db, since: Date): Promise<FallbackLine[]> {
  const operation = sql`coalesce(${ledger.operation}, '(none)')`;
  const model = sql`coalesce(${ledger.model}, '(none)')`;
  const reached = sql`${ledger.ts} >= ${since} and ${ledger.outcome} <> 'refused'`;
  const totals = await db
    .select({
      operation: sql<string>`${operation}`,
      model: sql<string>`${model}`,
      calls: sql<string>`count(*)`,
      fellBack: sql<string>`count(*) filter (where ${ledger.fallbacks} > 0)`,
      errors: sql<string>`count(*) filter (where ${ledger.outcome} = 'error')`,
      // Requests beyond the first on each candidate: not a schema repair, and not a retry the circuit
      // breaker stopped (a circuit_open entry sent nothing). A model is tried in one run of entries.
      retries: sql<string>`coalesce(sum((select greatest(count(*) - count(distinct r->>'model'), 0) from jsonb_array_elements(${ledger.attempts}) as r where r->>'purpose' is distinct from 'repair' and r->>'reason' is distinct from 'circuit_open')), 0)`,
    })
    .from(ledger)
    .where(reached)
    .groupBy(operation, model)
    .orderBy(operation, model);
  const reasons = await db.execute<{ operation: string; model: string; reason: string; n: string }>(sql`
    select ${operation} as operation, ${model} as model, a->>'reason' as reason, count(*) as n
    from ${ledger}, jsonb_array_elements(${ledger.attempts}) as a
    where ${reached} and a->>'outcome' = 'error'
    group by 1, 2, 3`);
  const lines = totals.map((r) => ({
    operation: String(r.operation),
    model: String(r.model),
    calls: Number(r.calls),
    fellBack: Number(r.fellBack),
    errors: Number(r.errors),
    retries: Number(r.retries),
    reasons: {} as Record<string, number>,
  }));
  const byKey = new Map(lines.map((line) => [`${line.operation}\u0000${line.model}`, line]));
  for (const row of rowsOf<{ operation: string; model: string; reason: string | null; n: string }>(reasons)) {
    const line = byKey.get(`${row.operation}\u0000${row.model}`);
    if (line) line.reasons[row.reason ?? "unknown"] = Number(row.n);
  }
  return lines;
}


export interface ReconciliationLine {
  model: string;
  provider: string;
  /** Calls for which the provider reported its own cost. */
  calls: number;
  /** USD, exact: Airlock's cost for those calls. */
  cost: string;
  /** USD, exact: what the provider said those calls cost. */
  providerCost: string;
  /** providerCost − cost: positive when the provider charged more than the catalog price says. */
  difference: string;
  /** Calls whose two figures differ by more than a millionth of a dollar. */
  mismatched: number;
}

/** Airlock's cost against the provider's own figure, per model, for the calls that carry both. */
export async function reconcileBy(db: Db, since: Date): Promise<ReconciliationLine[]> {
  const rows = await db
    .select({
      model: sql<string>`coalesce(${ledger.model}, '(none)')`,
      provider: sql<string>`coalesce(${ledger.provider}, '(none)')`,
      calls: sql<string>`count(*)`,
      cost: sql<string>`sum(${ledger.cost})::text`,
      providerCost: sql<string>`sum(${ledger.providerCost})::text`,
      difference: sql<string>`(sum(${ledger.providerCost}) - sum(${ledger.cost}))::text`,
      mismatched: sql<string>`count(*) filter (where abs(${ledger.providerCost} - ${ledger.cost}) > 0.000001)`,
    })
    .from(ledger)
    .where(sql`${ledger.ts} >= ${since} and ${ledger.providerCost} is not null`)
    .groupBy(ledger.model, ledger.provider)
    .orderBy(desc(sql`abs(sum(${ledger.providerCost}) - sum(${ledger.cost}))`));
  return rows.map((r) => ({
    model: String(r.model),
    provider: String(r.provider),
    calls: Number(r.calls),
    cost: normalizeDecimal(String(r.cost)),
    providerCost: normalizeDecimal(String(r.providerCost)),
    difference: normalizeDecimal(String(r.difference)),
    mismatched: Number(r.mismatched),
  }));
}
