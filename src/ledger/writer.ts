import { randomBytes } from "node:crypto";
import { appendFileSync, mkdirSync } from "node:fs";
import { appendFile, mkdir, readdir, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { errorCode } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { insertSerializedLedgerRows, serializeLedgerRow, type LedgerRecord, type LedgerStore } from "../store/queries/ledger.js";

export interface LedgerWriterOptions {
  store: LedgerStore;
  logger: Logger;
  batchSize: number;
  flushIntervalMs: number;
  /** Rows kept in memory while the store fails; past this they go to the spool file. */
  maxBuffer: number;
  /** A JSON-lines file that holds rows the store could not take. Without it, overflow is dropped and logged. */
  spoolPath?: string;
  /**
   * A JSON-lines file for rows the store refuses for their values (see `insert`), kept for the operator.
   * Without it, such a row is logged whole.
   */
  refusedPath?: string;
}

/** A batch that stopped part-way because the store failed: the rows not yet written, and why. */
class Interrupted extends Error {
  constructor(
    readonly unwritten: string[],
    override readonly cause: unknown,
  ) {
    super("ledger batch interrupted");
  }
}

/**
 * Writers that have not closed. A process that ends without closing them (a script that makes its
 * calls and stops, an embedding application that never called `close()`) would lose the rows they
 * hold, and the calls would go unbilled. When the event loop runs dry (`beforeExit`, which a script
 * reaches once its work is done, the store's idle connections holding nothing open), each writes its
 * rows to the store; its write keeps the process alive until it lands, and the loop runs dry again with
 * nothing left. A process that exits at once (`process.exit()`, an uncaught exception) skips that:
 * its `exit` listener spools the rows, for the next start to write.
 */
const UNCLOSED = new Set<LedgerWriter>();
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on("beforeExit", () => UNCLOSED.forEach((writer) => writer.flushBeforeExit()));
  process.on("exit", () => UNCLOSED.forEach((writer) => writer.spoolAtExit()));
}

/**
 * Batches ledger rows so that no request waits on the database: `record` is a push onto an array,
 * and a timer (or a full batch) writes them in one statement. Rows the store refuses stay queued,
 * and past the memory bound they spool to disk, so an outage loses nothing.
 */
export class LedgerWriter {
  /** Rows serialized as they arrive (see serializeLedgerRow); the spool file holds the same lines. */
  private buffer: string[] = [];
  /** The batch the store is being sent: not confirmed yet, so an exit spools it too (ids already written are skipped). */
  private writing: string[] = [];
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private failing = false;
  /** A write at `beforeExit` failed: the next one would fail too, and keep a process with nothing else to do from ending. */
  private exitWriteFailed = false;
  /** Rows accepted by `record` so far. */
  recorded = 0;
  /** Rows the store has confirmed. */
  written = 0;
  /** Rows the store refused for their values, set aside. */
  refused = 0;

  constructor(private readonly options: LedgerWriterOptions) {}

  async start(): Promise<void> {
    if (!this.closed) {
      UNCLOSED.add(this);
      hookExit();
    }
    await this.recoverSpool();
  }

  record(row: LedgerRecord): void {
    if (this.closed) return this.recordAfterClose(serializeLedgerRow(row));
    this.buffer.push(serializeLedgerRow(row));
    this.recorded++;
    if (this.buffer.length >= this.options.batchSize && !this.flushing) void this.flush();
    else this.arm();
  }

