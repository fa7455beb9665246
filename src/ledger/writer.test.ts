import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it, vi } from "vitest";
import { freshStore, STORE_KINDS, type TestStore } from "../../test/support/stores.js";
import { createLogger, silentLogger } from "../core/logger.js";
import { countLedgerRows, recentLedgerRows, serializeLedgerRow } from "../store/queries/ledger.js";
import type { NewLedgerRow } from "../store/schema/ledger.js";
import { LedgerWriter } from "./writer.js";

let seq = 0;
const row = (): NewLedgerRow => ({ id: `call_${++seq}_${Math.random()}`, ts: new Date(), requestId: "r", endpoint: "chat", cost: "0.5", latencyMs: 1, outcome: "success", httpStatus: 200 });

describe.each(STORE_KINDS)("LedgerWriter on %s", (kind) => {
  const stores: TestStore[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.cleanup().catch(() => undefined);
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  async function store(): Promise<TestStore> {
    const s = await freshStore(kind);
    stores.push(s);
    return s;
  }

  it("writes in batches without the caller waiting, and flushes the rest on close", async () => {
    const s = await store();
    const writer = new LedgerWriter({ store: s.database, logger: silentLogger, batchSize: 100, flushIntervalMs: 60_000, maxBuffer: 10_000 });
    await writer.start();
    for (let i = 0; i < 250; i++) writer.record(row());
    expect(writer.recorded).toBe(250);
    await writer.close();
    expect(await countLedgerRows(s.database.db)).toBe(250);
    expect(writer.written).toBe(250);
  });

  it("writes a partial batch within the flush interval, and again for rows that come later", async () => {
    const s = await store();
    const writer = new LedgerWriter({ store: s.database, logger: silentLogger, batchSize: 1_000, flushIntervalMs: 20, maxBuffer: 10_000 });
    await writer.start();
    const rowsInStore = async (want: number) => vi.waitFor(async () => expect(await countLedgerRows(s.database.db)).toBe(want), { timeout: 5_000, interval: 20 });
    for (let i = 0; i < 3; i++) writer.record(row());
    await rowsInStore(3);
    expect(writer.pending).toBe(0);
    writer.record(row());
    await rowsInStore(4);
    await writer.close();
  });

  it("keeps rows through a store outage, spools them at shutdown, and recovers them on the next start", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "airlock-spool-"));
    dirs.push(dir);
    const spoolPath = path.join(dir, "ledger-spool.jsonl");
    const down = await store();
    const writer = new LedgerWriter({ store: down.database, logger: silentLogger, batchSize: 1_000, flushIntervalMs: 60_000, maxBuffer: 10_000, spoolPath });
    await writer.start();
    await down.database.close(); // the outage
    for (let i = 0; i < 40; i++) writer.record(row());
    await writer.flush();
    expect(writer.healthy).toBe(false);
    expect(writer.pending).toBe(40);
    await writer.close();
    expect((await readFile(spoolPath, "utf8")).trim().split("\n")).toHaveLength(40);

    const up = await store();
    const next = new LedgerWriter({ store: up.database, logger: silentLogger, batchSize: 1_000, flushIntervalMs: 60_000, maxBuffer: 10_000, spoolPath });
    await next.start();
    expect(await countLedgerRows(up.database.db)).toBe(40);
    await next.close();
  });

  it("says how many rows it lost when the store is down at shutdown and they cannot be spooled", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "airlock-spool-"));
    dirs.push(dir);
    // A data directory that cannot be made: its parent is a file.
    await writeFile(path.join(dir, "a-file"), "");
    for (const spoolPath of [undefined, path.join(dir, "a-file", "data", "ledger-spool.jsonl")]) {
      let logged = "";
      const logger = createLogger({ destination: new Writable({ write: (chunk, _encoding, done) => void ((logged += String(chunk)), done()) }) });
      const down = await store();
      const writer = new LedgerWriter({ store: down.database, logger, batchSize: 1_000, flushIntervalMs: 60_000, maxBuffer: 10_000, spoolPath });
      await writer.start();
      await down.database.close();
      for (let i = 0; i < 7; i++) writer.record(row());
      await writer.close();
      const lost = logged.split("\n").filter(Boolean).map((line) => JSON.parse(line) as { level: number; msg: string; dropped?: number }).filter((line) => line.dropped !== undefined);
      expect(lost, String(spoolPath)).toEqual([expect.objectContaining({ level: 50, dropped: 7, msg: expect.stringMatching(/^ledger store unreachable at shutdown; .*the rows are dropped$/) })]);
    }
  });

  it("makes the data directory its spool file lives in, when nothing made it before the outage", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "airlock-spool-"));
    dirs.push(dir);
    // On PostgreSQL nothing else writes to the data directory, so it may not exist when the store goes down.
    const spoolPath = path.join(dir, "never-made", ".airlock", "ledger-spool.jsonl");
    const down = await store();
    const writer = new LedgerWriter({ store: down.database, logger: silentLogger, batchSize: 1_000, flushIntervalMs: 60_000, maxBuffer: 10_000, spoolPath });
    await writer.start();
    await down.database.close();
    for (let i = 0; i < 6; i++) writer.record(row());
    await writer.close();
    expect((await readFile(spoolPath, "utf8")).trim().split("\n")).toHaveLength(6);
  });

  it("spools a row recorded after it closed, and the next start writes it", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "airlock-spool-"));
    dirs.push(dir);
    const spoolPath = path.join(dir, "ledger-spool.jsonl");
    const s = await store();
    const writer = new LedgerWriter({ store: s.database, logger: silentLogger, batchSize: 1_000, flushIntervalMs: 60_000, maxBuffer: 10_000, spoolPath });
    await writer.start();
    writer.record(row());
    await writer.close();
    const late = { ...row(), inputTokens: 33 };
    writer.record(late); // a call that settled after its owner closed the ledger
    await vi.waitFor(async () => expect((await readFile(spoolPath, "utf8")).trim().split("\n")).toHaveLength(1));
    expect(await countLedgerRows(s.database.db)).toBe(1);

    const next = new LedgerWriter({ store: s.database, logger: silentLogger, batchSize: 1_000, flushIntervalMs: 60_000, maxBuffer: 10_000, spoolPath });
    await next.start();
    expect((await recentLedgerRows(s.database.db, 10)).find((r) => r.id === late.id)).toMatchObject({ inputTokens: 33 });
    await next.close();
  });

  it("a start whose spool recovery failed loses nothing: the next start writes those rows, and rows spooled since", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "airlock-spool-"));
    dirs.push(dir);
    const spoolPath = path.join(dir, "ledger-spool.jsonl");
    const earlier = [row(), row(), row()];
    await writeFile(spoolPath, earlier.map(serializeLedgerRow).join("\n") + "\n");
    // The store goes away while a start writes the spool: that start fails.
    const down = await store();
    await down.database.close();
    const failed = new LedgerWriter({ store: down.database, logger: silentLogger, batchSize: 1_000, flushIntervalMs: 60_000, maxBuffer: 10_000, spoolPath });
    await expect(failed.start()).rejects.toThrow();
    // Meanwhile another instance sharing the directory spooled rows of its own.
    const later = row();
    await writeFile(spoolPath, serializeLedgerRow(later) + "\n");

    const s = await store();
    const next = new LedgerWriter({ store: s.database, logger: silentLogger, batchSize: 1_000, flushIntervalMs: 60_000, maxBuffer: 10_000, spoolPath });
    await next.start();
    const ids = (await recentLedgerRows(s.database.db, 10)).map((r) => r.id).sort();
    expect(ids).toEqual([...earlier, later].map((r) => r.id).sort());
    expect(await readdir(dir)).toEqual([]);
    await next.close();
  });

  it("recovers a spool file whose last line a crash tore, keeping every whole line", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "airlock-spool-"));
    dirs.push(dir);
    const spoolPath = path.join(dir, "ledger-spool.jsonl");
    const first = { ...row(), inputTokens: 12 };
    const second = { ...row(), inputTokens: 7 };
    const torn = serializeLedgerRow(row()).slice(0, 40);
    await writeFile(spoolPath, `${serializeLedgerRow(first)}\n${serializeLedgerRow(second)}\n${torn}`);
    const s = await store();
    const writer = new LedgerWriter({ store: s.database, logger: silentLogger, batchSize: 1_000, flushIntervalMs: 60_000, maxBuffer: 10_000, spoolPath });
    await writer.start();
    const rows = await recentLedgerRows(s.database.db, 10);
    expect(rows.map((r) => r.inputTokens).sort((a, b) => a - b)).toEqual([7, 12]);
    const stored = rows.find((r) => r.id === first.id);
    expect(stored?.ts.getTime()).toBe(first.ts.getTime());
    // Values the row left out take the columns' defaults.
    expect(stored).toMatchObject({ stream: false, outputTokens: 0, attemptCount: 0, attempts: [], priceMissing: false, traceId: null });
    await writer.close();
  });
});

