import { isNull, sql, type SQL } from "drizzle-orm";
import type { Db } from "../database.js";
import { auditEvents, budgets, type BudgetRow } from "../schema/index.js";
import { markDeleted, type AdminAudit } from "./admin-rows.js";
import { rowsOf } from "./rows.js";

/*
 * Every statement here is one statement, so it is atomic on both stores (the PGlite proxy has no
 * transactions). Lock order, kept by every statement that takes both: a lease before its window,
 * windows in key order. The ledger insert (queries/ledger.ts) keeps the same order.
 */

export type BudgetInput = Pick<BudgetRow, "name" | "scope" | "target" | "period" | "timezone" | "limitUsd" | "warnUsd">;

/** The budgets in force: every row but those an admin deleted. */
export function readBudgets(db: Db): Promise<BudgetRow[]> {
  return db.select().from(budgets).where(isNull(budgets.deletedAt)).orderBy(budgets.name);
}

/**
 * The config's budgets: new ones inserted, changed ones updated and dropped ones deleted, unless an
 * admin set them, or deleted them (the row stays, marked, so the file does not bring it back).
 */
export async function seedBudgets(db: Db, fromConfig: readonly BudgetInput[]): Promise<void> {
  const incoming = JSON.stringify(fromConfig);
  await db.execute(sql`
    with incoming as (
      select * from json_to_recordset(${incoming}::json)
        as r(name text, scope text, target text, period text, timezone text, "limitUsd" numeric, "warnUsd" numeric)
    ),
    dropped as (delete from ${budgets} where source = 'config' and name not in (select name from incoming)),
    seeded as (
      insert into ${budgets} (name, scope, target, period, timezone, limit_usd, warn_usd, source, updated_by)
      select name, scope, target, period, timezone, "limitUsd", "warnUsd", 'config', 'config' from incoming
      on conflict (name) do update set scope = excluded.scope, target = excluded.target, period = excluded.period,
        timezone = excluded.timezone, limit_usd = excluded.limit_usd, warn_usd = excluded.warn_usd, updated_at = now()
      where ${budgets}.source = 'config' and (${budgets}.scope, ${budgets}.target, ${budgets}.period, ${budgets}.timezone, ${budgets}.limit_usd, ${budgets}.warn_usd)
        is distinct from (excluded.scope, excluded.target, excluded.period, excluded.timezone, excluded.limit_usd, excluded.warn_usd)
      returning name, limit_usd, warn_usd
    ),
    relimited as (
      update budget_windows w set limit_usd = s.limit_usd, ${reopened(sql`s`)} from seeded s where w.budget_name = s.name and w."end" > now()
    )
    select 1`);
}

/**
 * An open window under a changed budget: warned only while its spend is still past the new warning
 * amount (a warned window steps LOW operations down), and exhausted only if the limit did not rise,
 * so that the window's next refusal is reported again. SET expressions read the window as it was.
 */
export function reopened(budget: SQL): SQL {
  return sql`warned_at = case when ${budget}.warn_usd is null or w.spent < ${budget}.warn_usd then null else w.warned_at end,
    exhausted_at = case when ${budget}.limit_usd > w.limit_usd then null else w.exhausted_at end`;
}

/** Creates or replaces a budget as an admin's; its open windows take the new limit at once. Audited in the same statement. */
export async function writeBudget(db: Db, budget: BudgetInput, audit: AdminAudit): Promise<BudgetRow> {
  const result = await db.execute(sql`
    with written as (
      insert into ${budgets} (name, scope, target, period, timezone, limit_usd, warn_usd, source, updated_at, updated_by)
      values (${budget.name}, ${budget.scope}, ${budget.target}, ${budget.period}, ${budget.timezone}, ${budget.limitUsd}::numeric,
        ${budget.warnUsd}::numeric, 'admin', now(), ${audit.actor})
      on conflict (name) do update set scope = excluded.scope, target = excluded.target, period = excluded.period, timezone = excluded.timezone,
        limit_usd = excluded.limit_usd, warn_usd = excluded.warn_usd, source = 'admin', updated_at = excluded.updated_at, updated_by = excluded.updated_by, deleted_at = null
      returning *
    ), relimited as (
      update budget_windows w set limit_usd = written.limit_usd, ${reopened(sql`written`)} from written where w.budget_name = written.name and w."end" > now()
    ), audited as (
      insert into ${auditEvents} (id, ts, action, target, actor, actor_kind, outcome, details)
      select ${audit.auditId}, updated_at, 'budget.set', name, updated_by, ${audit.actorKind}, 'applied',
        jsonb_build_object('scope', scope, 'target', target, 'period', period, 'timezone', timezone, 'limit', limit_usd::text, 'warnAt', warn_usd::text)
      from written
    )
    select name, scope, target, period, timezone, limit_usd::text as "limitUsd", warn_usd::text as "warnUsd", source,
      updated_at as "updatedAt", updated_by as "updatedBy" from written`);
  const [row] = rowsOf<Omit<BudgetRow, "updatedAt"> & { updatedAt: string | Date }>(result);
  if (!row) throw new Error("budget write returned no row");
  return { ...row, updatedAt: new Date(row.updatedAt) };
}

