import { defineConfig } from "vitest/config";

/**
 * Tests that put several gateway processes under load, or kill them, measure what happens under time
 * limits (a kill switch confirmed within 900 ms, a lease answered within 1.5 s). They run last, one
 * file at a time, so that a browser or another file's processes on the same two cores cannot starve them.
 */
const UNDER_LOAD = ["test/*.instances.e2e.test.ts", "test/cluster.e2e.test.ts", "test/executions.crash.e2e.test.ts", "test/shutdown.e2e.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // A page's action (a request, then its view read again) took over a second while the suite loaded
    // both cores, past expect.poll's default of 1 s: the browser tests' polls wait up to 10 s.
    expect: { poll: { timeout: 10_000 } },
    pool: "forks",
    // Most of a file's time is spent waiting on the processes, store and sockets it starts, not on a core.
    // Vitest's default (one file per core, less one) ran the suite one file at a time on two cores: 593 s
    // against 443 s with a file per core.
    maxWorkers: "100%",
    globalSetup: ["test/support/global-setup.ts"],
    projects: [
      { extends: true, test: { name: "main", include: ["src/**/*.test.ts", "test/**/*.test.ts"], exclude: UNDER_LOAD, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: "under-load", include: UNDER_LOAD, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
