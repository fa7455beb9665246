import { performance } from "node:perf_hooks";

/** Reads until `done` says yes, every 20 ms; fails with the last value read after `giveUpMs`. */
export async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, giveUpMs: number): Promise<{ value: T; ms: number }> {
  const since = performance.now();
  for (;;) {
    const value = await read();
    if (done(value)) return { value, ms: Math.round(performance.now() - since) };
    if (performance.now() - since > giveUpMs) throw new Error(`not within ${giveUpMs} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
