import { AirlockError } from "../core/errors.js";
import { newId } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import { killSwitchRefusal, scopeFor, stateFrom, type KillSwitchState, type SwitchState } from "../policy/kill-switch.js";
import type { Db } from "../store/database.js";
import { flipKillSwitch, readKillSwitches } from "../store/queries/kill-switch.js";

export interface KillSwitchOptions {
  db: Db;
  logger: Logger;
  now: () => number;
  pollIntervalMs: number;
  staleAfterMs: number;
  /** True when other instances share the store (PostgreSQL): then state must be re-confirmed, or it counts as ON. */
  shared: boolean;
  /** Tells every other instance that the switch moved; never throws. */
  announce(): Promise<void>;
}

export interface FlipInput {
  active: boolean;
  /** Without one, the global switch. */
  operation?: string;
  reason: string;
}

export interface KillSwitchStatus {
  global: (SwitchState & { scope: string }) | null;
  operations: Array<SwitchState & { operation: string }>;
  /** False while this instance cannot confirm the state with the store: calls are stopped meanwhile. */
  confirmed: boolean;
}

/** Polls outstanding at once: a hung one must not hold back the next, but they must not pile up. */
const MAX_POLLS_IN_FLIGHT = 2;

/**
 * The kill switch as this instance knows it. Calls read it from memory. A flip here applies at once
 * and is announced; other instances hear the notice, and also re-read the store every
 * `pollIntervalMs`, so a lost notice or a cut connection cannot leave one running: state not
 * confirmed within `staleAfterMs` stops calls until the store answers again.
 */
export class KillSwitch {
  private state: KillSwitchState = { global: undefined, operations: new Map(), confirmedAt: undefined };
  private timer: NodeJS.Timeout | undefined;
  private polls = 0;
  private unreadable = false;
  /** When the state in force was asked for: an older answer arriving late must not replace it. */
  private appliedAskedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: KillSwitchOptions) {}

  async start(): Promise<void> {
    await this.read();
    if (!this.options.shared) return;
    this.timer = setInterval(() => void this.poll(), this.options.pollIntervalMs);
    this.timer.unref();
  }

  /** The refusal for a call to `operation` now, if the switch stops it. */
  check(operation: string | undefined): AirlockError | undefined {
    return killSwitchRefusal(this.state, operation, this.options.now(), this.options.staleAfterMs);
  }

  async flip(input: FlipInput, actor: { keyId: string; kind: string }): Promise<KillSwitchStatus> {
    const reason = input.reason.trim();
    if (reason === "") throw new AirlockError("invalid_request", "a reason is required to flip the kill switch", { param: "reason" });
    const row = await flipKillSwitch(this.options.db, { scope: scopeFor(input.operation), active: input.active, reason, actor: actor.keyId, actorKind: actor.kind, auditId: newId("audit") });
    this.options.logger.warn({ scope: row.scope, active: row.active, by: actor.keyId }, input.active ? "kill switch ON" : "kill switch off");
    await this.read();
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
      confirmed: this.check(undefined)?.details?.scope !== "unknown",
    };
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async poll(): Promise<void> {
    if (this.polls >= MAX_POLLS_IN_FLIGHT) return;
    this.polls++;
    try {
      await this.read();
      if (this.unreadable) this.options.logger.warn("kill switch state is readable again; calls resume unless it is on");
      this.unreadable = false;
    } catch (err) {
      if (!this.unreadable) this.options.logger.error({ err }, "kill switch state cannot be read; calls stop until it can");
      this.unreadable = true;
    } finally {
      this.polls--;
    }
  }

  /** The moment the question is sent is what it confirms: the answer says nothing about later flips. */
  private async read(): Promise<void> {
    const askedAt = this.options.now();
    const rows = await readKillSwitches(this.options.db);
    if (askedAt < this.appliedAskedAt) return;
    this.appliedAskedAt = askedAt;
    this.state = stateFrom(rows, this.options.shared ? askedAt : undefined);
  }
}
