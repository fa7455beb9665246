/** How spend reports can be grouped. Its own module so the CLI can list the choices without loading the store. */
export const SPEND_GROUPS = ["operation", "model", "provider", "user", "team", "key", "day"] as const;
export type SpendGroup = (typeof SPEND_GROUPS)[number];
