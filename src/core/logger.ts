import { pino, type Logger, type LoggerOptions } from "pino";

export type { Logger };

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
  if (options.destination) return pino(opts, options.destination as pino.DestinationStream);
  // Asynchronous, buffered writes: a request never waits on stdout, and lines leave in 4 KiB batches
  // (one write per batch, not one per request). A timer sends a partial batch within 200 ms, and
  // pino flushes what is left at exit.
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  opts.hooks = { streamWrite: flushPeriodically(destination, 200) };
  return pino(opts, destination);
}

/**
 * Flushes `destination` every `intervalMs`, once something was written since the last flush, and
 * returns pino's `streamWrite` hook that tells it so. A flush of nothing is still a write on libuv's
 * thread pool: flushing blindly woke an idle gateway five times a second.
 */
export function flushPeriodically(destination: { flush(): void }, intervalMs: number): (line: string) => string {
  let written = false;
  const timer = setInterval(() => {
    if (!written) return;
    written = false;
    try {
      destination.flush();
    } catch {
      clearInterval(timer); // destroyed at exit: nothing left to send
    }
  }, intervalMs);
  timer.unref();
  return (line) => {
    written = true;
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
