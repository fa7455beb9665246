import { InvalidArgumentError, type Command } from "commander";
import type { AdminBackend, ConnectOptions } from "./admin-client.js";
import { gatewayUrl } from "./gateway-url.js";
import { DEFAULT_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS, parseTimeoutSeconds } from "./timeout.js";
import { terminalText } from "./print.js";

/** What every command that reaches Airlock shares: where the gateway or the store is, and how to print. */
export function withConnection(command: Command): Command {
  return command
    .option("--url <url>", "a running gateway (env AIRLOCK_URL, default http://127.0.0.1:4100)", gatewayUrl)
    .option("--admin-key <key>", "admin key (env AIRLOCK_ADMIN_KEY, else <data-dir>/admin-key)")
    .option("--data-dir <dir>", "the embedded store, used when no gateway answers (env AIRLOCK_DATA_DIR)")
    .option("--timeout <seconds>", `how long to wait for the gateway's answer (env AIRLOCK_CLI_TIMEOUT, default ${DEFAULT_TIMEOUT_SECONDS})`, timeoutSeconds)
    .option("--json", "print JSON");
}

function timeoutSeconds(value: string): number {
  const seconds = parseTimeoutSeconds(value);
  if (seconds === undefined) throw new InvalidArgumentError(`--timeout must be a number of seconds above 0, at most ${MAX_TIMEOUT_SECONDS}`);
  return seconds;
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

/**
 * A parser for a flag that takes a whole number from `min` to `max`, written in decimal digits:
 * anything else stops the command with a message naming the flag, before anything is sent.
 */
export function wholeNumber(flag: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const number = /^\d{1,10}$/.test(value.trim()) ? Number(value.trim()) : NaN;
    if (!Number.isInteger(number) || number < min || number > max) throw new InvalidArgumentError(`${flag} must be a whole number from ${min} to ${max}`);
    return number;
  };
}

/** Prints text made safe for a terminal (labels are stored text), or JSON, whose strings escape their controls. */
export function print(value: unknown): void {
  process.stdout.write((typeof value === "string" ? terminalText(value) : JSON.stringify(value, null, 2)) + "\n");
}
