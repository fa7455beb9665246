/** Airlock's own credentials, kept out of any upstream text it may relay. */

/** Header names that carry a credential: `authorization`, `x-api-key`, `x-goog-api-key`, `api-key`, tokens. */
const CREDENTIAL_HEADER = /authorization|api[-_]?key|token|secret/i;
/** Shorter values are not worth hunting for: they would match ordinary words. */
const MIN_SECRET_LENGTH = 8;

/** The credential values among the headers, `Bearer` forms and bare keys both, longest first. */
export function credentialsIn(headers: Record<string, string>): string[] {
  const found = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    if (!CREDENTIAL_HEADER.test(name)) continue;
    const bare = value.replace(/^\s*(?:bearer|basic|token)\s+/i, "").trim();
    for (const secret of [value.trim(), bare]) if (secret.length >= MIN_SECRET_LENGTH) found.add(secret);
  }
  return [...found].sort((a, b) => b.length - a.length);
}

/** `text` with every occurrence of each secret replaced; the longer (`Bearer sk-…`) go before the keys inside them. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join("[redacted]");
  return out;
}
