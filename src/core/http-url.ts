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

/**
 * The Fetch standard's "bad ports": browsers and every client built on `fetch` (Node's, the CLI's, the
 * openai SDK's) refuse them before they connect, while curl and the store do not. A gateway there
 * answers curl and nothing else: its start warns, and the CLI says so rather than take it for no
 * gateway (https://fetch.spec.whatwg.org/#port-blocking).
 */
const PORTS_FETCH_REFUSES = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117,
  119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636,
  989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/** `port` as a number; a URL's default port (80, 443) is never one of them. */
export function fetchRefusesPort(port: number): boolean {
  return PORTS_FETCH_REFUSES.has(port);
}
