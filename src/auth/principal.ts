export const PRINCIPAL_KINDS = ["admin", "user", "service", "agent"] as const;
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];

/** Who is calling: resolved from an API key, held in memory, never carrying the secret. */
export interface Principal {
  keyId: string;
  name: string;
  kind: PrincipalKind;
  userId: string | null;
  teamId: string | null;
  orgId: string | null;
}
