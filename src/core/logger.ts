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
export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
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
  // Asynchronous, buffered writes: a request never waits on stdout, and lines leave in 4 KiB batches
  // (one write per batch, not one per request). A timer sends a partial batch within a second, and
  // pino flushes what is left at exit. Each timed flush wakes the process twice (the timer, then the
  // write's completion from libuv's thread pool): at 200 ms that was ten wake-ups a second at low
  // rates, about 1 ms of CPU (docs/performance-findings.md#wake-ups-at-low-rates).
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096, contentMode: "buffer" });
  opts.hooks = { streamWrite: flushPeriodically(destination, 1_000) };
  return markDefaultFormat(pino(opts, asBytes(destination)));
}

/**
 * pino hands its destination strings. In its default (utf8) mode sonic-boom measures the whole pending
 * batch again on every line (`Buffer.byteLength` of a string that grows by concatenation, which V8
 * flattens by copying it): at 4 KiB batches that was about 1 µs and 2 KB of garbage per line. In buffer
 * mode it keeps each batch's byte count as it goes, so each line is turned into bytes once, here
 * (0.4 µs a line, the batched write to stdout included). pino registers its flush at exit on the
 * destination itself, and this wrapper holds nothing of its own, so no line is left behind.
 */
function asBytes(destination: ReturnType<typeof pino.destination>): pino.DestinationStream & { flush(cb?: (err?: Error) => void): void } {
  return {
    // Looked up on every call: pino replaces a destination's write with a no-op once stdout is gone (EPIPE).
    write: (line: string) => (destination.write as unknown as (bytes: Buffer) => boolean)(Buffer.from(line)),
    flush: (cb) => destination.flush(cb),
  };
}

function markDefaultFormat(logger: Logger): Logger {
  Object.defineProperty(logger, DEFAULT_LINE_FORMAT, { value: true });
  return logger;
}

/**
 * Flushes `destination` within `intervalMs` of a line being written, and returns pino's `streamWrite`
 * hook that arms it. The timer runs only while lines wait: a flush of nothing is still a write on
 * libuv's thread pool, and even a timer that finds nothing to do wakes the process. On a virtual
 * machine each wake-up of an idle gateway costs it 0.1–0.4 ms of CPU
 * (docs/performance-findings.md#wake-ups-at-low-rates), so a standing five-a-second timer was about
 * 1 ms of CPU a second spent doing nothing.
 */
export function flushPeriodically(destination: { flush(): void }, intervalMs: number): (line: string) => string {
  let armed = false;
  const flush = () => {
    armed = false;
    try {
      destination.flush();
    } catch {
      // destroyed at exit: nothing left to send
    }
  };
  return (line) => {
    if (!armed) {
      armed = true;
      setTimeout(flush, intervalMs).unref();
    }
    return line;
  };
}

/**
 * A child for lines whose every field Airlock itself chose (the access log): redaction copies each
 * logged object to censor it, which doubled the cost of a line, and these hold nothing to censor.
 */
export function unredactedChild(logger: Logger): Logger {
  return logger.child({}, { redact: { paths: [] } });
}

export const silentLogger: Logger = pino({ level: "silent" });