  /**
   * The flush timer runs only while rows wait: an idle gateway is not woken ten times a second to
   * find nothing to write. A row waits at most `flushIntervalMs`, as with a fixed interval.
   */
  private arm(): void {
    if (this.timer !== undefined || this.closed) return;
    // Rows that arrive during the flush arm the timer again in record(); a failed write does in writeBatch().
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.options.flushIntervalMs);
    this.timer.unref();
  }

  get pending(): number {
    return this.buffer.length;
  }

  /** True while the last write failed: readiness reports it. */
  get healthy(): boolean {
    return !this.failing;
  }

  /** Writes everything queued now. Concurrent callers share one write. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.buffer.length ? this.flush() : undefined));
    if (this.buffer.length === 0) return Promise.resolve();
    this.flushing = this.writeBatch().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async writeBatch(): Promise<void> {
    const rows = this.buffer;
    this.buffer = [];
    this.writing = rows;
    try {
      await this.insert(rows);
      if (this.failing) this.options.logger.info({ rows: rows.length }, "ledger store reachable again");
      this.failing = false;
    } catch (failure) {
      const unwritten = failure instanceof Interrupted ? failure.unwritten : rows;
      const err = failure instanceof Interrupted ? failure.cause : failure;
      if (!this.failing) this.options.logger.error({ err: errorSummary(err), rows: unwritten.length }, "ledger write failed; rows kept for retry");
      this.failing = true;
      this.buffer = unwritten.concat(this.buffer);
      if (this.buffer.length > this.options.maxBuffer) await this.spoolOverflow();
      this.arm(); // retry after the interval
    } finally {
      this.writing = [];
    }
  }

  /**
   * Writes a batch. When the store refuses the batch for a value in it (SQLSTATE class 22, a data
   * exception: a cost past the column's range, a text with a NUL), retrying it can never succeed, and
   * every row behind it would wait forever. The batch is then written a row at a time, and the rows the
   * store refuses are set aside (`refusedPath`, and an error log), so that one bad row never holds up
   * the ledger. Any other failure (the store is down) interrupts the batch, to be retried.
   */
  private async insert(rows: string[]): Promise<void> {
    try {
      await insertSerializedLedgerRows(this.options.store, rows);
      this.written += rows.length;
      return;
    } catch (err) {
      if (!refusesValues(err)) throw err;
    }
    for (let i = 0; i < rows.length; i++) {
      try {
        await insertSerializedLedgerRows(this.options.store, [rows[i]!]);
        this.written++;
      } catch (err) {
        if (!refusesValues(err)) throw new Interrupted(rows.slice(i), err);
        await this.setAside(rows[i]!, err);
      }
    }
  }

  private async setAside(row: string, err: unknown): Promise<void> {
    this.refused++;
    const id = (JSON.parse(row) as { id?: unknown }).id;
    const refusedPath = this.options.refusedPath;
    if (refusedPath) {
      await mkdir(dirname(refusedPath), { recursive: true });
      await appendFile(refusedPath, row + "\n");
      this.options.logger.error({ id, err: errorSummary(err), refusedPath }, "ledger row refused by the store for its values; set aside");
    } else {
      this.options.logger.error({ id, err: errorSummary(err), row }, "ledger row refused by the store for its values; logged here, not stored");
    }
  }

  private async spoolOverflow(): Promise<void> {
    await this.spool(this.buffer.splice(0, this.buffer.length - this.options.maxBuffer), "ledger buffer full while the store fails");
  }

  /**
   * Appends rows to the spool file, which the next start writes first. Without a spool file, or when it
   * cannot be written, the rows are lost: the error log says how many, and why they were not stored.
   */
  private async spool(rows: string[], why: string): Promise<void> {
    const { spoolPath, logger } = this.options;
    if (!spoolPath) {
      logger.error({ dropped: rows.length }, `${why}; no spool file is configured, so the rows are dropped`);
      return;
    }
    try {
      // The data directory may not exist yet: on PostgreSQL nothing else writes there, and it is needed only now.
      await mkdir(dirname(spoolPath), { recursive: true });
      await appendFile(spoolPath, rows.join("\n") + "\n");
    } catch (err) {
      logger.error({ err: errorSummary(err), dropped: rows.length, spoolPath }, `${why}; the spool file could not be written, so the rows are dropped`);
      return;
    }
    logger.warn({ spooled: rows.length, spoolPath }, `${why}; rows spooled to disk for the next start`);
  }

  /**
   * Rows spooled by an earlier run (or an outage) are written first. The spool is claimed under a name of
   * this start's own, and every claim found is written: a start that failed part-way (the store went
   * away, the process was killed) leaves its claim for the next start, of this instance or of another
   * sharing the directory, and a later claim never replaces it. Rows already written are skipped by id.
   */
  private async recoverSpool(): Promise<void> {
    const spoolPath = this.options.spoolPath;
    if (!spoolPath) return;
    const prefix = `${basename(spoolPath)}.recovering`;
    await rename(spoolPath, `${spoolPath}.recovering-${process.pid}-${randomBytes(4).toString("hex")}`).catch(() => undefined);
    const dir = dirname(spoolPath);
    const claims = (await readdir(dir).catch(() => [])).filter((name) => name.startsWith(prefix));
    for (const claim of claims) await this.recoverClaim(join(dir, claim));
  }

  private async recoverClaim(claimed: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(claimed, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return; // another instance wrote it meanwhile
      throw err;
    }
    // A line torn by a crash mid-append cannot be read; the rest still can.
    const lines = text.split("\n").filter(Boolean);
    const rows = lines.filter(isJson);
    try {
      await this.insert(rows);
    } catch (err) {
      throw err instanceof Interrupted ? err.cause : err;
    }
    if (rows.length < lines.length) this.options.logger.error({ unreadable: lines.length - rows.length }, "ledger spool held unreadable lines; they were skipped");
    await rm(claimed, { force: true });
    this.options.logger.info({ rows: rows.length }, "ledger rows recovered from spool");
  }

  /**
   * A call that settled after the ledger closed (its owner closed while it ran): its row goes to the
   * spool, which the next start writes, rather than into a buffer nothing will flush.
   */
  private recordAfterClose(line: string): void {
    this.recorded++;
    void this.spool([line], "ledger row recorded after the ledger closed");
  }

  /**
   * The event loop ran dry with rows waiting (the flush timer does not hold the process open): they are
   * written now. Once: when the store fails, the rows are left to `spoolAtExit`.
   */
  flushBeforeExit(): void {
    if (this.closed || this.exitWriteFailed || this.buffer.length === 0) return;
    void this.flush().then(() => {
      if (this.failing) this.exitWriteFailed = true;
    });
  }

  /**
   * The process is exiting with rows not written: they are appended to the spool file at once (only
   * synchronous work can run now), for the next start to write.
   */
  spoolAtExit(): void {
    const rows = this.writing.concat(this.buffer);
    const spoolPath = this.options.spoolPath;
    if (rows.length === 0 || !spoolPath) return;
    this.writing = [];
    this.buffer = [];
    try {
      mkdirSync(dirname(spoolPath), { recursive: true });
      appendFileSync(spoolPath, rows.join("\n") + "\n");
      this.options.logger.warn({ spooled: rows.length, spoolPath }, "process exiting with ledger rows not written (close() was not called); rows spooled to disk for the next start");
    } catch (err) {
      this.options.logger.error({ err: errorSummary(err), dropped: rows.length, spoolPath }, "process exiting with ledger rows not written; the spool file could not be written, so the rows are dropped");
    }
  }

  /** Stops the timer and writes everything, retrying briefly; what still cannot be written is spooled. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (let tries = 0; tries < 5 && (this.buffer.length > 0 || this.flushing); tries++) {
      await this.flush();
      if (this.buffer.length > 0) await new Promise((r) => setTimeout(r, 100 * (tries + 1)));
    }
    if (this.buffer.length > 0) {
      const rows = this.buffer;
      this.buffer = [];
      await this.spool(rows, "ledger store unreachable at shutdown");
    }
    UNCLOSED.delete(this);
  }
}

function isJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

/** SQLSTATE class 22, data exception, on the error or a cause it wraps (drizzle wraps the driver's). */
function refusesValues(err: unknown): boolean {
  return errorCode(err)?.startsWith("22") === true;
}

function errorSummary(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
