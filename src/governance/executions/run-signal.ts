/** The longest delay one Node timer takes: a longer one fires at once (with a warning). */
const MAX_TIMER_MS = 2_147_483_647;

export type StopReason = "timebox" | "aborted";

export interface RunSignal {
  /** Given to the module as `context.signal`. */
  readonly signal: AbortSignal;
  /** Why the signal fired; undefined while it has not. */
  reason(): StopReason | undefined;
  /** Stops the timers: called when the module has answered. */
  dispose(): void;
}

/**
 * The signal a module runs under. It fires when the directive's timebox runs out, however long it is
 * (the API takes up to 2^31-1 seconds, so the wait is chained over several timers), or when an admin
 * aborts the directive. The abort may be made on any instance, so it is looked for every `checkMs`;
 * a look that fails is tried again at the next one.
 */
export function runSignal(timeboxSeconds: number | null, isAborted: () => Promise<boolean>, checkMs: number): RunSignal {
  const controller = new AbortController();
  let why: StopReason | undefined;
  let done = false;
  let timebox: NodeJS.Timeout | undefined;
  let check: NodeJS.Timeout | undefined;
  const dispose = () => {
    done = true;
    clearTimeout(timebox);
    clearTimeout(check);
  };
  const stop = (reason: StopReason) => {
    if (done) return;
    dispose();
    why = reason;
    controller.abort(new DOMException(reason === "timebox" ? "the directive's timebox ran out" : "the directive was aborted", reason === "timebox" ? "TimeoutError" : "AbortError"));
  };
  const wait = (leftMs: number) => {
    const step = Math.min(leftMs, MAX_TIMER_MS);
    timebox = setTimeout(() => (leftMs > step ? wait(leftMs - step) : stop("timebox")), step);
    timebox.unref();
  };
  const look = () => {
    if (done) return;
    check = setTimeout(() => {
      isAborted().then(
        (aborted) => (aborted ? stop("aborted") : look()),
        () => look(),
      );
    }, checkMs);
    check.unref();
  };
  if (timeboxSeconds) wait(timeboxSeconds * 1000);
  look();
  return { signal: controller.signal, reason: () => why, dispose };
}
