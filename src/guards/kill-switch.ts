import { z } from "zod";
import { AirlockError } from "../core/errors.js";
import { newId } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import { isUnconfirmed, killSwitchRefusal, operationRefusal, scopeFor, stateFrom, type KillSwitchState } from "../policy/kill-switch.js";
import type { Db } from "../store/database.js";
import { flipKillSwitch, readKillSwitches } from "../store/queries/kill-switch.js";
import type { FlipInput, KillSwitchStatus } from "./kill-switch-status.js";

export type { FlipInput, KillSwitchStatus } from "./kill-switch-status.js";

export interface KillSwitchOptions {
  db: Db;
  logger: Logger;
  /** A monotonic clock in ms (default `performance.now`): a wall clock stepped back would make stale state look fresh. */
  now?: () => number;
  pollIntervalMs: number;
  staleAfterMs: number;
  /** True when other instances share the store (PostgreSQL): then state must be re-confirmed, or it counts as ON. */
  shared: boolean;
  /** Tells every other instance that the switch moved; never throws. */
  announce(): Promise<void>;
}


/** A flip as the admin API and the library take it: `active` a real boolean (a string "no" is not off), and a reason. */
export const flipInputSchema = z.strictObject({
  active: z.boolean(),
  operation: z.string().min(1).optional(),
  reason: z.string().trim().min(1, "a reason is required"),
});


/** Polls outstanding at once: a hung one must not hold back the next, but they must not pile up. */
const MAX_POLLS_IN_FLIGHT = 2;

/** The latest poll sent, and once a call has asked to wait for it, that bounded wait (see `settling`). */
interface LatestPoll {
  sentAt: number;
  answered: Promise<void>;
  waited?: Promise<void>;
}

/**
 * The kill switch as this instance knows it. Calls read it from memory. A flip here applies at once
 * and is announced; other instances hear the notice, and also re-read the store every
 * `pollIntervalMs`, so a lost notice or a cut connection cannot leave one running: state not
 * confirmed within `staleAfterMs` stops calls until the store answers again.
 */
export class KillSwitch {
  private state: KillSwitchState = { global: undefined, operations: new Map(), confirmedAt: undefined };
  private timer: NodeJS.Timeout | undefined;
  /** When each poll still waiting for the store was sent. */
  private readonly pollsInFlight = new Set<number>();
  private latestPoll: LatestPoll | undefined;
  private unreadable = false;
  /** Reads are numbered as they are sent: an older answer arriving late must not replace a newer one. */
  private readsSent = 0;
  private appliedRead = 0;
  private readonly now: () => number;

