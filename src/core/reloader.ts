/**
 * Runs a read-everything-again function so that reads never overlap (an older read can never land
 * after a newer one) and no request is lost: a reload asked for while one runs waits for it and then
 * reads once more, since the running read may have missed the change that prompted the call. Callers
 * asking meanwhile share that next read.
 */
export class Reloader {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly read: () => Promise<void>) {}

  reload(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.running) {
      this.running = this.read().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    this.queued = this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.reload();
      });
    return this.queued;
  }

  /** A read unless one is running or queued, which answers instead: for a periodic tick, to which any read in flight is as good. */
  tick(): Promise<void> {
    return this.queued ?? this.running ?? this.reload();
  }

  /** Settles once the reads running or queued now have ended. */
  settled(): Promise<void> {
    return (this.queued ?? this.running ?? Promise.resolve()).catch(() => undefined);
  }
}
