import { withDeadline } from "./deadline.js";

/** What the queue's promise holds for a piece of work skipped because its caller had already given up. */
const SKIPPED = Symbol("skipped");

/** Runs work one piece at a time, in the order asked; a piece that fails does not stop the ones after it. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work, work);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /**
   * Runs `work` in turn for a caller that waits at most `ms` from now, its wait for its turn included,
   * and then rejects with the deadline's error. The queue does not skip ahead when a caller gives up:
   * the piece running finishes before the next starts, so a store that holds a statement holds one
   * connection per queue, not one per caller. A piece whose caller gave up before its turn is not run;
   * one already running reads `gaveUp()` to take nothing, and whatever it still returns once its caller
   * has gone is handed to `giveBack`, so nothing taken for a caller that left is lost.
   */
  runWithin<T>(ms: number, work: (gaveUp: () => boolean) => Promise<T>, giveBack: (late: T) => void): Promise<T> {
    let abandoned = false;
    const gaveUp = () => abandoned;
    const turn = this.run((): Promise<T | typeof SKIPPED> => (abandoned ? Promise.resolve(SKIPPED) : work(gaveUp)));
    turn.then(
      (value) => {
        if (abandoned && value !== SKIPPED) giveBack(value);
      },
      () => undefined,
    );
    // Only a caller that gave up has its piece skipped, and it has its rejection already.
    return (withDeadline(turn, ms) as Promise<T>).catch((err: unknown) => {
      abandoned = true;
      throw err;
    });
  }
}