  constructor(private readonly options: KillSwitchOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  async start(): Promise<void> {
    await this.read();
    if (!this.options.shared) return;
    this.timer = setInterval(() => this.poll(), this.options.pollIntervalMs);
    this.timer.unref();
  }

  /** The refusal for a call to `operation` now, if the switch stops it. */
  check(operation: string | undefined): AirlockError | undefined {
    return killSwitchRefusal(this.state, operation, this.now(), this.options.staleAfterMs);
  }

  /**
   * `check`, but a view that went stale while a read is on its way is judged after that read (see
   * `settling`). Synchronous, as `check`, whenever nothing has to wait.
   */
  checkSettled(operation: string | undefined): AirlockError | undefined | Promise<AirlockError | undefined> {
    const refusal = this.check(operation);
    if (!isUnconfirmed(refusal)) return refusal;
    const settling = this.settling();
    return settling ? settling.then(() => this.check(operation)) : refusal;
  }

  /**
   * When this instance's view has gone stale, a wait for the store's next answer; otherwise undefined,
   * and calls are judged by the view as it is. A view goes stale when no read answered for
   * `staleAfterMs`: the store is down or slow, or this process's own event loop was held (a long
   * collection, a starved CPU), so that the poll that would have confirmed it could not run. In that
   * last case, calls that queued meanwhile would all be refused although the store is fine, so they
   * wait for the read sent as the loop ran again, at most `pollIntervalMs` after it was sent, and are
   * judged by what it answered. A call still starts only on a view the store confirmed within
   * `staleAfterMs`. A store known to fail answers at once: no wait.
   */
  settling(): Promise<void> | undefined {
    if (!this.options.shared || this.unreadable) return undefined;
    const now = this.now();
    const { confirmedAt } = this.state;
    if (confirmedAt === undefined || now - confirmedAt <= this.options.staleAfterMs) return undefined;
    // The poll's timer may not have run yet: a loop held inside a request's work goes on to the next
    // request before it runs timers. So without a poll sent in the last interval, one is sent now.
    const recent = this.latestPoll !== undefined && now - this.latestPoll.sentAt <= this.options.pollIntervalMs;
    const poll = recent ? this.latestPoll : this.poll();
    // No poll could be sent (two still hang): the store is not answering, and waiting would not change that.
    if (poll === undefined) return undefined;
    poll.waited ??= new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, poll.sentAt + this.options.pollIntervalMs - now));
      timer.unref();
      void poll.answered.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return poll.waited;
  }

  /** The operation's own switch alone, right after `check(undefined)` passed for the same call. */
  checkOperation(operation: string): AirlockError | undefined {
    return operationRefusal(this.state, operation);
  }

  async flip(input: FlipInput, actor: { keyId: string; kind: string }): Promise<KillSwitchStatus> {
    const reason = input.reason.trim();
    if (reason === "") throw new AirlockError("invalid_request", "a reason is required to flip the kill switch", { param: "reason" });
    const row = await flipKillSwitch(this.options.db, { scope: scopeFor(input.operation), active: input.active, reason, actor: actor.keyId, actorKind: actor.kind, auditId: newId("audit") });
    this.options.logger.warn({ scope: row.scope, active: row.active, by: actor.keyId }, input.active ? "kill switch ON" : "kill switch off");
    // The flip is committed: whatever happens next, the caller must hear that it was, or a retry would flip (and audit) twice.
    await this.read().catch((err: unknown) => this.options.logger.warn({ err }, "kill switch flipped, but re-reading it failed; the next poll or notice picks it up"));
    await this.options.announce();
    return this.status();
  }

  /** After a notice from another instance. */
  async reload(): Promise<void> {
    await this.read();
  }

  status(): KillSwitchStatus {
    const { global, operations } = this.state;
    return {
      global: global ? { scope: "global", ...global } : null,
      operations: [...operations].map(([operation, state]) => ({ operation, ...state })),
      confirmed: !isUnconfirmed(this.check(undefined)),
    };
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** Sends a poll and answers it, or undefined when too many still hang to send another. */
  private poll(): LatestPoll | undefined {
    // A poll still waiting after staleAfterMs is given up on (a hung connection), so it cannot hold back the next.
    const sentAt = this.now();
    let waiting = 0;
    for (const started of this.pollsInFlight) if (sentAt - started < this.options.staleAfterMs) waiting++;
    if (waiting >= MAX_POLLS_IN_FLIGHT) return undefined;
    this.pollsInFlight.add(sentAt);
    this.latestPoll = { sentAt, answered: this.pollOnce(sentAt) };
    return this.latestPoll;
  }

  /** One poll's read; never rejects: a failure marks the state unreadable. */
  private async pollOnce(sentAt: number): Promise<void> {
    try {
      await this.read();
      if (this.unreadable) this.options.logger.warn("kill switch state is readable again; calls resume unless it is on");
      this.unreadable = false;
    } catch (err) {
      if (!this.unreadable) this.options.logger.error({ err }, "kill switch state cannot be read; calls stop until it can");
      this.unreadable = true;
    } finally {
      this.pollsInFlight.delete(sentAt);
    }
  }

  /** The moment the question is sent is what it confirms: the answer says nothing about later flips. */
  private async read(): Promise<void> {
    const sequence = ++this.readsSent;
    const askedAt = this.now();
    const rows = await readKillSwitches(this.options.db);
    if (sequence < this.appliedRead) return;
    this.appliedRead = sequence;
    this.state = stateFrom(rows, this.options.shared ? askedAt : undefined);
  }
}
