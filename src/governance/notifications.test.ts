import { describe, expect, it } from "vitest";
import { retryDelayMs, roundDue } from "./notifications.js";

describe("roundDue", () => {
  it("takes a tick that fires a few ms short of the round's period as due, so a round waits one tick and not two", () => {
    // An instance without webhooks ticks every 10 s; its last sweep stamped itself 3 ms after its tick fired.
    expect(roundDue(20_000, 10_003, 10_000)).toBe(true);
    expect(roundDue(14_000, 10_003, 10_000)).toBe(false);
    // One that sends ticks every second: the round is due at the tick nearest its period, not a tick before.
    expect(roundDue(19_503, 10_003, 1_000)).toBe(true);
    expect(roundDue(19_002, 10_003, 1_000)).toBe(false);
    expect(roundDue(Date.now(), Number.NEGATIVE_INFINITY, 1_000)).toBe(true);
  });
});

describe("retryDelayMs", () => {
  it("doubles from one second and gives up after the eighth attempt", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(retryDelayMs)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000]);
    expect(retryDelayMs(8)).toBeUndefined();
  });
});
