/**
 * What a cancellation listens to: an `AbortSignal` (a library caller's own) or another Cancellation.
 * `AbortSignal` satisfies it as it is.
 */
export interface AbortSource {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/**
 * A cancellation with an optional parent and an optional deadline. It aborts with the parent's reason
 * when the parent aborts, with a `TimeoutError` when the deadline passes, or when `abort()` is called.
 * `dispose()` clears the timer, the parent listener and its own listeners, so nothing outlives the work.
 *
 * Why not one `AbortController` per layer (client, call, attempt): in Node 20 every `AbortSignal`
 * that is created survives the young-generation collections, however briefly it lives, so each one
 * is promoted and left for a full collection. Profiling the gateway showed three signals per call as
 * the largest source of old-generation garbage, and with it of memory and GC time. A Cancellation is
 * a plain object; it makes a real `AbortSignal` only when something asks for `signal`. It is also a
 * provider call's options as it is (`CallOptions`: `signal`, and `cancellation`, itself), and
 * Airlock's own HTTP client hands it to undici (which takes any object that fires "abort" listeners),
 * so with the built-in adapters a call makes no AbortSignal at all.
 * `AbortSignal.any` and `AbortSignal.timeout` are avoided for the same reason, and for the weak
 * references and finalizers they are built from.
 */
export class Cancellation implements AbortSource {
  private abortedYet = false;
  private abortReason: unknown = undefined;
  private listeners: Array<() => void> = [];
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Set while a stream's consumer has its event (`hold`): its deadline, the upstream's silence, does not run out then. */
  private holding = false;
  private readonly onParentAbort: (() => void) | undefined;

  constructor(
    private readonly parent?: AbortSource,
    timeoutMs?: number,
  ) {
    if (parent?.aborted) {
      this.abortedYet = true;
      this.abortReason = parent.reason;
      return;
    }
    if (parent) {
      this.onParentAbort = () => this.abort(parent.reason);
      parent.addEventListener("abort", this.onParentAbort, { once: true });
    }
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
      this.timer = setTimeout(() => {
        if (!this.holding) this.abort(timeoutError()); // held: `resume` re-arms it
      }, timeoutMs);
      // Like AbortSignal.timeout: a pending deadline alone must not keep a process alive.
      this.timer.unref();
    }
  }

  get aborted(): boolean {
    return this.abortedYet;
  }

  get reason(): unknown {
    return this.abortReason;
  }

  /** A real AbortSignal that follows this cancellation, made on first use. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortedYet) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** Itself: with `signal`, this makes a Cancellation a provider call's `CallOptions`, with nothing to allocate. */
  get cancellation(): this {
    return this;
  }

  abort(reason: unknown): void {
    if (this.abortedYet) return;
    this.detach();
    this.abortedYet = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener();
  }

  /**
   * The upstream was heard from (`CallOptions.heard`): a deadline still running, an attempt's until its
   * stream's first event, starts over. One that has passed or was cleared stays so.
   */
  heard(): void {
    this.timer?.refresh();
  }

  /**
   * A stream's event is with its consumer (a client slow to read, a library caller thinking): that time
   * is not the upstream's silence, so the deadline does not run out until `resume`.
   */
  hold(): void {
    this.holding = true;
  }

  /** The consumer asked for the next event: the wait is on the upstream again, and its deadline starts over. */
  resume(): void {
    this.holding = false;
    this.timer?.refresh();
  }

  /** Stops following the deadline; the parent still applies. */
  clearDeadline(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  addEventListener(_type: "abort", listener: () => void): void {
    if (!this.abortedYet) this.listeners.push(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    const at = this.listeners.indexOf(listener);
    if (at >= 0) this.listeners.splice(at, 1);
  }

  /**
   * The work is over: stops following the parent and the deadline, and lets go of its listeners, so
   * that nothing outlives the work and a later `abort()` tells nobody.
   *
   * Why the listeners are let go of one by one, in place: V8 makes the objects of an allocation site
   * in the old generation once most of them have survived collections (allocation-site pretenuring),
   * and the arrays of this class share one site. In an old array, a listener left behind (an attempt
   * still tied to its call) keeps whatever it reaches alive until the next full collection, and so
   * promoted about 0.4 KB of every call (docs/performance-findings.md#pretenured-listener-arrays).
   * Setting `length = 0` could swap the array's storage and leave the old storage holding them.
   */
  dispose(): void {
    this.detach();
    const listeners = this.listeners;
    while (listeners.length > 0) listeners.pop();
  }

  private detach(): void {
    this.clearDeadline();
    if (this.onParentAbort !== undefined) this.parent?.removeEventListener("abort", this.onParentAbort);
  }
}

/** The same reason `AbortSignal.timeout` gives, so every caller tells a deadline from a disconnect alike. */
export function timeoutError(): DOMException {
  return new DOMException("The operation was aborted due to timeout", "TimeoutError");
}
