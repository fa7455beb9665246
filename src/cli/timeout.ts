// Free of imports, so that the CLI checks --timeout without loading the admin client.

/** How long a call to a gateway may take by default: long enough for a report over a large ledger. */
export const DEFAULT_TIMEOUT_SECONDS = 30;
/** The longest timeout taken: a day. */
export const MAX_TIMEOUT_SECONDS = 86_400;

/** A timeout in seconds as written (`30`, `2.5`), or undefined when it is not one above 0 and at most a day. */
export function parseTimeoutSeconds(text: string): number | undefined {
  const seconds = /^\d{1,6}(\.\d{1,3})?$/.test(text.trim()) ? Number(text.trim()) : NaN;
  return seconds > 0 && seconds <= MAX_TIMEOUT_SECONDS ? seconds : undefined;
}
