import type { AbortSource } from "../core/cancel.js";
import { ProviderError } from "./errors.js";
import type { CallOptions } from "./spec.js";

/** Marks an abort that our own per-attempt timer caused, as opposed to one the caller asked for. */
const TIMED_OUT = Symbol("airlock.attempt-timeout");

/**
 * The cancellation of one upstream attempt. The caller's signal means "deadline passed" or "client
 * went away", and the caller tells those apart by the abort reason, so that reason must come back
 * unchanged. The provider's `timeoutMs` is ours: it surfaces as a retryable ProviderError "timeout".
 * Without a timeout the caller's signal is used as is: no controller, no timer, no listener.
 */
export class Attempt {
  /** What to hand to whatever does the work: undici takes any object that fires "abort" listeners. */
  readonly signal: AbortSource;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly forwardAbort: (() => void) | undefined;
  private timedOut = false;
  /** A stream event is with the consumer: its think time is not upstream silence. */
  private holding = false;

  constructor(
    private readonly caller: AbortSource,
    private readonly provider: string,
    private readonly timeoutMs: number | undefined,
    /** A stream's caller, told of every sign of life (`CallOptions.heard`). */
    private readonly listener: Pick<CallOptions, "heard"> | undefined = undefined,
  ) {
    if (timeoutMs === undefined || caller.aborted) {
      this.signal = caller;
      return;
    }
    const controller = new AbortController();
    this.forwardAbort = () => controller.abort(caller.reason);
    caller.addEventListener("abort", this.forwardAbort, { once: true });
    this.timer = setTimeout(() => {
      if (this.holding) return; // resume() re-arms it; an abandoned stream is left no live timer
      this.timedOut = true;
      controller.abort(TIMED_OUT);
    }, timeoutMs);
    this.signal = controller.signal;
  }

  /** Streams: once the upstream has answered, the timeout measures silence, not total length. */
  touch(): void {
    this.timer?.refresh();
    this.listener?.heard?.();
  }

  /** Streams: an event is being handed to the consumer; a slow consumer must not time the upstream out. */
  hold(): void {
    this.holding = true;
  }

  /** Streams: the consumer asked for more, so waiting is on the upstream again. Re-arms a lapsed timer. */
  resume(): void {
    this.holding = false;
    this.timer?.refresh();
  }

  finish(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.forwardAbort !== undefined) this.caller.removeEventListener("abort", this.forwardAbort);
  }

  /** Throws if the attempt was cancelled, with the error the caller should see. */
  throwIfAborted(): void {
    if (this.signal.aborted) throw this.outcome(undefined);
  }

  /**
   * What the caller should see for `err`: the caller's own abort reason first (whatever else broke
   * after that is a consequence), then our timeout, then ProviderErrors as they are, then `describe`.
   */
  outcome(err: unknown, describe: (err: unknown) => unknown = passThrough): unknown {
    if (this.caller.aborted) return this.caller.reason;
    if (this.timedOut) {
      return new ProviderError(`${this.provider}: no answer within ${this.timeoutMs} ms`, {
        kind: "timeout",
        provider: this.provider,
      });
    }
    if (err instanceof ProviderError) return err;
    return describe(err);
  }
}

function passThrough(err: unknown): unknown {
  return err;
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function delay(ms: number, signal: AbortSource): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Never resolves; rejects with the signal's reason when it aborts. */
export function untilAborted(signal: AbortSource): Promise<never> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((_, reject) => {
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}
