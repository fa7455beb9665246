import { describe, expect, it } from "vitest";
import { retryDelayMs } from "./notifications.js";

describe("retryDelayMs", () => {
  it("doubles from one second and gives up after the eighth attempt", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(retryDelayMs)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000]);
    expect(retryDelayMs(8)).toBeUndefined();
  });
});
