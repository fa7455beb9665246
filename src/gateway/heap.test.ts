import { describe, expect, it } from "vitest";
import { DEFAULT_HEAP_GROWTH_PERCENT, tuneHeapForServer } from "./heap.js";

describe("tuneHeapForServer", () => {
  it("applies the default growth, or the one AIRLOCK_HEAP_GROWTH_PERCENT names", () => {
    expect(tuneHeapForServer({}, [])).toBe(DEFAULT_HEAP_GROWTH_PERCENT);
    expect(tuneHeapForServer({ AIRLOCK_HEAP_GROWTH_PERCENT: "80" }, [])).toBe(80);
  });

  it("leaves V8's own policy when asked with 0, or when the operator passed the V8 flag", () => {
    expect(tuneHeapForServer({ AIRLOCK_HEAP_GROWTH_PERCENT: "0" }, [])).toBeUndefined();
    expect(tuneHeapForServer({ AIRLOCK_HEAP_GROWTH_PERCENT: "80" }, ["--heap-growing-percent=20"])).toBeUndefined();
  });

  it("refuses a value that is not a whole percentage, naming the variable", () => {
    expect(() => tuneHeapForServer({ AIRLOCK_HEAP_GROWTH_PERCENT: "fast" }, [])).toThrow(/AIRLOCK_HEAP_GROWTH_PERCENT must be a whole number/);
    expect(() => tuneHeapForServer({ AIRLOCK_HEAP_GROWTH_PERCENT: "-5" }, [])).toThrow(/AIRLOCK_HEAP_GROWTH_PERCENT/);
  });
});
