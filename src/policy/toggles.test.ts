import { describe, expect, it } from "vitest";
import { PRINCIPAL_KINDS } from "../auth/principal.js";
import { flipRefusal, toggleOffError, type ControlledBy } from "./toggles.js";

const toggle = (locked: boolean, controlledBy: ControlledBy) => ({ name: "t", locked, controlledBy });

describe("who may flip a feature toggle", () => {
  it("lets admins flip anything", () => {
    for (const controlledBy of ["ADMIN_ONLY", "USER", "BOTH"] as const) for (const locked of [true, false]) expect(flipRefusal("admin", toggle(locked, controlledBy))).toBeUndefined();
  });

  it("lets nobody else flip a locked toggle or an admin-only one", () => {
    for (const kind of PRINCIPAL_KINDS.filter((k) => k !== "admin")) {
      expect(flipRefusal(kind, toggle(true, "BOTH"))).toContain("locked");
      expect(flipRefusal(kind, toggle(false, "ADMIN_ONLY"))).toContain("admins only");
    }
  });

  it("lets user and service keys flip USER and BOTH toggles, and agents only BOTH", () => {
    for (const kind of ["user", "service"] as const) {
      expect(flipRefusal(kind, toggle(false, "USER"))).toBeUndefined();
      expect(flipRefusal(kind, toggle(false, "BOTH"))).toBeUndefined();
    }
    expect(flipRefusal("agent", toggle(false, "BOTH"))).toBeUndefined();
    expect(flipRefusal("agent", toggle(false, "USER"))).toBe('feature toggle "t" is not controlled by agents');
  });

  it("names the toggle when it is off, locked or missing", () => {
    const state = { name: "t", enabled: false, locked: true, controlledBy: "ADMIN_ONLY" as const, notes: null, updatedAt: new Date(), updatedBy: null };
    expect(toggleOffError("t", state)).toMatchObject({ code: "disabled", message: 'feature toggle "t" is off and locked' });
    expect(toggleOffError("t", { ...state, locked: false })?.message).toBe('feature toggle "t" is off');
    expect(toggleOffError("x", undefined)?.message).toBe('feature toggle "x" does not exist');
    expect(toggleOffError("t", { ...state, enabled: true })).toBeUndefined();
  });
});