/** Deletes a budget (its row stays, marked; see markDeleted), audited. Its windows stay, as history. */
export function deleteBudget(db: Db, name: string, audit: AdminAudit): Promise<boolean> {
  return markDeleted(db, budgets, name, "budget.delete", audit);
}

export interface WindowKey {
  budget: string;
  start: Date;
}

/**
 * Opens the window if no instance has (this insert is its reset, and it happens once: the key decides)
 * and gives the holder its lease row. Answers whether this call opened the window.
 *
 * A window that overlaps one the budget already had (its period or time zone changed mid-window) starts
 * at what the ledger charged the budget in its span, not at zero: a budget moved from UTC to Paris, or
 * from daily to monthly, would otherwise allow its whole limit again the same day. A window that only
 * follows the last one, the usual case, overlaps nothing and reads no ledger.
 */
export async function openWindow(db: Db, key: WindowKey & { end: Date; holder: string; ttlMs: number }): Promise<{ opened: boolean; exists: boolean }> {
  const start = key.start.toISOString();
  const end = key.end.toISOString();
  const result = await db.execute(sql`
    with opened as (
      insert into budget_windows (budget_name, start, "end", limit_usd, spent)
      select b.name, ${start}::timestamptz, ${end}::timestamptz, b.limit_usd,
        case when exists (select 1 from budget_windows o where o.budget_name = b.name and o.start < ${end}::timestamptz and o."end" > ${start}::timestamptz)
          then (
            select coalesce(sum((c.value->>'spent')::numeric), 0) from ledger l cross join lateral jsonb_array_elements(l.budget_charges) c
            where l.ts >= ${start}::timestamptz and l.ts < ${end}::timestamptz and l.budget_charges is not null and c.value->>'budget' = b.name
          )
          else 0 end
      from ${budgets} b where b.name = ${key.budget} and b.deleted_at is null
      on conflict (budget_name, start) do nothing
      returning 1
    ), leased as (
      insert into budget_leases (budget_name, window_start, holder, amount, expires_at)
      select ${key.budget}, ${key.start.toISOString()}::timestamptz, ${key.holder}, 0, now() + ${key.ttlMs}::int * interval '1 millisecond'
      where exists (select 1 from ${budgets} where name = ${key.budget} and deleted_at is null)
      on conflict (budget_name, window_start, holder) do update set expires_at = excluded.expires_at
    )
    select (select count(*) from opened)::int as opened, (select count(*) from ${budgets} where name = ${key.budget} and deleted_at is null)::int as exists`);
  const [row] = rowsOf<{ opened: number; exists: number }>(result);
  return { opened: Number(row?.opened) > 0, exists: Number(row?.exists) > 0 };
}

export interface Grant {
  /** USD the holder now holds from this window, its `give` already returned. */
  granted: string;
  /** USD left unheld in the window after this grant. */
  free: string;
}

/**
 * Returns the holder's leftover (`give`) and takes a fresh grant from what the window has free, in one
 * step: nothing if less than `need` is free, else whole multiples of `need`, from `need` up to the
 * smaller of `chunk` and an eighth of what is free (a grant shrinks as the window fills, so no instance
 * sits on what another needs). Undefined when the holder has no lease here (it was reaped): reopen.
 */
