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
  // Asynchronous writes: a request never waits on stdout. pino flushes what is buffered at exit.
  const destination = options.destination ? (options.destination as pino.DestinationStream) : pino.destination({ dest: 1, sync: false });
  return pino(opts, destination);
}

export const silentLogger: Logger = pino({ level: "silent" });
