import { Cancellation, type AbortSource } from "../core/cancel.js";
import { AirlockError } from "../core/errors.js";

/** How long calls still running when `close()` is called may finish, by default: the gateway's shutdown grace. */
export const DEFAULT_CLOSE_GRACE_MS = 10_000;
/** After the grace, how long the calls that were cut have to be recorded (a cut stream may first count its tokens). */
const SETTLE_AFTER_CUT_MS = 5_000;

/** A call after `close()`: nothing is left to serve it. */
export function closedError(): AirlockError {
  return new AirlockError("unavailable", "this Airlock instance is closed: create a new one to make calls", { retryable: false });
}

interface Running {
  readonly cancellation: Cancellation;
  /** Ends a stream that nobody reads any more, so that its row is recorded without its consumer. */
  stop?: () => void;
  ended: boolean;
  prev: Running | undefined;
  next: Running | undefined;
}

/**
 * The calls of one library instance, so that `close()` can let them finish before the ledger and the
 * store close under them, end those that outlive its grace, and refuse every call that comes after.
 * Without it, a call still running at `close()` settled on a closed ledger, and its row was lost.
 *
 * The running calls are a linked list and a count, not a Set: a long-lived Set that every call is
 * added to and deleted from keeps its outgrown tables, and the calls they held, alive into the old
 * generation (docs/performance-findings.md#requests-held-by-a-set).
 */
export class CallsInFlight {
  private head: Running | undefined;
  private count = 0;
  private closed = false;
  /** Told when the count falls to zero, while `close()` waits for it. */
  private idle: (() => void) | undefined;

  /** Throws `unavailable` once the instance is closing. */
  ensureOpen(): void {
    if (this.closed) throw closedError();
  }

  /**
   * Runs one call, whose cancellation follows the caller's signal and is cut when `close()`'s grace
   * runs out. Registered before `work` waits for anything (the store opening), so a call begun before
   * `close()` is waited for.
   */
  async track<T>(signal: AbortSource | undefined, work: (signal: AbortSource) => Promise<T>): Promise<T> {
    const running = this.begin(signal);
    try {
      return await work(running.cancellation);
    } finally {
      this.end(running);
    }
  }

  /**
   * Runs one stream the same way. A stream whose consumer went quiet without leaving is ended at
   * close, which records its row, even if this generator is never resumed.
   */
  async *trackStream<T>(signal: AbortSource | undefined, open: (signal: AbortSource) => Promise<AsyncIterable<T>>): AsyncGenerator<T> {
    const running = this.begin(signal);
    let parts: AsyncIterator<T> | undefined;
    try {
      parts = (await open(running.cancellation))[Symbol.asyncIterator]();
      const opened = parts;
      running.stop = () => void Promise.resolve(opened.return?.()).then(() => this.end(running), () => this.end(running));
      for (;;) {
        const next = await parts.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      // The consumer left early (`break`): the stream below ends and records its row before this call counts as done.
      await parts?.return?.();
      this.end(running);
    }
  }

  /**
   * Refuses new calls, waits up to `graceMs` for the running ones, then cuts those left with
   * `unavailable` (what the ledger records for them) and waits a little for their rows.
   */
  async close(graceMs: number): Promise<void> {
    this.closed = true;
    if (await this.settled(graceMs)) return;
    const cut = new AirlockError("unavailable", "this Airlock instance was closed before the call finished");
    for (let running = this.head; running !== undefined; ) {
      const next = running.next; // read first: a call that ends here leaves the list
      running.cancellation.abort(cut);
      running.stop?.();
      running = next;
    }
    await this.settled(SETTLE_AFTER_CUT_MS);
  }

  private begin(signal: AbortSource | undefined): Running {
    this.ensureOpen();
    const running: Running = { cancellation: new Cancellation(signal), ended: false, prev: undefined, next: this.head };
    if (this.head) this.head.prev = running;
    this.head = running;
    this.count++;
    return running;
  }

  /** Once per call, however many ways it ends (a stream stopped at close, then resumed by its consumer). */
  private end(running: Running): void {
    if (running.ended) return;
    running.ended = true;
    running.cancellation.dispose();
    if (running.prev) running.prev.next = running.next;
    else this.head = running.next;
    if (running.next) running.next.prev = running.prev;
    running.prev = running.next = undefined;
    if (--this.count === 0) this.idle?.();
  }

  /** True when every running call settled within `ms`. */
  private async settled(ms: number): Promise<boolean> {
    if (this.count === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<boolean>((resolve) => {
        this.idle = () => resolve(true);
        timer = setTimeout(() => resolve(false), ms);
      });
    } finally {
      this.idle = undefined;
      clearTimeout(timer);
    }
  }
}