export async function acquireGrant(db: Db, key: WindowKey & { holder: string; give: string; need: string; chunk: string; ttlMs: number }): Promise<Grant | undefined> {
  const start = key.start.toISOString();
  const result = await db.execute(sql`
    with lease as (
      select 1 from budget_leases where budget_name = ${key.budget} and window_start = ${start}::timestamptz and holder = ${key.holder} for update
    ), cur as (
      select limit_usd - spent - reserved + ${key.give}::numeric as free from budget_windows
      where budget_name = ${key.budget} and start = ${start}::timestamptz and exists (select 1 from lease) for update
    ), grant_ as (
      select free, case when free >= ${key.need}::numeric
        then floor(least(free, greatest(${key.need}::numeric, least(${key.chunk}::numeric, free / 8))) / ${key.need}::numeric) * ${key.need}::numeric
        else 0 end as amount
      from cur
    ), held as (
      update budget_windows set reserved = reserved - ${key.give}::numeric + (select amount from grant_)
      where budget_name = ${key.budget} and start = ${start}::timestamptz and exists (select 1 from grant_)
    ), leased as (
      update budget_leases set amount = amount - ${key.give}::numeric + (select amount from grant_), expires_at = now() + ${key.ttlMs}::int * interval '1 millisecond'
      where budget_name = ${key.budget} and window_start = ${start}::timestamptz and holder = ${key.holder} and exists (select 1 from grant_)
    )
    select amount::text as granted, (free - amount)::text as free from grant_`);
  return rowsOf<Grant>(result)[0];
}

/** Gives part of a holder's lease back to its window. */
export async function returnGrant(db: Db, key: WindowKey & { holder: string; amount: string }): Promise<boolean> {
  const start = key.start.toISOString();
  const result = await db.execute(sql`
    with lease as (
      update budget_leases set amount = amount - ${key.amount}::numeric
      where budget_name = ${key.budget} and window_start = ${start}::timestamptz and holder = ${key.holder} and amount >= ${key.amount}::numeric
      returning 1
    )
    update budget_windows set reserved = reserved - ${key.amount}::numeric
    where budget_name = ${key.budget} and start = ${start}::timestamptz and exists (select 1 from lease)
    returning 1`);
  return rowsOf(result).length > 0;
}

/** The leases a process holds: each lease row's holder is `<process>.<serial>` (see BudgetHold.leaseHolder). */
export interface LeaseHolders {
  process: string;
  /** The holders of the leases the process spends from now; any other row of its own was given up. */
  current: string[];
}

/**
 * One sync round's lease work, in one statement: extends every current lease of the process, frees what
 * every other expired lease held (its holder stopped renewing: killed, cut off, or a lease this process
 * gave up), and drops every lease of a window that ended over an hour ago. The renewed and reaped rows
 * are disjoint, as one statement needs. `everyOther` frees other processes' leases whether or not they
 * expired: on a store only this process opens, they belong to processes that are gone. `reap` false
 * frees none: this process has just come back from losing the store, and so may every other holder,
 * whose lease expired only because it could not renew it. Answers the current leases that still exist,
 * and how many leases were freed.
 */
export async function renewAndReapLeases(
  db: Db,
  holders: LeaseHolders,
  ttlMs: number,
  everyOther = false,
  reap = true,
): Promise<{ live: Array<WindowKey & { holder: string }>; freed: number }> {
  const current = JSON.stringify(holders.current);
  const result = await db.execute(sql`
    with ended as (
      select budget_name, start from budget_windows where "end" < now() - interval '1 hour'
    ), mine as (
      select value as holder from json_array_elements_text(${current}::json)
    ), renewed as (
      update budget_leases l set expires_at = now() + ${ttlMs}::int * interval '1 millisecond'
      where l.holder in (select holder from mine) and not exists (select 1 from ended e where e.budget_name = l.budget_name and e.start = l.window_start)
      returning budget_name, window_start, holder
    ), dead as (
      delete from budget_leases l
      where (${reap}::boolean and l.holder not in (select holder from mine) and (l.expires_at < now() or (${everyOther}::boolean and not starts_with(l.holder, ${`${holders.process}.`}))))
        or exists (select 1 from ended e where e.budget_name = l.budget_name and e.start = l.window_start)
      returning budget_name, window_start, amount
    ), freed as (
      insert into budget_windows (budget_name, start, "end", limit_usd, reserved)
      select w.budget_name, w.start, w."end", w.limit_usd, d.amount
      from (select budget_name, window_start, sum(amount) as amount from dead group by 1, 2) d
      join budget_windows w on w.budget_name = d.budget_name and w.start = d.window_start
      order by 1, 2
      on conflict (budget_name, start) do update set reserved = budget_windows.reserved - excluded.reserved
    )
    select budget_name as budget, window_start as start, holder, null::int as freed from renewed
    union all
    select null, null, null, count(*)::int from dead`);
  const rows = rowsOf<{ budget: string | null; start: string | Date | null; holder: string | null; freed: number | null }>(result);
  return {
    live: rows.filter((r) => r.budget !== null && r.start !== null).map((r) => ({ budget: r.budget!, start: new Date(r.start!), holder: r.holder! })),
    freed: Number(rows.find((r) => r.freed !== null)?.freed ?? 0),
  };
}

