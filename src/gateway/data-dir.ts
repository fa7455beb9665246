import { randomBytes } from "node:crypto";
import { chmod, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../core/logger.js";
import { startTicksOf } from "../store/data-dir-lock.js";

/*
 * The files a gateway keeps in its data directory, apart from the gateway itself: the CLI and the
 * cluster's primary read them without loading the gateway's code.
 */

export const ADMIN_KEY_FILE = "admin-key";
/** Written while a gateway holds the data directory, so the CLI goes through it instead of opening the store. */
export const GATEWAY_FILE = "gateway.json";

/**
 * Without `AIRLOCK_ADMIN_KEY`, a local admin key is made once and kept in the data directory (mode 0600),
 * so a first run works without setup and the key never appears in logs. An empty file counts as none:
 * kept, it would start a gateway that nobody can administer.
 */
export async function generatedAdminKey(dataDir: string, logger: Logger): Promise<string> {
  const saved = await readAdminKeyFile(dataDir);
  if (saved !== undefined) return saved;
  const file = path.join(dataDir, ADMIN_KEY_FILE);
  const key = "sk-al-admin-" + randomBytes(24).toString("base64url");
  await writeFile(file, key + "\n", { mode: 0o600 });
  await chmod(file, 0o600); // the mode above applies only to a file it creates, not to an empty one it replaces
  logger.warn({ file }, "AIRLOCK_ADMIN_KEY is not set: generated an admin key and saved it to this file");
  return key;
}

/**
 * `AIRLOCK_ADMIN_KEY`, trimmed as the key file is. A value read from a secret file (Kubernetes, Docker)
 * often ends in a newline, and no client can send one: HTTP strips a header value's outer whitespace,
 * so the key as set could never be presented. Blank counts as unset.
 */
export function adminKeyFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  return env.AIRLOCK_ADMIN_KEY?.trim() || undefined;
}

export async function readAdminKeyFile(dataDir: string): Promise<string | undefined> {
  try {
    return (await readFile(path.join(dataDir, ADMIN_KEY_FILE), "utf8")).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Tells the CLI where this process's gateway answers. With when this process started (Linux), as the
 * store's lock records it: a file left by a killed gateway must not name its pid's next owner.
 */
export async function writeGatewayFile(dataDir: string, url: string): Promise<void> {
  await writeFile(path.join(dataDir, GATEWAY_FILE), JSON.stringify({ pid: process.pid, startTicks: await startTicksOf(process.pid), url }) + "\n");
}

/**
 * Removes gateway.json at shutdown, but only while it names this process: gateways on PostgreSQL may
 * share a data directory, and the one that started last wrote the file. Removed by the first to stop,
 * the CLI would lose the one still running.
 */
export async function removeGatewayFile(dataDir: string): Promise<void> {
  const file = path.join(dataDir, GATEWAY_FILE);
  let holder: unknown;
  try {
    holder = (JSON.parse(await readFile(file, "utf8")) as { pid?: unknown }).pid;
  } catch {
    holder = undefined; // gone, or not ours to read: a file that does not parse names no live gateway either
  }
  if (holder === undefined || holder === process.pid) await rm(file, { force: true });
}

/** The gateway that holds this data directory, if one is running. */
export async function runningGateway(dataDir: string): Promise<{ pid: number; url: string } | undefined> {
  try {
    const info = JSON.parse(await readFile(path.join(dataDir, GATEWAY_FILE), "utf8")) as { pid: number; startTicks?: number; url: string };
    process.kill(info.pid, 0); // throws when no such process
    // A live process that started at another time got the pid of a gateway that was killed (or the machine rebooted).
    if (typeof info.startTicks === "number") {
      const startTicks = await startTicksOf(info.pid);
      if (startTicks !== undefined && startTicks !== info.startTicks) return undefined;
    }
    return { pid: info.pid, url: info.url };
  } catch {
    return undefined;
  }
}