describe.each(STORE_KINDS)("LedgerWriter on %s, with rows the store refuses for their values", (kind) => {
  let s: TestStore | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await s?.cleanup().catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("sets the refused rows aside and writes the rest, so one bad row never holds up the ledger", async () => {
    s = await freshStore(kind);
    dir = await mkdtemp(path.join(tmpdir(), "airlock-refused-"));
    const refusedPath = path.join(dir, "ledger-refused.jsonl");
    const writer = new LedgerWriter({ store: s.database, logger: silentLogger, batchSize: 1_000, flushIntervalMs: 60_000, maxBuffer: 10_000, spoolPath: path.join(dir, "spool.jsonl"), refusedPath });
    await writer.start();
    // Past numeric(24, 12): an upstream that reports absurd usage can price a call so.
    const tooCostly = { ...row(), cost: "2000000000000" };
    // PostgreSQL text cannot hold NUL.
    const withNul = { ...row(), requestId: "r\u0000" };
    const good = [row(), row(), row()];
    for (const r of [good[0]!, tooCostly, good[1]!, withNul, good[2]!]) writer.record(r);
    await writer.flush();
    expect(writer.healthy).toBe(true);
    expect(writer.pending).toBe(0);
    expect({ written: writer.written, refused: writer.refused }).toEqual({ written: 3, refused: 2 });
    const stored = await recentLedgerRows(s.database.db, 10);
    expect(stored.map((r) => r.id).sort()).toEqual(good.map((r) => r.id).sort());
    const setAside = (await readFile(refusedPath, "utf8")).trim().split("\n").map((line) => JSON.parse(line) as { id: string });
    expect(setAside.map((r) => r.id)).toEqual([tooCostly.id, withNul.id]);

    // The ledger keeps flowing afterwards.
    const later = row();
    writer.record(later);
    await writer.flush();
    expect(await countLedgerRows(s.database.db)).toBe(4);
    await writer.close();
  });
});
