import { AirlockError } from "../../core/errors.js";

export const DIRECTIVE_STATUSES = ["draft", "proposed", "blocked", "approved", "executing", "complete", "aborted"] as const;
export type DirectiveStatus = (typeof DIRECTIVE_STATUSES)[number];

/**
 * Every move a directive may make. A blocked directive may be proposed again (a retry after its
 * issuer changed it); an approved one may still be blocked. Any directive not yet ended may be
 * aborted: one not yet approved withdrawn by its issuer or declined by an admin, an approved one
 * stopped by an admin before a worker starts it (whichever of the two moves it first wins), and a
 * running one stopped by an admin.
 */
const NEXT: Readonly<Record<DirectiveStatus, readonly DirectiveStatus[]>> = {
  draft: ["proposed", "aborted"],
  proposed: ["approved", "blocked", "aborted"],
  blocked: ["proposed", "aborted"],
  approved: ["executing", "blocked", "aborted"],
  executing: ["complete", "aborted"],
  complete: [],
  aborted: [],
};

/** The statuses a directive in `from` may move to. */
export function nextStatuses(from: DirectiveStatus): readonly DirectiveStatus[] {
  return NEXT[from];
}

export function canTransition(from: DirectiveStatus, to: DirectiveStatus): boolean {
  return NEXT[from].includes(to);
}

/** The refusal for a move the lifecycle does not allow, naming the moves it does. */
export function transitionError(id: string, from: DirectiveStatus, to: DirectiveStatus): AirlockError {
  const allowed = NEXT[from];
  return new AirlockError("conflict", `directive "${id}" is ${from}: it cannot become ${to} (${allowed.length ? `it may become ${allowed.join(" or ")}` : "that is final"})`, {
    details: { directive: id, status: from, requested: to, allowed },
  });
}
