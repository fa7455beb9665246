import { AirlockError } from "../../core/errors.js";

export const RUN_STATUSES = ["pending", "running", "completed", "failed", "canceled"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Every move a run may make. A run is canceled when its directive is aborted before or while it runs. */
const NEXT: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  pending: ["running", "canceled"],
  running: ["completed", "failed", "canceled"],
  completed: [],
  failed: [],
  canceled: [],
};

export function nextRunStatuses(from: RunStatus): readonly RunStatus[] {
  return NEXT[from];
}

export function runTransitionError(id: string, from: RunStatus, to: RunStatus): AirlockError {
  const allowed = NEXT[from];
  return new AirlockError("conflict", `run "${id}" is ${from}: it cannot become ${to} (${allowed.length ? `it may become ${allowed.join(" or ")}` : "that is final"})`, {
    details: { run: id, status: from, requested: to, allowed },
  });
}

/** What a module reports, and the run status it ends in. */
export const MODULE_STATUSES = ["SUCCESS", "FAILURE", "ERROR"] as const;
export type ModuleStatus = (typeof MODULE_STATUSES)[number];

export function runStatusOf(status: ModuleStatus): "completed" | "failed" {
  return status === "SUCCESS" ? "completed" : "failed";
}

/** The durable workflow carrying a directive's run: one per directive, whichever worker offers it. */
export function workflowIdOf(directiveId: string): string {
  return `directive:${directiveId}`;
}
