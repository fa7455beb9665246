import { AirlockError } from "../core/errors.js";

/** One scope's switch as the store last said. */
export interface SwitchState {
  active: boolean;
  reason: string;
  updatedBy: string;
  updatedAt: Date;
}

export interface KillSwitchState {
  global: SwitchState | undefined;
  /** By operation name. */
  operations: ReadonlyMap<string, SwitchState>;
  /**
   * When the store was last asked and answered (the moment the question was sent), or undefined when
   * no other instance can change it behind this one's back (the embedded store).
   */
  confirmedAt: number | undefined;
}

export const GLOBAL_SCOPE = "global";
/** The refusal's scope when the state itself is not confirmed: no switch said so, the store did not answer. */
export const UNCONFIRMED_SCOPE = "unknown";
const OPERATION_PREFIX = "operation:";

export function scopeFor(operation: string | undefined): string {
  return operation === undefined ? GLOBAL_SCOPE : `${OPERATION_PREFIX}${operation}`;
}

export function stateFrom(rows: ReadonlyArray<{ scope: string } & SwitchState>, confirmedAt: number | undefined): KillSwitchState {
  let global: SwitchState | undefined;
  const operations = new Map<string, SwitchState>();
  for (const { scope, ...state } of rows) {
    if (scope === GLOBAL_SCOPE) global = state;
    else if (scope.startsWith(OPERATION_PREFIX)) operations.set(scope.slice(OPERATION_PREFIX.length), state);
  }
  return { global, operations, confirmedAt };
}

/**
 * Whether a call may start. The global switch stops everything, an operation's switch that
 * operation's calls. State the store has not confirmed within `staleAfterMs` counts as ON: another
 * instance may have flipped it, and this one would not know.
 */
export function killSwitchRefusal(state: KillSwitchState, operation: string | undefined, now: number, staleAfterMs: number): AirlockError | undefined {
  if (state.confirmedAt !== undefined && now - state.confirmedAt > staleAfterMs) {
    return new AirlockError("kill_switch_active", "AI calls are stopped: the kill switch's state cannot be read from the store", { details: { scope: UNCONFIRMED_SCOPE } });
  }
  if (state.global?.active) {
    // The reason is for operators (admin API, audit); callers learn only that, and where, calls stopped.
    return new AirlockError("kill_switch_active", "AI calls are stopped by the kill switch", { details: { scope: GLOBAL_SCOPE } });
  }
  return operation === undefined ? undefined : operationRefusal(state, operation);
}

/** Whether a refusal is only for want of a confirmed state, which a read may still bring. */
export function isUnconfirmed(refusal: AirlockError | undefined): boolean {
  return refusal?.details?.scope === UNCONFIRMED_SCOPE;
}

/** Only the operation's own switch: for a caller that has just checked the global switch and staleness. */
export function operationRefusal(state: KillSwitchState, operation: string): AirlockError | undefined {
  if (!state.operations.get(operation)?.active) return undefined;
  return new AirlockError("kill_switch_active", `calls to operation "${operation}" are stopped by its kill switch`, { details: { scope: scopeFor(operation) } });
}
