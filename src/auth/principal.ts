export const PRINCIPAL_KINDS = ["admin", "user", "service", "agent"] as const;
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];

/**
 * The key id of calls made in process through the library: no key in the store has it, and the library
 * may still be granted (by itself, or by an admin through a gateway on the same store).
 */
export const LIBRARY_KEY_ID = "library";

/** Who is calling: resolved from an API key, held in memory, never carrying the secret. */
export interface Principal {
  keyId: string;
  name: string;
  kind: PrincipalKind;
  userId: string | null;
  teamId: string | null;
  orgId: string | null;
  /** The only catalog models this key's calls may be served by; absent: every model the org allows. */
  models?: ReadonlySet<string>;
}
