const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * The instants a date or `since` parameter may name: from the Unix epoch to the end of 2999 (UTC).
 * Outside them a date is a typo, and the store's date arithmetic (a day past 9999-12-31, a year BC)
 * would fail as an internal error instead of the caller's mistake.
 */
export const EARLIEST_DATE = "1970-01-01";
export const LATEST_DATE = "2999-12-31";
const EARLIEST_MS = Date.UTC(1970, 0, 1);
const LATEST_MS = Date.UTC(3000, 0, 1) - 1;

/** Parses `90s`, `30m`, `24h`, `7d`, `2w` into milliseconds; undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,15})\s*([smhdw])$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNITS[match[2]!]!;
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-](\d{2}):(\d{2}))?$/;

/**
 * A UTC calendar day written `YYYY-MM-DD`, as its midnight; undefined when it is not one (2026-02-30,
 * 2026-1-1) or lies outside 1970-01-01..2999-12-31. `Date` would roll 2026-02-30 over to March 2.
 */
export function parseDay(text: string): Date | undefined {
  const match = DAY.exec(text);
  if (!match) return undefined;
  return calendarDate(Number(match[1]), Number(match[2]), Number(match[3]));
}

/**
 * An ISO 8601 date (`2026-11-01`, UTC midnight) or date-time (`2026-11-01T09:30`, `…:00Z`,
 * `…:00.000+02:00`; without a zone, UTC), checked field by field: undefined for anything else,
 * for a day the calendar lacks, or outside 1970-01-01..2999-12-31.
 */
export function parseIsoDate(text: string): Date | undefined {
  if (DAY.test(text)) return parseDay(text);
  const match = DATE_TIME.exec(text);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second = "0", zone, zoneHour = "0", zoneMinute = "0"] = match;
  if (!calendarDate(Number(year), Number(month), Number(day))) return undefined;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return undefined;
  if (zone !== undefined && zone !== "Z" && (Number(zoneHour) > 23 || Number(zoneMinute) > 59)) return undefined;
  // Without a zone, `Date` would read the host's local time: a gateway's reports would then depend on
  // a setting its callers cannot see, and disagree with the days and hours of the rollups, all UTC.
  return inRange(new Date(zone === undefined ? `${text}Z` : text));
}

/** A `--since` value: a duration back from `now`, or an ISO date/time; undefined outside 1970-01-01..2999-12-31. */
export function parseSince(text: string, now = Date.now()): Date | undefined {
  const ms = parseDuration(text);
  if (ms !== undefined) return inRange(new Date(now - ms));
  return parseIsoDate(text.trim());
}

function calendarDate(year: number, month: number, day: number): Date | undefined {
  const date = new Date(Date.UTC(year, month - 1, day));
  // Date.UTC maps years 0-99 to 1900-1999; the range check below refuses them either way.
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  return inRange(date);
}

function inRange(date: Date): Date | undefined {
  const ms = date.getTime();
  return Number.isNaN(ms) || ms < EARLIEST_MS || ms > LATEST_MS ? undefined : date;
}
