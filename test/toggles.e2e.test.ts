import { describe, expect, it } from "vitest";
import { api, ask, BOOTSTRAP_ADMIN_ID, refusal, routesSuite, type Instance } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * Feature toggles: seeded defaults, isEnabled/enforce over the API, who may flip what (an agent
 * never a locked toggle, nor one it does not control: 403 and an audit row), operations that
 * require a toggle, and a change reaching another instance on the same store.
 */
async function keyOf(gw: Instance, kind: "user" | "service" | "agent"): Promise<{ id: string; key: string }> {
  const made = await api(gw, "POST", "/admin/keys", { name: `${kind}-key`, kind });
  return { id: made.body.id, key: made.body.key };
}

describe.each(STORE_KINDS)("feature toggles on %s", (kind) => {
  const { config, gateway, pair } = routesSuite(kind);

  it("seeds the defaults, and answers isEnabled and enforce for any key", async () => {
    const gw = await gateway(config());
    const user = await keyOf(gw, "user");
    const list = await api(gw, "GET", "/v1/toggles", undefined, user.key);
    expect(list.body.data.map((t: Record<string, unknown>) => [t.name, t.enabled, t.locked, t.controlledBy])).toEqual([
      ["helix_autonomy_enabled", false, false, "USER"],
      ["helix_can_approve_costs", false, true, "ADMIN_ONLY"],
      ["helix_can_change_models", false, true, "ADMIN_ONLY"],
      ["helix_can_recommend_optimizations", false, false, "BOTH"],
    ]);
    expect((await api(gw, "GET", "/v1/toggles/helix_can_change_models", undefined, user.key)).body).toMatchObject({ enabled: false, locked: true });
    const enforced = await api(gw, "POST", "/v1/toggles/helix_can_change_models/enforce", undefined, user.key);
    expect(enforced.status).toBe(503);
    expect(enforced.body.error).toMatchObject({ code: "disabled", toggle: "helix_can_change_models" });
    expect(enforced.body.error.message).toBe('feature toggle "helix_can_change_models" is off and locked');
    expect((await api(gw, "POST", "/v1/toggles/no_such_toggle/enforce", undefined, user.key)).body.error.message).toBe('feature toggle "no_such_toggle" does not exist');
    expect((await api(gw, "GET", "/v1/toggles/no_such_toggle", undefined, user.key)).status).toBe(404);
  });

  it("never lets an agent flip a locked toggle or one it does not control: 403, and an audit row", async () => {
    const gw = await gateway(config());
    const agent = await keyOf(gw, "agent");
    const locked = await api(gw, "PATCH", "/v1/toggles/helix_can_change_models", { enabled: true }, agent.key);
    expect(locked.status).toBe(403);
    expect(locked.body.error).toMatchObject({ code: "forbidden", message: 'feature toggle "helix_can_change_models" is locked: only an admin key can change it' });
    const userOnly = await api(gw, "PATCH", "/v1/toggles/helix_autonomy_enabled", { enabled: true }, agent.key);
    expect(userOnly).toMatchObject({ status: 403, body: { error: { message: 'feature toggle "helix_autonomy_enabled" is not controlled by agents' } } });
    // An agent may not unlock either, even a toggle it controls.
    expect((await api(gw, "PATCH", "/v1/toggles/helix_can_recommend_optimizations", { locked: false }, agent.key)).status).toBe(403);
    expect((await api(gw, "GET", "/v1/toggles/helix_can_change_models")).body.enabled).toBe(false);
    expect((await api(gw, "GET", "/v1/toggles/helix_autonomy_enabled")).body.enabled).toBe(false);

    const audit = await api(gw, "GET", "/admin/audit?limit=3");
    expect(audit.body.data.map((e: Record<string, unknown>) => [e.action, e.target, e.actor, e.actorKind, e.outcome])).toEqual([
      ["toggle.change", "helix_can_recommend_optimizations", agent.id, "agent", "refused"],
      ["toggle.change", "helix_autonomy_enabled", agent.id, "agent", "refused"],
      ["toggle.change", "helix_can_change_models", agent.id, "agent", "refused"],
    ]);

    // What an agent does control (BOTH, unlocked), it may flip; a user key may flip USER toggles.
    expect((await api(gw, "PATCH", "/v1/toggles/helix_can_recommend_optimizations", { enabled: true }, agent.key)).body).toMatchObject({ enabled: true, updatedBy: agent.id });
    const user = await keyOf(gw, "user");
    expect((await api(gw, "PATCH", "/v1/toggles/helix_autonomy_enabled", { enabled: true }, user.key)).body).toMatchObject({ enabled: true, updatedBy: user.id });
    expect((await api(gw, "PATCH", "/v1/toggles/helix_can_approve_costs", { enabled: true }, user.key)).status).toBe(403);
    // An admin may unlock and flip anything.
    expect((await api(gw, "PATCH", "/v1/toggles/helix_can_change_models", { enabled: true, locked: false })).body).toMatchObject({ enabled: true, locked: false, updatedBy: BOOTSTRAP_ADMIN_ID });
    // Notes past their bound are refused before anything is kept, a refused attempt's audit row included.
    const long = "n".repeat(2_001);
    const before = (await api(gw, "GET", "/admin/audit?limit=1")).body.data[0].id;
    const overlong = await api(gw, "PATCH", "/v1/toggles/helix_autonomy_enabled", { enabled: false, notes: long }, agent.key);
    expect(overlong).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
    expect((await api(gw, "PUT", "/admin/toggles/helix_autonomy_enabled", { enabled: false, notes: long })).status).toBe(400);
    expect((await api(gw, "GET", "/admin/audit?limit=1")).body.data[0].id).toBe(before);
    const applied = await api(gw, "GET", "/admin/audit?limit=1");
    expect(applied.body.data[0]).toMatchObject({ action: "toggle.change", target: "helix_can_change_models", outcome: "applied", details: { enabled: true, locked: false } });
  });

  it("refuses an operation's calls while the toggle it requires is off", async () => {
    const gw = await gateway(config({ operations: { auto_tune: { model: "p1/m1", requiresToggle: "helix_autonomy_enabled" }, plain: { model: "p2/m2" } } }));
    const refused = await refusal(gw, "auto_tune");
    expect(refused).toMatchObject({ status: 503, code: "disabled" });
    expect(refused.message).toContain('feature toggle "helix_autonomy_enabled" is off');
    expect((await ask(gw, "plain")).model).toBe("p2/m2");
    await api(gw, "PATCH", "/v1/toggles/helix_autonomy_enabled", { enabled: true });
    expect((await ask(gw, "auto_tune")).model).toBe("p1/m1");
  });

  it("creates toggles through the admin API, and a change on one instance reaches another", async () => {
    const { a, b } = await pair(config());
    const made = await api(a, "PUT", "/admin/toggles/beta_search", { enabled: false, controlledBy: "USER", notes: "new search" });
    expect(made).toMatchObject({ status: 201, body: { name: "beta_search", enabled: false, locked: false, controlledBy: "USER" } });
    const service = await keyOf(a, "service");
    expect((await api(a, "PUT", "/admin/toggles/other", { enabled: true }, service.key)).status).toBe(403);

    await api(a, "PATCH", "/v1/toggles/beta_search", { enabled: true });
    const changedAt = performance.now();
    for (;;) {
      const seen = await api(b, "GET", "/v1/toggles/beta_search");
      if (seen.status === 200 && seen.body.enabled === true) break;
      expect(performance.now() - changedAt, "the change did not reach the other instance within 1 s").toBeLessThan(1_000);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
});
