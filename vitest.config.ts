import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

/**
 * Tests that put gateway processes under load (several instances, a thousand calls at once) and hold them
 * to time limits (a kill switch confirmed within 900 ms, a lease answered within 1.5 s, else a call is
 * refused as unavailable). They run after the rest, one file at a time, so that a browser or another
 * file's processes on the same two cores cannot starve them.
 */
const UNDER_LOAD = ["test/*.instances.e2e.test.ts", "test/budgets.burst.e2e.test.ts", "test/cluster.e2e.test.ts"];

/**
 * Tests that start, load or kill gateway processes too, but hold them to no time limit of Airlock's (a
 * signal ends a bench, a SIGTERM after 300 calls leaves 300 rows, a failed start changes nothing). They
 * also run after the rest, and two at a time: one at a time, each left the two cores more than half idle.
 */
const UNDER_LOAD_UNTIMED = ["test/bench-interrupt.e2e.test.ts", "test/shutdown.e2e.test.ts", "test/webhooks.instances.e2e.test.ts", "test/failed-start.instances.e2e.test.ts"];

/**
 * Files that test what a module does on its first use in a process (the tokenizer's thread not started
 * yet), so they need modules of their own. Every other file shares its worker's modules with the files
 * that ran there before it (`isolate: false`): a fresh process and fresh imports for each of 215 files
 * cost the suite about a third of its CPU time (1,407 s against 1,022 s, one run each on one host).
 */
const FRESH_MODULES = ["src/calls/token-counter.test.ts"];

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
    // against 443 s with a file per core. Since files share their worker's modules, a file per core left
    // the cores about 55% busy; three files on two cores kept them about 95% busy, and the suite took
    // 631 s against 674 s with two (one run each, one host).
    maxWorkers: Math.round(availableParallelism() * 1.5),
    globalSetup: ["test/support/global-setup.ts"],
    projects: [
      { extends: true, test: { name: "main", include: ["src/**/*.test.ts", "test/**/*.test.ts"], exclude: [...UNDER_LOAD, ...UNDER_LOAD_UNTIMED, ...FRESH_MODULES], isolate: false, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: "fresh-modules", include: FRESH_MODULES, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: "under-load", include: UNDER_LOAD, exclude: UNDER_LOAD_UNTIMED, isolate: false, fileParallelism: false, sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: "under-load-untimed", include: UNDER_LOAD_UNTIMED, isolate: false, maxWorkers: 2, sequence: { groupOrder: 2 } } },
    ],
  },
});
