import { afterEach, describe, expect, it, vi } from "vitest";
import { freshStore, type TestStore } from "../test/support/stores.js";
import { ChangeNotices } from "./change-notices.js";
import { silentLogger } from "./core/logger.js";

/**
 * A reload after a change notice that fails (the store was briefly out of connections, say) must not
 * leave the instance on the old state: no second notice may ever come for that change.
 */
describe("change notices", () => {
  let store: TestStore | undefined;
  let notices: ChangeNotices | undefined;
  afterEach(async () => {
    notices?.close();
    await store?.cleanup();
  });

  async function setup(): Promise<ChangeNotices> {
    store = await freshStore("pglite");
    notices = new ChangeNotices(store.database, silentLogger);
    return notices;
  }

  /** A reload that fails its first `failures` times, and counts its runs. */
  function flaky(failures: number): { reload: () => Promise<void>; runs: () => number; done: () => number } {
    let runs = 0;
    let done = 0;
    return {
      reload: async () => {
        runs++;
        if (runs <= failures) throw new Error("the store did not answer");
        done++;
      },
      runs: () => runs,
      done: () => done,
    };
  }

  it("retries a failed reload by itself until it succeeds, with no further notice", async () => {
    const n = await setup();
    const keys = flaky(2);
    n.on("keys", keys.reload);
    await n.reload("keys");
    expect(keys.done()).toBe(0);
    await vi.waitFor(() => expect(keys.done()).toBe(1), { timeout: 5_000, interval: 20 });
    expect(keys.runs()).toBe(3);
    // Once it succeeded, nothing more runs.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(keys.runs()).toBe(3);
  });

  it("after a reconnect, reloads every area even when an earlier one fails, and retries the one that failed", async () => {
    const n = await setup();
    const killSwitch = flaky(1);
    const keys = flaky(0);
    const routes = flaky(0);
    n.on("kill_switch", killSwitch.reload);
    n.on("keys", keys.reload);
    n.on("routes", routes.reload);
    await n.reload("all");
    expect([keys.done(), routes.done()]).toEqual([1, 1]);
    await vi.waitFor(() => expect(killSwitch.done()).toBe(1), { timeout: 5_000, interval: 20 });
    expect([keys.runs(), routes.runs()]).toEqual([1, 1]);
  });
});
