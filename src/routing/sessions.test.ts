import { describe, expect, it } from "vitest";
import type { CatalogModel } from "./catalog.js";
import type { Plan } from "./plan.js";
import { SessionPins } from "./sessions.js";

const model = (id: string) => ({ id }) as CatalogModel;
const [p, f, x] = [model("a/primary"), model("a/fallback"), model("a/other")];
const plan = (...candidates: CatalogModel[]): Plan => ({ operation: undefined, candidates, routeReason: undefined, named: false });
const ids = (result: Plan) => result.candidates.map((c) => c.id);

describe("SessionPins", () => {
  it("puts the pinned model first, keeps the rest of the chain behind it, and says so", () => {
    const pins = new SessionPins(60_000, 10, () => 0);
    pins.remember("s1", f);
    const pinned = pins.apply("s1", plan(p, f, x));
    expect(ids(pinned)).toEqual(["a/fallback", "a/primary", "a/other"]);
    expect(pinned.routeReason).toBe("session_pinned");
    expect(ids(pins.apply("s2", plan(p, f)))).toEqual(["a/primary", "a/fallback"]);
  });

  it("keeps the first model that answered, not a later one", () => {
    const pins = new SessionPins(60_000, 10, () => 0);
    pins.remember("s1", f);
    pins.remember("s1", p);
    expect(ids(pins.apply("s1", plan(p, f)))).toEqual(["a/fallback", "a/primary"]);
  });

  it("drops a pin whose model is no longer a candidate (disabled, not allowed, off the route)", () => {
    const pins = new SessionPins(60_000, 10, () => 0);
    pins.remember("s1", f);
    const result = pins.apply("s1", plan(p, x));
    expect(ids(result)).toEqual(["a/primary", "a/other"]);
    expect(result.routeReason).toBeUndefined();
    expect(pins.size).toBe(0);
  });

  it("forgets a pin unused for longer than the TTL", () => {
    let now = 0;
    const pins = new SessionPins(1_000, 10, () => now);
    pins.remember("s1", f);
    now = 900;
    expect(ids(pins.apply("s1", plan(p, f)))[0]).toBe("a/fallback");
    now = 1_800; // 900 ms after the last use: still pinned
    expect(ids(pins.apply("s1", plan(p, f)))[0]).toBe("a/fallback");
    now = 2_900;
    expect(ids(pins.apply("s1", plan(p, f)))[0]).toBe("a/primary");
  });

  it("holds at most maxSessions pins, dropping the least recently used", () => {
    const pins = new SessionPins(60_000, 2, () => 0);
    pins.remember("s1", f);
    pins.remember("s2", f);
    pins.apply("s1", plan(p, f)); // s1 is now the most recently used
    pins.remember("s3", f);
    expect(pins.size).toBe(2);
    expect(ids(pins.apply("s2", plan(p, f)))[0]).toBe("a/primary");
    expect(ids(pins.apply("s1", plan(p, f)))[0]).toBe("a/fallback");
  });
});