export interface WindowState {
  budget: string;
  start: Date;
  end: Date;
  limit: string;
  spent: string;
  reserved: string;
  warnedAt: Date | null;
  exhaustedAt: Date | null;
}

/** The windows open now, for every budget. */
export async function openWindows(db: Db): Promise<WindowState[]> {
  const result = await db.execute(sql`
    select budget_name as budget, start, "end", limit_usd::text as "limit", spent::text as spent, reserved::text as reserved,
      warned_at as "warnedAt", exhausted_at as "exhaustedAt"
    from budget_windows where start <= now() and "end" > now() order by budget_name`);
  return rowsOf<WindowState & { start: string | Date; end: string | Date; warnedAt: string | Date | null; exhaustedAt: string | Date | null }>(result).map((r) => ({
    ...r,
    start: new Date(r.start),
    end: new Date(r.end),
    warnedAt: r.warnedAt === null ? null : new Date(r.warnedAt),
    exhaustedAt: r.exhaustedAt === null ? null : new Date(r.exhaustedAt),
  }));
}

export interface WarnedWindows {
  /** Windows this call marked: each is answered to exactly one caller, once, so its warning is raised once. */
  marked: Array<{ budget: string; start: Date; spent: string; limit: string }>;
  /** Budgets whose open window is past its warning amount, marked now or before. */
  warned: string[];
  /** Epoch ms at which the first of those windows ends (infinity when none is warned). */
  warnedUntil: number;
}

/** Marks the windows whose spend passed their budget's warning amount, and reads which open windows are warned, in one statement. */
export async function markWarned(db: Db): Promise<WarnedWindows> {
  const result = await db.execute(sql`
    with marked as (
      update budget_windows w set warned_at = now() from ${budgets} b
      where b.name = w.budget_name and b.deleted_at is null and w.warned_at is null and b.warn_usd is not null and w.spent >= b.warn_usd and w."end" > now()
      returning w.budget_name as budget, w.start, w."end", w.spent::text as spent, w.limit_usd::text as "limit"
    )
    -- The second branch reads the windows as they were before this statement: the newly marked ones come from the first.
    select budget, start, "end", spent, "limit", true as marked, start <= now() as open from marked
    union all
    select budget_name, start, "end", null, null, false, true from budget_windows where start <= now() and "end" > now() and warned_at is not null`);
  const rows = rowsOf<{ budget: string; start: string | Date; end: string | Date; spent: string | null; limit: string | null; marked: boolean; open: boolean }>(result);
  const open = rows.filter((r) => r.open);
  return {
    marked: rows.filter((r) => r.marked).map((r) => ({ budget: r.budget, start: new Date(r.start), spent: r.spent!, limit: r.limit! })),
    warned: [...new Set(open.map((r) => r.budget))],
    warnedUntil: Math.min(Number.POSITIVE_INFINITY, ...open.map((r) => new Date(r.end).getTime())),
  };
}

/** Marks a window exhausted; true for exactly one caller per window. */
export async function markExhausted(db: Db, key: WindowKey): Promise<boolean> {
  const result = await db.execute(sql`
    update budget_windows set exhausted_at = now()
    where budget_name = ${key.budget} and start = ${key.start.toISOString()}::timestamptz and exhausted_at is null
    returning 1`);
  return rowsOf(result).length > 0;
}

/** Drops the process's leases that hold nothing (at shutdown, after its allowances were returned). */
export async function dropEmptyLeases(db: Db, process: string): Promise<void> {
  await db.execute(sql`delete from budget_leases where starts_with(holder, ${`${process}.`}) and amount = 0`);
}
