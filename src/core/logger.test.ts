import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { flushPeriodically } from "./logger.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** The buffered destination the gateway logs to, on a file instead of stdout. */
async function bufferedLog() {
  const dir = await mkdtemp(path.join(os.tmpdir(), "airlock-log-"));
  const file = path.join(dir, "out.log");
  const destination = pino.destination({ dest: file, sync: false, minLength: 4096 });
  await new Promise((resolve) => destination.once("ready", resolve));
  const flush = vi.spyOn(destination, "flush");
  const logger = pino({ base: null, hooks: { streamWrite: flushPeriodically(destination, 20) } }, destination);
  cleanups.push(async () => {
    destination.destroy();
    await rm(dir, { recursive: true, force: true });
  });
  return { logger, flush, read: () => readFile(file, "utf8") };
}

describe("flushPeriodically", () => {
  it("sends a partial batch within the interval, without waiting for the batch to fill", async () => {
    const log = await bufferedLog();
    log.logger.info({ route: "/v1/chat/completions" }, "served");
    await vi.waitFor(async () => expect(await log.read()).toContain('"route":"/v1/chat/completions"'), { timeout: 2_000, interval: 10 });
    expect(log.flush).toHaveBeenCalledTimes(1);
  });

  it("does not flush while nothing is logged, and flushes again once a line is", async () => {
    const log = await bufferedLog();
    await sleep(150); // several intervals with nothing written
    expect(log.flush).not.toHaveBeenCalled();

    log.logger.info("first");
    await vi.waitFor(() => expect(log.flush).toHaveBeenCalledTimes(1), { timeout: 2_000, interval: 10 });
    await sleep(150);
    expect(log.flush).toHaveBeenCalledTimes(1);

    log.logger.info("second");
    await vi.waitFor(() => expect(log.flush).toHaveBeenCalledTimes(2), { timeout: 2_000, interval: 10 });
    expect((await log.read()).split("\n").filter(Boolean).map((line) => JSON.parse(line).msg)).toEqual(["first", "second"]);
  });

  it("keeps no timer while nothing waits, and one while lines do, however many", () => {
    vi.useFakeTimers();
    try {
      const flush = vi.fn();
      const streamWrite = flushPeriodically({ flush }, 200);
      expect(vi.getTimerCount()).toBe(0);
      expect(streamWrite("a\n")).toBe("a\n");
      streamWrite("b\n");
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(200);
      expect(flush).toHaveBeenCalledTimes(1);
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(1_000);
      expect(flush).toHaveBeenCalledTimes(1);
    } finally {
      vi.useRealTimers();
    }
  });
});
