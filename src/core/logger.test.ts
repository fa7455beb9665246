import { execFileSync } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { flushedWithin, PIPE_ATOMIC_BYTES, stdoutDestination } from "./logger.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** The buffered destination the gateway logs to, on a file instead of stdout, flushed within 20 ms. */
async function bufferedLog() {
  const dir = await mkdtemp(path.join(os.tmpdir(), "airlock-log-"));
  const file = path.join(dir, "out.log");
  const destination = stdoutDestination({ shared: false, dest: file });
  await new Promise((resolve) => destination.once("ready", resolve));
  const flush = vi.spyOn(destination, "flush");
  const logger = pino({ base: null }, flushedWithin(destination, 20));
  cleanups.push(async () => {
    destination.destroy();
    await rm(dir, { recursive: true, force: true });
  });
  return { logger, flush, read: () => readFile(file, "utf8") };
}

describe("flushedWithin", () => {
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

  it("keeps no timer while nothing waits, and one while lines do, however many", async () => {
    const log = await bufferedLog();
    vi.useFakeTimers();
    try {
      expect(vi.getTimerCount()).toBe(0);
      log.logger.info("a");
      log.logger.info("b");
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(20);
      expect(log.flush).toHaveBeenCalledTimes(1);
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(1_000);
      expect(log.flush).toHaveBeenCalledTimes(1);
    } finally {
      vi.useRealTimers();
    }
    await vi.waitFor(async () => expect((await log.read()).split("\n").filter(Boolean)).toHaveLength(2), { timeout: 2_000, interval: 10 });
  });

  it("sends the rest of a burst whose writes were still out when its timer fired", async () => {
    // A pipe that holds 64 KiB, read only once the timer has fired: the burst's second write waits for
    // the reader, and the flush that comes meanwhile finds a write out and does nothing.
    const dir = await mkdtemp(path.join(os.tmpdir(), "airlock-log-"));
    const fifo = path.join(dir, "pipe");
    execFileSync("mkfifo", [fifo]);
    const reader = createReadStream(fifo);
    const destination = stdoutDestination({ shared: false, dest: fifo });
    destination.on("error", () => undefined); // the reader gone first, should the test fail
    cleanups.push(async () => {
      reader.destroy();
      destination.destroy();
      await rm(dir, { recursive: true, force: true });
    });
    await new Promise((resolve) => destination.once("ready", resolve));
    const stream = flushedWithin(destination, 20);
    let sent = 0;
    for (let i = 0; i < 400; i++) {
      const line = `${JSON.stringify({ level: 30, n: i }).padEnd(250)}\n`;
      sent += line.length;
      stream.write(line);
    }
    await sleep(150);
    let received = 0;
    reader.on("data", (chunk: string | Buffer) => (received += chunk.length));
    await vi.waitFor(() => expect(received).toBe(sent), { timeout: 2_000, interval: 10 });
  });
});

/** `count` access-log-sized lines through stdoutDestination into a file, as the logger writes them: each write's size, and the file. */
async function writeThrough(shared: boolean, count: number): Promise<{ writes: number[]; text: string; bytes: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "airlock-log-"));
  const file = path.join(dir, "out.log");
  const destination = stdoutDestination({ shared, dest: file });
  cleanups.push(async () => {
    destination.destroy();
    await rm(dir, { recursive: true, force: true });
  });
  await new Promise((resolve) => destination.once("ready", resolve));
  const writes: number[] = [];
  destination.on("write", (n: number) => writes.push(n));
  const stream = flushedWithin(destination, 20);
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    // 200–260 bytes, as the access log's lines are
    const line = `${JSON.stringify({ level: 30, requestId: `req_${i}`, path: "/v1/chat/completions", model: "m".repeat(i % 61), msg: "request" }).padEnd(200)}\n`;
    bytes += Buffer.byteLength(line);
    stream.write(line);
  }
  await vi.waitFor(() => expect(writes.reduce((sum, n) => sum + n, 0)).toBe(bytes), { timeout: 2_000, interval: 10 });
  return { writes, text: await readFile(file, "utf8"), bytes };
}

/** The offsets at which each write ended, for checking that every write ends a line. */
function writeEnds(writes: number[]): number[] {
  let at = 0;
  return writes.map((n) => (at += n));
}

describe("stdoutDestination", () => {
  it("writes a process's own stdout in batches of at least 32 KiB, every line whole and in order", async () => {
    const { writes, text, bytes } = await writeThrough(false, 2_000);
    expect(text.length).toBe(bytes);
    expect(text.split("\n").filter(Boolean).map((line) => JSON.parse(line).requestId)).toEqual(Array.from({ length: 2_000 }, (_, i) => `req_${i}`));
    // About 460 KB: at 4 KiB batches that was over a hundred writes through libuv's thread pool.
    expect(writes.length).toBeLessThanOrEqual(Math.ceil(bytes / (32 * 1024)) + 1);
    for (const end of writeEnds(writes)) expect(text[end - 1]).toBe("\n");
  });

  it("writes a stdout it shares with other processes at most PIPE_BUF at a time, each write whole lines", async () => {
    const { writes, text, bytes } = await writeThrough(true, 2_000);
    expect(text.length).toBe(bytes);
    expect(text.split("\n").filter(Boolean)).toHaveLength(2_000);
    expect(Math.max(...writes)).toBeLessThanOrEqual(PIPE_ATOMIC_BYTES);
    // Still batched: most writes fill most of what a pipe takes whole.
    expect(writes.length).toBeLessThanOrEqual(Math.ceil(bytes / (PIPE_ATOMIC_BYTES - 512)) + 1);
    for (const end of writeEnds(writes)) expect(text[end - 1]).toBe("\n");
  });
});
