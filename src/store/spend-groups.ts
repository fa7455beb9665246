/** How spend reports can be grouped. Its own module so the CLI can list the choices without loading the store. */
export const SPEND_GROUPS = ["operation", "model", "provider", "user", "team", "key", "day"] as const;
export type SpendGroup = (typeof SPEND_GROUPS)[number];

/**
 * What reports can be narrowed to: calls with this operation, model and user (`(none)`: calls without
 * one). Unfiltered, reports read the rollups; filtered, the ledger through its indexes.
 */
export const FILTER_NAMES = ["operation", "model", "user"] as const;
export type LedgerFilters = Partial<Record<(typeof FILTER_NAMES)[number], string>>;
