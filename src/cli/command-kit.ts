import { InvalidArgumentError, type Command } from "commander";
import { EARLIEST_DATE, LATEST_DATE, parseSince } from "../core/duration.js";
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

/**
 * A parser for `--since`: a duration back from now or an ISO date. One it cannot use stops the command
 * as a usage error, before a gateway is asked or a store opened; a good one goes on as it was written.
 */
export function since(example = "24h or 7d"): (value: string) => string {
  return (value) => {
    if (!parseSince(value)) throw new InvalidArgumentError(`--since must be a duration such as ${example}, or an ISO date, from ${EARLIEST_DATE} to ${LATEST_DATE}`);
    return value;
  };
}

/** Prints text made safe for a terminal (labels are stored text), or JSON, whose strings escape their controls. */
export function print(value: unknown): void {
  process.stdout.write((typeof value === "string" ? terminalText(value) : JSON.stringify(value, null, 2)) + "\n");
}
