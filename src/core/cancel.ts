/**
 * A child of an abort signal with its own deadline. It aborts with the parent's reason when the
 * parent aborts, or with a `TimeoutError` when the deadline passes. `dispose()` clears the timer and
 * the listener, so nothing outlives the work.
 *
 * Why not `AbortSignal.any([parent, AbortSignal.timeout(ms)])`: Node builds those from weak
 * references and finalizers, and profiling the gateway showed them (with the garbage they leave) as
 * one of the largest costs per call. This is one controller, one timer and one listener.
 */
export class Cancellation {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly onParentAbort: (() => void) | undefined;

  constructor(
    private readonly parent: AbortSignal | undefined,
    timeoutMs: number | undefined,
  ) {
    this.signal = this.controller.signal;
    if (parent?.aborted) {
      this.controller.abort(parent.reason);
      return;
    }
    if (parent) {
      this.onParentAbort = () => this.abort(parent.reason);
      parent.addEventListener("abort", this.onParentAbort, { once: true });
    }
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
      this.timer = setTimeout(() => this.abort(timeoutError()), timeoutMs);
      // Like AbortSignal.timeout: a pending deadline alone must not keep a process alive.
      this.timer.unref();
    }
  }

  private abort(reason: unknown): void {
    this.dispose();
    this.controller.abort(reason);
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.onParentAbort !== undefined) this.parent?.removeEventListener("abort", this.onParentAbort);
  }
}

/** The same reason `AbortSignal.timeout` gives, so every caller tells a deadline from a disconnect alike. */
export function timeoutError(): DOMException {
  return new DOMException("The operation was aborted due to timeout", "TimeoutError");
}
