import { pino, type Logger, type LoggerOptions } from "pino";

export type { Logger };

/**
 * Marks a logger whose line format Airlock chose (pino's defaults: numeric level, epoch-ms time, `msg`),
 * so that a hand-built line (see access-log.ts) matches what pino itself would write. Children
 * inherit it: pino makes a child with `Object.create(parent)`.
 */
export const DEFAULT_LINE_FORMAT = Symbol("airlock.defaultLineFormat");

/**
 * Structured JSON logs. Redaction is a second line of defence: the code never logs prompts or keys,
 * and these paths catch the places where a header or body could slip into a log object by mistake.
 */
export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream; sharedStdout?: boolean } = {}): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? process.env.AIRLOCK_LOG_LEVEL ?? "info",
    base: { service: "airlock" },
    redact: {
      paths: [
        "req.headers.authorization",
        "headers.authorization",
        "authorization",
        "apiKey",
        "*.apiKey",
        "key",
        "messages",
        "*.messages",
        "prompt",
        "body",
      ],
      censor: "[redacted]",
    },
  };
  if (options.destination) return markDefaultFormat(pino(opts, options.destination as pino.DestinationStream));
  // Asynchronous, buffered writes: a request never waits on stdout. Lines leave in batches
  // (stdoutDestination), a partial batch within a second (flushedWithin), and what is left at exit.
  // A second, not less: each timed flush wakes the process twice (the timer, then the write's
  // completion from libuv's thread pool), about 1 ms of CPU a second at 200 ms
  // (docs/performance-findings.md#wake-ups-at-low-rates).
  const destination = stdoutDestination({ shared: options.sharedStdout === true });
  return markDefaultFormat(pino(opts, flushedWithin(destination, 1_000)));
}

/**
 * The most a pipe takes whole from one write (Linux's PIPE_BUF). A longer write to a full pipe is
 * split as the reader frees room, and another process's write can land between its parts.
 */
export const PIPE_ATOMIC_BYTES = 4096;

/**
 * stdout (or `dest`), buffered: whole lines, one write per batch. Each write goes through libuv's
 * thread pool, which wakes a thread of the pool and then the event loop for its completion; at 4 KiB
 * batches, a write every 16 calls, the dispatch alone was 0.8% of a loaded gateway's main thread
 * (docs/performance-findings.md#log-writes-through-the-thread-pool). A process that has stdout to
 * itself therefore writes 32 KiB at a time. Processes that share it (a cluster's primary and its
 * workers) write at most PIPE_ATOMIC_BYTES at a time, so that their lines never interleave mid-line
 * in a pipe that a slow reader let fill up.
 */
export function stdoutDestination(options: { shared: boolean; dest?: number | string }): BatchedDestination {
  const dest = options.dest ?? 1;
  const batch = options.shared ? { minLength: PIPE_ATOMIC_BYTES - 512, maxWrite: PIPE_ATOMIC_BYTES } : { minLength: 32 * 1024, maxWrite: 64 * 1024 };
  return pino.destination({ dest, sync: false, contentMode: "buffer", ...batch });
}

/**
 * pino's stream over a batched destination: each line turned into bytes once, and whatever waits sent
 * within `intervalMs`.
 *
 * Bytes: pino hands its destination strings. In its default (utf8) mode sonic-boom measures the whole
 * pending batch again on every line (`Buffer.byteLength` of a string that grows by concatenation, which
 * V8 flattens by copying it): at 4 KiB batches that was about 1 µs and 2 KB of garbage per line. In
 * buffer mode it keeps each batch's byte count as it goes, so each line is turned into bytes once, here
 * (0.4 µs a line, the batched write to stdout included). pino registers its flush at exit on the
 * destination itself, and this wrapper holds no line of its own, so none is left behind.
 *
 * The timer runs only while lines wait: a flush of nothing is still a write on libuv's thread pool, and
 * even a timer that finds nothing to do wakes the process. On a virtual machine each wake-up of an idle
 * gateway costs it 0.1–0.4 ms of CPU (docs/performance-findings.md#wake-ups-at-low-rates), so a standing
 * five-a-second timer was about 1 ms of CPU a second spent doing nothing. It is armed again when a write
 * ends with lines still waiting: sonic-boom writes on while a batch's worth waits and then stops with
 * the rest, and a flush that came while a write was out did nothing, so the rest of a burst (up to a
 * batch) waited for the next line, however long that took.
 */
export function flushedWithin(destination: BatchedDestination, intervalMs: number): pino.DestinationStream & { flush(cb?: (err?: Error) => void): void } {
  let armed = false;
  let handed = 0;
  let written = 0;
  const flush = () => {
    armed = false;
    try {
      destination.flush();
    } catch {
      // destroyed at exit: nothing left to send
    }
  };
  const arm = () => {
    if (armed) return;
    armed = true;
    setTimeout(flush, intervalMs).unref();
  };
  destination.on("write", (bytes: number) => {
    written += bytes;
    if (written < handed) arm();
  });
  return {
    write(line: string) {
      const bytes = Buffer.from(line);
      handed += bytes.length;
      arm();
      // Looked up on every call: pino replaces a destination's write with a no-op once stdout is gone (EPIPE).
      return (destination.write as unknown as (bytes: Buffer) => boolean)(bytes);
    },
    flush: (cb) => destination.flush(cb),
  };
}

type BatchedDestination = ReturnType<typeof pino.destination>;

function markDefaultFormat(logger: Logger): Logger {
  Object.defineProperty(logger, DEFAULT_LINE_FORMAT, { value: true });
  return logger;
}

/**
 * A child for lines whose every field Airlock itself chose (the access log): redaction copies each
 * logged object to censor it, which doubled the cost of a line, and these hold nothing to censor.
 */
export function unredactedChild(logger: Logger): Logger {
  return logger.child({}, { redact: { paths: [] } });
}

export const silentLogger: Logger = pino({ level: "silent" });
