import { describe, expect, it } from "vitest";
import { count, messageText, optionalCount, reportedCount } from "./wire.js";

describe("count", () => {
  it("reads whole token counts as they are", () => {
    expect([0, 1, 1_843, Number.MAX_SAFE_INTEGER].map(count)).toEqual([0, 1, 1_843, Number.MAX_SAFE_INTEGER]);
  });

  it("reads null, strings, negatives and NaN as no tokens", () => {
    expect([null, undefined, "12", -5, Number.NaN, Number.NEGATIVE_INFINITY, {}].map(count)).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });

  it("rounds a fraction up, since a partial token is billed whole", () => {
    expect([0.2, 10.5, 99.0001].map(count)).toEqual([1, 11, 100]);
  });

  it("takes a count past 2^53 as 2^53 - 1, so that a sum of counts stays finite", () => {
    expect([1e300, Number.MAX_VALUE, Number.POSITIVE_INFINITY].map(count)).toEqual(Array(3).fill(Number.MAX_SAFE_INTEGER));
    expect(Number.isFinite(count(1e308) + count(1e308) + count(1e308))).toBe(true);
  });
});

describe("reportedCount and optionalCount", () => {
  it("read a count as count does, and anything that is not a number from 0 up as no count", () => {
    expect([0, 7, 10.5, 1e300].map(reportedCount)).toEqual([0, 7, 11, Number.MAX_SAFE_INTEGER]);
    expect([null, undefined, "12", -5, Number.NaN, {}].map(reportedCount)).toEqual(Array(6).fill(undefined));
  });

  it("optionalCount reads a count left out or null as 0, and any other non-count as no count", () => {
    expect([undefined, null, 3].map(optionalCount)).toEqual([0, 0, 3]);
    expect(["3", -3].map(optionalCount)).toEqual([undefined, undefined]);
  });
});

describe("messageText", () => {
  it("joins text parts and an assistant's refusal parts, and leaves other parts out", () => {
    const parts = [
      { type: "text", text: "I can help with travel. " },
      { type: "refusal", refusal: "I can't help with that request." },
      { type: "image_url", image_url: { url: "https://example.com/a.png" } },
    ];
    expect(messageText(parts)).toBe("I can help with travel. I can't help with that request.");
    expect([null, undefined, "plain"].map((content) => messageText(content))).toEqual(["", "", "plain"]);
  });
});
