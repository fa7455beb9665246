import { describe, expect, it } from "vitest";
import { parseDay, parseIsoDate, parseSince } from "./duration.js";

describe("parseDay", () => {
  it("takes calendar days only, as UTC midnight", () => {
    expect(parseDay("2028-02-29")?.toISOString()).toBe("2028-02-29T00:00:00.000Z");
    for (const text of ["2026-02-29", "2026-02-30", "2026-04-31", "2026-13-01", "2026-00-10", "2026-1-1", "20260101", " 2026-01-01"]) expect(parseDay(text), text).toBeUndefined();
  });

  it("keeps to 1970-01-01..2999-12-31", () => {
    expect(parseDay("1970-01-01")?.getTime()).toBe(0);
    expect(parseDay("2999-12-31")?.toISOString()).toBe("2999-12-31T00:00:00.000Z");
    for (const text of ["1969-12-31", "0001-01-01", "0099-01-01", "3000-01-01", "9999-12-31"]) expect(parseDay(text), text).toBeUndefined();
  });
});

describe("parseIsoDate", () => {
  it("takes ISO date-times with or without seconds, fractions and a zone", () => {
    expect(parseIsoDate("2026-11-01T09:30:00Z")?.toISOString()).toBe("2026-11-01T09:30:00.000Z");
    expect(parseIsoDate("2026-11-01T09:30:00.250+02:00")?.toISOString()).toBe("2026-11-01T07:30:00.250Z");
    expect(parseIsoDate("2026-11-01T09:30")).toBeInstanceOf(Date);
  });

  it("reads a date-time without a zone as UTC, like a date, whatever the host's time zone", () => {
    const zone = process.env.TZ;
    try {
      for (const tz of ["America/New_York", "Asia/Kolkata", "UTC"]) {
        process.env.TZ = tz;
        expect(parseIsoDate("2026-11-01T00:00")?.toISOString(), tz).toBe("2026-11-01T00:00:00.000Z");
        expect(parseIsoDate("2026-03-08T02:30:15.5")?.toISOString(), tz).toBe("2026-03-08T02:30:15.500Z");
        expect(parseSince("2026-11-01T00:00")?.getTime(), tz).toBe(parseSince("2026-11-01")?.getTime());
      }
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it("refuses fields out of range instead of rolling them over", () => {
    for (const text of ["2026-02-30T10:00:00Z", "2026-11-01T24:00:00Z", "2026-11-01T10:60Z", "2026-11-01T10:00:60Z", "2026-11-01T10:00:00+24:00", "2026-11-01 10:00", "November 1, 2026", "1"]) {
      expect(parseIsoDate(text), text).toBeUndefined();
    }
  });
});

describe("parseSince", () => {
  const now = Date.UTC(2026, 10, 1);

  it("reads durations back from now", () => {
    expect(parseSince("90s", now)?.getTime()).toBe(now - 90_000);
    expect(parseSince("2w", now)?.getTime()).toBe(now - 14 * 86_400_000);
  });

  it("refuses a duration reaching before 1970, however many digits it has", () => {
    expect(parseSince("20000d", now)).toBeInstanceOf(Date);
    for (const text of ["21000d", "999999d", "99999999999d", "9".repeat(400) + "d"]) expect(parseSince(text, now), text.slice(0, 20)).toBeUndefined();
  });

  it("reads dates strictly", () => {
    expect(parseSince("2026-02-28", now)?.toISOString()).toBe("2026-02-28T00:00:00.000Z");
    expect(parseSince("2026-02-30", now)).toBeUndefined();
  });
});
