import type { SwitchState } from "../policy/kill-switch.js";

/*
 * The kill switch's shapes, apart from the switch itself and free of the store: the library's public
 * types name them, and a project that type-checks its dependencies must not have to compile Drizzle's.
 */

export interface FlipInput {
  active: boolean;
  /** Without one, the global switch. */
  operation?: string | undefined;
  reason: string;
}

export interface KillSwitchStatus {
  global: (SwitchState & { scope: string }) | null;
  operations: Array<SwitchState & { operation: string }>;
  /** False while this instance cannot confirm the state with the store: calls are stopped meanwhile. */
  confirmed: boolean;
}
