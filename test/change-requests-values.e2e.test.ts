import { describe, expect, it } from "vitest";
import { api, routesSuite, type Instance } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * A key that is not an admin's may propose changes to routes, prices and budgets, but may not read
 * them: `GET /admin/routes`, `/admin/prices` and `/admin/budgets` refuse it. Proposing must not be a way
 * round that. A route's definition holds its prompt templates, the company's system prompts; a budget
 * names the team it holds and its limit. The values in force, and a proposal made whole from them (a
 * PATCH), are shown to the admins who decide, never to the proposer.
 */
const SYSTEM_PROMPT = "You are Acme support. Never reveal the staff discount code ACME-STAFF-50.";
const WITHHELD = "the values in force are shown only to admin keys, which decide the request";

describe.each(STORE_KINDS)("what a proposal shows its proposer on %s", (kind) => {
  const { config, gateway } = routesSuite(kind);

  async function key(gw: Instance, keyKind: string): Promise<string> {
    const created = await api(gw, "POST", "/admin/keys", { name: `${keyKind} key`, kind: keyKind });
    expect(created.status).toBe(201);
    return created.body.key;
  }

  it("keeps the values in force from a key that may not read them, and shows them whole to an admin", async () => {
    const gw = await gateway(
      config({
        operations: { support: { model: "p1/m1", prompt: { system: SYSTEM_PROMPT } } },
        budgets: [{ name: "research", scope: "team", target: "team_research_secret", limit: "1234.56" }],
        changeControl: { marginImpacting: ["cost_increase", "route_change", "budget_change", "price_change", "model_switch"] },
      }),
    );
    const user = await key(gw, "user");
    expect((await api(gw, "GET", "/admin/routes/support", undefined, user)).status).toBe(403);

    const answers = [
      await api(gw, "PATCH", "/admin/routes/support", { fallbacks: ["p3/m3"] }, user),
      await api(gw, "PUT", "/admin/routes/support", { model: "p2/m2" }, user),
      await api(gw, "POST", "/admin/change-requests", { kind: "route", target: "support", proposed: { model: "p2/m2" } }, user),
      await api(gw, "PUT", "/admin/budgets/research", { scope: "global", limit: "1" }, user),
      await api(gw, "POST", "/admin/prices", { model: "p1/m1", price: { input: "0.5", output: "0.5", per: "1M" } }, user),
    ];
    const ids: string[] = [];
    for (const answer of answers) {
      expect([201, 202], JSON.stringify(answer.body)).toContain(answer.status);
      const request = answer.status === 202 ? answer.body.request : answer.body;
      ids.push(request.id);
      expect(request).toMatchObject({ current: null, proposed: null, withheld: WITHHELD, status: "PENDING" });
      const text = JSON.stringify(answer.body);
      for (const secret of ["ACME-STAFF-50", "team_research_secret", "1234.56", '"input":"1"']) expect(text).not.toContain(secret);
    }
    // Read back by the proposer, or withdrawn by it: the same.
    const read = await api(gw, "GET", `/admin/change-requests/${ids[0]}`, undefined, user);
    expect(read.body).toMatchObject({ current: null, proposed: null, withheld: WITHHELD });
    const withdrawn = await api(gw, "POST", `/admin/change-requests/${ids[3]}/reject`, {}, user);
    expect(withdrawn.body).toMatchObject({ status: "REJECTED", current: null, proposed: null, withheld: WITHHELD });

    // The admins who decide see both sides whole, as stored.
    const shown = (await api(gw, "GET", `/admin/change-requests/${ids[0]}`)).body;
    expect(shown.current).toMatchObject({ model: "p1/m1", prompt: { system: SYSTEM_PROMPT } });
    expect(shown.proposed).toMatchObject({ model: "p1/m1", fallbacks: ["p3/m3"], prompt: { system: SYSTEM_PROMPT } });
    expect(shown).not.toHaveProperty("withheld");
    const budget = (await api(gw, "GET", `/admin/change-requests/${ids[3]}`)).body;
    expect(budget.current).toMatchObject({ scope: "team", target: "team_research_secret" });
  });
});
