/**
 * True for an absolute http(s) URL: anything else could never be delivered to or called. Kept apart from
 * the configuration's schemas so that the CLI checks a URL without loading them (zod and the schemas
 * are about a third of what a command that only prints its help would load).
 */
export function isHttpUrl(value: string): boolean {
  try {
    const { protocol } = new URL(value);
    return protocol === "http:" || protocol === "https:";
  } catch {
    return false;
  }
}
