const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parses `90s`, `30m`, `24h`, `7d`, `2w` into milliseconds; undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)\s*([smhdw])$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNITS[match[2]!]!;
}

/** A `--since` value: a duration back from `now`, or an ISO date/time. */
export function parseSince(text: string, now = Date.now()): Date | undefined {
  const ms = parseDuration(text);
  if (ms !== undefined) return new Date(now - ms);
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
