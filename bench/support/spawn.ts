import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { interrupted } from "./interrupt.js";

/** A process the bench started and must stop, whatever happens. */
export interface Service {
  child: ChildProcess;
  pid: number;
  stop(): Promise<void>;
}

const TSX = ["--import", "tsx"];

/** Runs a bench TypeScript entry in its own Node process (its CPU is its own, not the target's). */
export function spawnTs(entry: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [...TSX, entry, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
}

/** SIGKILLs `child` when the run is interrupted (interrupt.ts), until the returned function is called. */
export function killOnInterrupt(child: ChildProcess): () => void {
  const kill = () => child.kill("SIGKILL");
  if (interrupted.aborted) kill();
  else interrupted.addEventListener("abort", kill, { once: true });
  return () => interrupted.removeEventListener("abort", kill);
}

/**
 * Waits for the first stdout line, which the bench's own services print as JSON once they listen (and
 * its one-shot measurers, once done). An interrupted run (interrupt.ts) kills the child and throws.
 */
export async function firstJsonLine<T>(child: ChildProcess, timeoutMs = 15_000): Promise<T> {
  const lines = createInterface({ input: child.stdout! });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const release = killOnInterrupt(child);
  try {
    for await (const line of lines) {
      if (line.trim().startsWith("{")) return JSON.parse(line) as T;
    }
    interrupted.throwIfAborted();
    throw new Error(`process ${child.pid} exited before it was ready`);
  } finally {
    clearTimeout(timer);
    release();
    lines.close();
    child.stdout!.resume(); // keep draining so the child never blocks on a full pipe
  }
}

export function asService(child: ChildProcess): Service {
  return {
    child,
    pid: child.pid!,
    stop: () => stopProcess(child),
  };
}

export async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Polls until `url` answers 200 (or `accept` says so), measuring from `since`. */
export async function waitForHttp(url: string, init: RequestInit = {}, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url, init);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A loopback port nothing listens on now, for a service that must be told its port before it starts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
