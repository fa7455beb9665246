import os from "node:os";

/**
 * Ctrl-C or SIGTERM during a bench, or its output closed (`npm run bench | head`). Node's default for
 * each ends the process at once (a write to a closed pipe throws from an `error` event no one hears),
 * and what a run made outlives it: scratch databases in the user's PostgreSQL, data directories, CPU
 * shares, and after a SIGTERM to the bench alone its gateways and upstream too. Here each aborts `interrupted`
 * instead: the load generator and the children the bench waits on are stopped (loadgen.ts, spawn.ts),
 * the step under way throws, and the run goes out through its clean-up.
 */

const controller = new AbortController();

/** Aborted at the first SIGINT, SIGTERM or closed output once `runBench` has started. */
export const interrupted: AbortSignal = controller.signal;

let listening = false;

class Interrupted extends Error {
  constructor(
    readonly signal: "SIGINT" | "SIGTERM" | "SIGPIPE",
    why = `stopped by ${signal}`,
  ) {
    super(why);
  }
}

/**
 * Runs a bench's `main` so that a signal ends it through its clean-up, with the exit code a shell
 * gives a process that signal ended: 130 for SIGINT, 143 for SIGTERM, 141 for a closed output. `process.on`,
 * not `once`: Ctrl-C reaches the bench twice, from the terminal and relayed by tsx, and a second signal
 * without a listener would end it before the clean-up.
 */
export async function runBench(name: string, main: () => Promise<void>): Promise<void> {
  if (!listening) {
    listening = true;
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => controller.abort(new Interrupted(signal)));
    // Every later write fails the same way; heard here, none ends the process before its clean-up.
    process.stdout.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") controller.abort(new Interrupted("SIGPIPE", "stopped: its output was closed"));
    });
  }
  try {
    await main();
  } catch (err) {
    if (!interrupted.aborted) throw err;
    const reason = interrupted.reason as Interrupted;
    console.error(`${name}: ${reason.message}; what it started is stopped and removed`);
    process.exitCode = 128 + os.constants.signals[reason.signal];
  }
}
