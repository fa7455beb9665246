import { describe, expect, it } from "vitest";
import { killSwitchRefusal, scopeFor, stateFrom } from "./kill-switch.js";

const at = new Date("2026-11-30T00:00:00Z");
const row = (scope: string, active: boolean) => ({ scope, active, reason: "why", updatedBy: "key_admin", updatedAt: at });

describe("kill switch decision", () => {
  it("lets calls run when no switch is on", () => {
    const state = stateFrom([row("global", false), row("operation:chat", false)], undefined);
    expect(killSwitchRefusal(state, "chat", 0, 750)).toBeUndefined();
    expect(killSwitchRefusal(state, undefined, 0, 750)).toBeUndefined();
  });

  it("stops every call under the global switch, and only its operation's under an operation's", () => {
    const global = stateFrom([row("global", true)], undefined);
    expect(killSwitchRefusal(global, "chat", 0, 750)).toMatchObject({ code: "kill_switch_active", status: 503, details: { scope: "global" } });
    expect(killSwitchRefusal(global, undefined, 0, 750)?.code).toBe("kill_switch_active");

    const one = stateFrom([row(scopeFor("summarize"), true)], undefined);
    expect(killSwitchRefusal(one, "summarize", 0, 750)).toMatchObject({ details: { scope: "operation:summarize" } });
    expect(killSwitchRefusal(one, "chat", 0, 750)).toBeUndefined();
    expect(killSwitchRefusal(one, undefined, 0, 750)).toBeUndefined();
  });

  it("counts state the store has not confirmed within the bound as ON, whatever it said", () => {
    const confirmed = stateFrom([], 10_000);
    expect(killSwitchRefusal(confirmed, "chat", 10_750, 750)).toBeUndefined();
    expect(killSwitchRefusal(confirmed, "chat", 10_751, 750)).toMatchObject({ code: "kill_switch_active", details: { scope: "unknown" } });
    // The embedded store has no other writer: its state never goes stale.
    expect(killSwitchRefusal(stateFrom([], undefined), "chat", Number.MAX_SAFE_INTEGER, 750)).toBeUndefined();
  });

  it("keeps the operator's reason out of what callers are told", () => {
    const state = stateFrom([{ ...row("global", true), reason: "secret incident 42" }], undefined);
    expect(killSwitchRefusal(state, undefined, 0, 750)?.message).not.toContain("incident");
  });
});
