import { describe, expect, it, vi } from "vitest";
import { insertApprovedDirective, scratchExecutions } from "../../../test/support/executions.js";
import { STORE_KINDS, type TestStore } from "../../../test/support/stores.js";
import type { Executions } from "./executions.js";

/**
 * When the dispatcher looks for approved directives. The embedded store belongs to this process, so
 * every approval happens here and kicks a dispatch: nothing is polled, and only a dispatch that failed
 * is tried again. On a shared store, approvals elsewhere are announced, and a look every 30 s is the
 * safety net for an announcement that never came (test/executions.library.test.ts).
 */
describe.each(STORE_KINDS)("the directive dispatcher on %s", (kind) => {
  const scratch = scratchExecutions(kind);
  let executions: Executions | undefined;

  /** The dispatcher over a real store, with an engine whose own store cannot be reached: every dispatch that finds work fails. */
  async function dispatcher(): Promise<{ store: TestStore; launches: number[] }> {
    const launches: number[] = [];
    const opened = await scratch.open(() => ({
      settings: { enabled: true, concurrency: 1, pollIntervalMs: 250, executorId: "dispatch-test" },
      engineStore: () => {
        launches.push(performance.now());
        return Promise.reject(new Error("the engine's store refused the connection"));
      },
    }));
    executions = opened.executions;
    return { store: opened.store, launches };
  }

  const approveOne = (s: TestStore) => insertApprovedDirective(s, "dir_dispatch", "test the dispatcher");

  it("tries a failed dispatch again about a second later, and keeps trying while it fails", async () => {
    const { store: s, launches } = await dispatcher();
    await approveOne(s);
    executions!.start();
    await vi.waitFor(() => expect(launches.length).toBeGreaterThanOrEqual(3), { timeout: 10_000, interval: 50 });
    const gaps = launches.slice(1).map((t, i) => t - launches[i]!);
    // Neither a busy loop nor a give-up: each retry waits for the interval (1 s), give or take a slow host.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(900);
  });

  if (kind === "pglite") {
    it("sends nothing to the embedded store while nothing is approved", async () => {
      const { store: s, launches } = await dispatcher();
      const atStart = s.database.requestsSent!();
      executions!.start();
      // The start's own look for work (and for runs a crash left) is the only statement.
      await vi.waitFor(() => expect(s.database.requestsSent!()).toBe(atStart + 1), { timeout: 5_000, interval: 20 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const before = s.database.requestsSent!();
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(s.database.requestsSent!()).toBe(before);
      expect(launches).toEqual([]);
    });
  }
});
