import type { Command } from "commander";
import type { AdminBackend, ConnectOptions } from "./admin-client.js";

/** What every command that reaches Airlock shares: where the gateway or the store is, and how to print. */
export function withConnection(command: Command): Command {
  return command
    .option("--url <url>", "a running gateway (env AIRLOCK_URL, default http://127.0.0.1:4100)")
    .option("--admin-key <key>", "admin key (env AIRLOCK_ADMIN_KEY, else <data-dir>/admin-key)")
    .option("--data-dir <dir>", "the embedded store, used when no gateway answers (env AIRLOCK_DATA_DIR)")
    .option("--json", "print JSON");
}

/** Runs `work` against a running gateway, or the store itself when none answers; the client loads only here. */
export async function withBackend(opts: ConnectOptions, work: (backend: AdminBackend) => Promise<void>): Promise<void> {
  const { connect } = await import("./admin-client.js");
  const backend = await connect(opts);
  try {
    await work(backend);
  } finally {
    await backend.close();
  }
}

export function print(value: unknown): void {
  process.stdout.write((typeof value === "string" ? value : JSON.stringify(value, null, 2)) + "\n");
}
