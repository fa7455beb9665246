import { AirlockError } from "../core/errors.js";
import type { PrincipalKind } from "../auth/principal.js";

export type ControlledBy = "ADMIN_ONLY" | "USER" | "BOTH";

export interface ToggleState {
  name: string;
  enabled: boolean;
  locked: boolean;
  controlledBy: ControlledBy;
  notes: string | null;
  updatedAt: Date;
  updatedBy: string | null;
}

/** Seeded on first start; an existing toggle of the same name is never overwritten. */
export const DEFAULT_TOGGLES: ReadonlyArray<Pick<ToggleState, "name" | "enabled" | "locked" | "controlledBy" | "notes">> = [
  { name: "helix_can_change_models", enabled: false, locked: true, controlledBy: "ADMIN_ONLY", notes: "Whether the agent may switch the models operations use." },
  { name: "helix_can_approve_costs", enabled: false, locked: true, controlledBy: "ADMIN_ONLY", notes: "Whether the agent may approve cost increases." },
  { name: "helix_can_recommend_optimizations", enabled: false, locked: false, controlledBy: "BOTH", notes: "Whether the agent may recommend cost and quality optimizations." },
  { name: "helix_autonomy_enabled", enabled: false, locked: false, controlledBy: "USER", notes: "Whether the agent may act without a person's approval." },
];

/**
 * Why `kind` may not flip `toggle`, or undefined when it may. Admins may flip anything. Nobody else
 * may flip a locked toggle. User and service keys may flip USER and BOTH toggles; agents only BOTH,
 * so an agent can never widen its own powers.
 */
export function flipRefusal(kind: PrincipalKind, toggle: Pick<ToggleState, "name" | "locked" | "controlledBy">): string | undefined {
  if (kind === "admin") return undefined;
  if (toggle.locked) return `feature toggle "${toggle.name}" is locked: only an admin key can change it`;
  if (toggle.controlledBy === "ADMIN_ONLY") return `feature toggle "${toggle.name}" is controlled by admins only`;
  if (kind === "agent" && toggle.controlledBy !== "BOTH") return `feature toggle "${toggle.name}" is not controlled by agents`;
  return undefined;
}

/** The error for using a feature that is off, or that does not exist (which counts as off). */
export function toggleOffError(name: string, toggle: ToggleState | undefined): AirlockError | undefined {
  if (toggle?.enabled) return undefined;
  const why = toggle === undefined ? "does not exist" : toggle.locked ? "is off and locked" : "is off";
  return new AirlockError("disabled", `feature toggle "${name}" ${why}`, { details: { toggle: name } });
}
