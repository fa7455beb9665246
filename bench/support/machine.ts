import os from "node:os";
import pg from "pg";

/** When a run started, as its report dates it: "2026-12-07 04:46 UTC". */
export function runDate(): string {
  return `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** The host a run measured on, as its report names it: the cells of two hosts do not compare. */
export function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model ?? "unknown CPU"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}`;
}

/** The machine, and the PostgreSQL server a run's PostgreSQL targets used, whose version and host move their numbers too. */
export async function machineWithPostgres(databaseUrl: string | undefined): Promise<string> {
  if (!databaseUrl) return machine();
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>("show server_version");
    return `${machine()}, PostgreSQL ${rows[0]!.server_version.split(" ")[0]}`;
  } finally {
    await client.end();
  }
}

/** A database URL as a report may show it: without its password. */
export function withoutPassword(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  if (url.password) url.password = "PASSWORD";
  // node-postgres reads a password from the query too.
  if (url.searchParams.has("password")) url.searchParams.set("password", "PASSWORD");
  return url.href;
}

/**
 * The command that reproduces a run, as its report gives it: the script, the flags it was given, and
 * the DATABASE_URL it ran with (without its password), which decides whether the PostgreSQL targets run.
 */
export function commandOf(script: string, args: readonly string[], databaseUrl: string | undefined): string {
  return `${databaseUrl ? `DATABASE_URL=${withoutPassword(databaseUrl)} ` : ""}${script}${args.length > 0 ? ` -- ${args.join(" ")}` : ""}`;
}
