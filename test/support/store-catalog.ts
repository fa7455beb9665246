/**
 * What the test pools (pglite-pool.ts, postgres-pool.ts) read from a store's catalog to lend it to the
 * next test emptied: its schema as it opened, and the tables that hold its rows.
 */

/** The catalog of a store as it opened, to tell that a test left none of its schema changes behind. */
export const SCHEMA = `select concat_ws('|',
  (select string_agg(format('%s.%s.%s:%s:%s:%s', n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attisdropped), ',' order by n.nspname, c.relname, a.attnum)
     from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
     where a.attnum > 0 and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')),
  (select count(*) from pg_class), (select count(*) from pg_proc), (select count(*) from pg_trigger),
  (select count(*) from pg_constraint), (select count(*) from pg_attrdef), (select count(*) from pg_namespace),
  (select count(*) from pg_type), (select count(*) from drizzle.__drizzle_migrations)) as schema`;

/** Every table that holds the store's rows: all but the catalogs and the migrations' own record. */
export const TABLES = `select format('%I.%I', schemaname, tablename) as name
  from pg_tables where schemaname not in ('pg_catalog', 'information_schema', 'drizzle')`;

const quoteLiteral = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** A query with a row (its `name`) for each of `tables` (quoted for SQL) that holds a row. */
export function tablesWithRows(tables: string[]): string {
  if (tables.length === 0) return "select null as name where false";
  return tables.map((t) => `select ${quoteLiteral(t)} as name where exists (select from ${t})`).join(" union all ");
}

/** Empties `tables` (quoted for SQL). Replica mode skips the triggers that keep the audit tables append-only, for the truncate alone. */
export function truncate(tables: string[]): string {
  return tables.length ? `set session_replication_role = replica; truncate ${tables.join(", ")} restart identity; ` : "";
}
