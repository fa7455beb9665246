/** What a change request can be. Its own module so the CLI can offer the choices without loading change control. */
export const CHANGE_STATUSES = ["PENDING", "APPROVED", "APPLIED", "REJECTED", "EXPIRED"] as const;
