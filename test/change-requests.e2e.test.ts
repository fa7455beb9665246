import { describe, expect, it } from "vitest";
import { api, ask, BOOTSTRAP_ADMIN_ID, rawChat, routesSuite, type Instance } from "./support/routing.js";
import { awayFromMinuteEnd } from "./support/minute.js";
import { waitFor } from "./support/wait.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * Change control: any key may propose a change, only an admin other than the proposer may approve it,
 * approval applies it and writes its audit row in one statement or not at all, and a change proposed
 * against a value that has since moved is refused as stale.
 */
describe.each(STORE_KINDS)("change requests on %s", (kind) => {
  const { config, gateway, pair } = routesSuite(kind);
  const operations = { summarize: { model: "p1/m1" } };

  async function key(gw: Instance, name: string, keyKind: string): Promise<{ id: string; key: string }> {
    return (await api(gw, "POST", "/admin/keys", { name, kind: keyKind })).body;
  }

  const cheaper = { kind: "route", target: "summarize", proposed: { model: "p2/m2" }, estimatedSavingsUsd: "120.50", qualityImpact: "none expected", confidence: 0.8, reasoning: "p2/m2 answers as well for summaries" };

  it("lets an agent propose but never approve; an admin's approval applies the change with its audit row", async () => {
    const gw = await gateway(config({ operations, models: [{ id: "p1/m1", price: { input: "2", output: "8", per: "1M" } }, { id: "p2/m2", price: { input: "1", output: "2", per: "1M" } }, { id: "p3/m3" }] }));
    const agent = await key(gw, "optimizer", "agent");
    for (let i = 0; i < 3; i++) expect((await ask(gw, "summarize")).model).toBe("p1/m1");
    const proposed = await api(gw, "POST", "/admin/change-requests", cheaper, agent.key);
    expect(proposed.status).toBe(201);
    // The agent may not read spend (GET /admin/spend is an admin's), so the estimate's figures are withheld from it.
    expect(await api(gw, "GET", "/admin/spend", undefined, agent.key)).toMatchObject({ status: 403 });
    const withheld = {
      days: 30,
      calls: null,
      currentCostUsd: null,
      projectedCostUsd: null,
      projectedMonthlyChangeUsd: null,
      basis: 'the successful calls of operation "summarize" over 30 days, priced as p2/m2',
      withheld: "spend figures are shown only to keys that may read spend (admin keys)",
    };
    expect(proposed.body.impact).toEqual(withheld);
    expect((await api(gw, "GET", `/admin/change-requests/${proposed.body.id}`, undefined, agent.key)).body.impact).toEqual(withheld);
    // The approver sees it whole.
    const request = (await api(gw, "GET", `/admin/change-requests/${proposed.body.id}`)).body;
    // The impact: each call used 1843 prompt tokens (1536 cached) and 199 completion tokens (192 reasoning).
    // On p1/m1 (2 in, 8 out per 1M): 1843 × 2 + 199 × 8 = 5278 per 1M, so $0.005278 a call; on p2/m2 (1, 2):
    // 1843 + 398 = 2241, so $0.002241. Three calls in the 30 days replayed: $0.015834 against $0.006723.
    expect(request.impact).toEqual({
      days: 30,
      calls: 3,
      currentCostUsd: "0.015834",
      projectedCostUsd: "0.006723",
      projectedMonthlyChangeUsd: "-0.009111",
      basis: 'the successful calls of operation "summarize" over 30 days, priced as p2/m2',
    });
    expect(request).toMatchObject({ kind: "route", target: "summarize", category: "model_switch", status: "PENDING", requestedBy: agent.id, requestedByKind: "agent", estimatedSavingsUsd: "120.5", confidence: "0.8" });
    expect(request.current).toMatchObject({ model: "p1/m1" });
    expect(request.proposed).toMatchObject({ model: "p2/m2", fallbacks: [], enabled: true });

    expect(await api(gw, "POST", `/admin/change-requests/${request.id}/approve`, {}, agent.key)).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    expect((await ask(gw, "summarize")).model).toBe("p1/m1");

    const approved = await api(gw, "POST", `/admin/change-requests/${request.id}/approve`, { note: "ok for summaries" });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: "APPLIED", decidedBy: BOOTSTRAP_ADMIN_ID, decisionNote: "ok for summaries" });
    expect((await ask(gw, "summarize")).model).toBe("p2/m2");
    expect((await api(gw, "GET", "/admin/routes/summarize")).body).toMatchObject({ source: "admin", updatedBy: BOOTSTRAP_ADMIN_ID });

    const audit = (await api(gw, "GET", "/admin/audit?action=change_request.&since=1h")).body.data;
    expect(audit.map((e: any) => [e.action, e.target, e.actor])).toEqual([
      ["change_request.apply", request.id, BOOTSTRAP_ADMIN_ID],
      ["change_request.create", request.id, agent.id],
    ]);
    expect(audit[0].details).toMatchObject({ kind: "route", target: "summarize", from: { model: "p1/m1" }, to: { model: "p2/m2" }, requestedBy: agent.id });
    // Decided once: a second approval is refused.
    expect(await api(gw, "POST", `/admin/change-requests/${request.id}/approve`, {})).toMatchObject({ status: 409, body: { error: { code: "conflict", status: "APPLIED" } } });
  });

  it("refuses a NUL character in a proposal or a decision's note with 400 naming the field, and stores nothing", async () => {
    const gw = await gateway(config({ operations }));
    const nul = await api(gw, "POST", "/admin/change-requests", { ...cheaper, reasoning: "cheaper\u0000" });
    expect(nul).toMatchObject({ status: 400, body: { error: { code: "invalid_request", param: "reasoning" } } });
    expect(nul.body.error.message).toContain("NUL");
    const inProposed = await api(gw, "POST", "/admin/change-requests", { ...cheaper, proposed: { model: "p2/m2", fallbacks: ["p3/m3\u0000"] } });
    expect(inProposed).toMatchObject({ status: 400, body: { error: { code: "invalid_request", param: "proposed.fallbacks.0" } } });
    expect((await api(gw, "GET", "/admin/change-requests")).body.data).toEqual([]);

    const agent = await key(gw, "optimizer", "agent");
    const request = (await api(gw, "POST", "/admin/change-requests", cheaper, agent.key)).body;
    for (const decision of ["approve", "reject"]) {
      expect(await api(gw, "POST", `/admin/change-requests/${request.id}/${decision}`, { note: "ok\u0000" })).toMatchObject({ status: 400, body: { error: { code: "invalid_request", param: "note" } } });
    }
    expect((await api(gw, "GET", `/admin/change-requests/${request.id}`)).body.status).toBe("PENDING");
  });

  it("never lets the proposer approve its own request, even an admin", async () => {
    const gw = await gateway(config({ operations }));
    const proposed = (await api(gw, "POST", "/admin/change-requests", cheaper)).body;
    const own = await api(gw, "POST", `/admin/change-requests/${proposed.id}/approve`, {});
    expect(own).toMatchObject({ status: 403 });
    expect(own.body.error.message).toContain("cannot be approved by the key that proposed it");
    const second = await key(gw, "second admin", "admin");
    expect((await api(gw, "POST", `/admin/change-requests/${proposed.id}/approve`, {}, second.key)).body.status).toBe("APPLIED");
  });

  it("applies an approved change to a global budget, which has no target, and a higher limit reopens its window", async () => {
    const gw = await gateway(config({ budgets: [{ name: "all", scope: "global", limit: "0.01" }] }));
    // Each call holds about $0.008 (max_tokens 4000 at $2 per 1M) and costs $0.002241: the second finds no room.
    expect((await rawChat(gw, gw.adminKey, { max_tokens: 4_000 })).status).toBe(200);
    expect((await rawChat(gw, gw.adminKey, { max_tokens: 4_000 })).status).toBe(429);
    await waitFor(async () => (await api(gw, "GET", "/admin/budgets")).body.data[0].current.exhausted, (exhausted) => exhausted, 5_000);
    const user = await key(gw, "finance bot", "service");
    const proposed = await api(gw, "PUT", "/admin/budgets/all", { scope: "global", limit: "200" }, user.key);
    expect(proposed).toMatchObject({ status: 202, body: { status: "PENDING" } });
    // As the admins who decide see it: the values are theirs to read, not the service key's.
    expect((await api(gw, "GET", `/admin/change-requests/${proposed.body.change_request}`)).body.proposed).not.toHaveProperty("target");
    const approved = await api(gw, "POST", `/admin/change-requests/${proposed.body.change_request}/approve`, {});
    expect(approved).toMatchObject({ status: 200, body: { status: "APPLIED" } });
    expect((await api(gw, "GET", "/admin/budgets")).body.data[0]).toMatchObject({ name: "all", scope: "global", limit: "200", current: { exhausted: false } });
    expect((await rawChat(gw, gw.adminKey, { max_tokens: 4_000 })).status).toBe(200);
  });

  it("refuses a stale request: the value it was proposed against changed since", async () => {
    const gw = await gateway(config({ budgets: [{ name: "team", scope: "team", target: "t1", limit: "10" }] }));
    const user = await key(gw, "finance bot", "service");
    const proposed = await api(gw, "PUT", "/admin/budgets/team", { scope: "team", target: "t1", limit: "50" }, user.key);
    expect(proposed).toMatchObject({ status: 202, body: { status: "PENDING" } });
    expect(proposed.body.request).toMatchObject({ kind: "budget", category: "budget_change", current: null, proposed: null });
    expect((await api(gw, "GET", `/admin/change-requests/${proposed.body.change_request}`)).body).toMatchObject({ current: { limit: "10" }, proposed: { limit: "50" } });
    // An admin moves the limit directly meanwhile.
    expect((await api(gw, "PUT", "/admin/budgets/team", { scope: "team", target: "t1", limit: "20" })).status).toBe(200);
    const stale = await api(gw, "POST", `/admin/change-requests/${proposed.body.change_request}/approve`, {});
    expect(stale).toMatchObject({ status: 409, body: { error: { code: "conflict", stale: true } } });
    expect((await api(gw, "GET", "/admin/budgets")).body.data[0].limit).toBe("20");
    expect((await api(gw, "GET", `/admin/change-requests/${proposed.body.change_request}`)).body.status).toBe("PENDING");
  });

  it("applies nothing and audits nothing when applying fails, and applies both when it succeeds", async () => {
    const gw = await gateway(config({ operations }));
    const request = (await api(gw, "POST", "/admin/change-requests", cheaper, (await key(gw, "svc", "service")).key)).body;
    // A forced failure inside the approving statement: the route write raises.
    await gw.plane.database.execute(`create function refuse_route_write() returns trigger language plpgsql as $$ begin raise exception 'forced failure'; end; $$;
      create trigger refuse_route_write before insert or update on routes for each row execute function refuse_route_write()`);
    const failed = await api(gw, "POST", `/admin/change-requests/${request.id}/approve`, {});
    expect(failed.status).toBe(500);
    expect(failed.body.error.message).not.toContain("forced failure");
    expect((await api(gw, "GET", `/admin/change-requests/${request.id}`)).body.status).toBe("PENDING");
    expect((await api(gw, "GET", "/admin/audit?action=change_request.apply")).body.data).toEqual([]);
    expect((await ask(gw, "summarize")).model).toBe("p1/m1");

    await gw.plane.database.execute("drop trigger refuse_route_write on routes");
    expect((await api(gw, "POST", `/admin/change-requests/${request.id}/approve`, {})).body.status).toBe("APPLIED");
    expect((await api(gw, "GET", "/admin/audit?action=change_request.apply")).body.data).toHaveLength(1);
    expect((await ask(gw, "summarize")).model).toBe("p2/m2");
  });

  it("turns a user key's margin-impacting changes into pending requests (202), refuses its others (403), and applies a price once approved", async () => {
    // A price rise (cost_increase) and route changes are margin-impacting here; budget changes are not.
    const gw = await gateway(config({ operations, changeControl: { marginImpacting: ["cost_increase", "route_change"] } }));
    const user = await key(gw, "app", "user");
    const price = await api(gw, "POST", "/admin/prices", { model: "p1/m1", price: { input: "3", output: "9", per: "1M" } }, user.key);
    expect(price).toMatchObject({ status: 202, body: { status: "PENDING", request: { kind: "price", target: "p1/m1", category: "cost_increase" } } });
    const route = await api(gw, "PATCH", "/admin/routes/summarize", { fallbacks: ["p3/m3"] }, user.key);
    // The whole route made from the one in force is the admins' to see, not the user key's (GET /admin/routes refuses it).
    expect(route).toMatchObject({ status: 202, body: { request: { kind: "route", category: "route_change", current: null, proposed: null } } });
    expect((await api(gw, "GET", `/admin/change-requests/${route.body.change_request}`)).body.proposed).toMatchObject({ model: "p1/m1", fallbacks: ["p3/m3"] });
    const budget = await api(gw, "PUT", "/admin/budgets/team", { scope: "team", target: "t1", limit: "50" }, user.key);
    expect(budget).toMatchObject({ status: 403, body: { error: { code: "forbidden", category: "budget_change" } } });
    const priceOf = async () => (await api(gw, "GET", "/admin/prices")).body.data.find((p: any) => p.model === "p1/m1").price;
    expect(await priceOf()).toMatchObject({ origin: "config", price: { input: "1", output: "2" } });

    const pending = (await api(gw, "GET", "/admin/change-requests?status=PENDING")).body.data;
    expect(pending.map((r: any) => r.kind).sort()).toEqual(["price", "route"]);
    expect((await api(gw, "POST", `/admin/change-requests/${price.body.change_request}/approve`, {})).body.status).toBe("APPLIED");
    expect(await priceOf()).toMatchObject({ origin: "admin", createdBy: BOOTSTRAP_ADMIN_ID, price: { input: "3", output: "9" } });
    // The proposer may withdraw its own; others may not.
    const other = await key(gw, "other", "service");
    expect((await api(gw, "POST", `/admin/change-requests/${route.body.change_request}/reject`, {}, other.key)).status).toBe(403);
    const withdrawn = await api(gw, "POST", `/admin/change-requests/${route.body.change_request}/reject`, { note: "not needed" }, user.key);
    expect(withdrawn.body).toMatchObject({ status: "REJECTED", decisionNote: "not needed" });
    // Nor does a 202 or a withdrawal tell a user key what the replayed calls cost.
    for (const answer of [price.body.request, route.body.request, withdrawn.body]) expect(answer.impact).toMatchObject({ calls: null, currentCostUsd: null, projectedCostUsd: null, projectedMonthlyChangeUsd: null });
  });

  it("refuses a key that is not an admin's changes past server.adminWritesPerMinute across instances, 429 with Retry-After; admins are not counted", async () => {
    await awayFromMinuteEnd(20_000);
    const { a, b } = await pair(config({ operations, server: { adminWritesPerMinute: 4 } }));
    const agent = await key(a, "flooder", "agent");
    // Propose, withdraw, propose, withdraw: four changes, alternating between the two instances.
    for (const [proposeOn, withdrawOn] of [[a, b], [b, a]] as const) {
      const proposed = await api(proposeOn, "POST", "/admin/change-requests", cheaper, agent.key);
      expect(proposed.status).toBe(201);
      expect((await api(withdrawOn, "POST", `/admin/change-requests/${proposed.body.id}/reject`, {}, agent.key)).status).toBe(200);
    }
    for (const gw of [a, b]) {
      const res = await fetch(`${gw.url}/admin/change-requests`, { method: "POST", headers: { authorization: `Bearer ${agent.key}`, "content-type": "application/json" }, body: JSON.stringify(cheaper) });
      expect(res.status).toBe(429);
      const retryAfter = Number(res.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      const { error } = (await res.json()) as { error: Record<string, unknown> };
      expect(error).toMatchObject({ code: "rate_limited", type: "rate_limit_error", param: null, rate_limit: "server.adminWritesPerMinute", scope: "key", unit: "requests", limit: 4 });
      expect(error.message).toBe("this key has made its 4 changes through the admin API for this minute (server.adminWritesPerMinute; admin keys are not limited)");
    }
    // A direct change that would become a request is refused alike; nothing more was filed.
    expect((await api(b, "POST", "/admin/prices", { model: "p1/m1", price: { input: "3", output: "9", per: "1M" } }, agent.key)).status).toBe(429);
    const filed = (await api(a, "GET", "/admin/change-requests")).body.data.filter((r: { requestedBy: string }) => r.requestedBy === agent.id);
    expect(filed.map((r: { status: string }) => r.status)).toEqual(["REJECTED", "REJECTED"]);
    // Reads are not counted, another key has its own allowance, and an admin's changes are never counted.
    expect((await api(b, "GET", `/admin/change-requests/${filed[0].id}`, undefined, agent.key)).status).toBe(200);
    const other = await key(a, "other", "agent");
    expect((await api(a, "POST", "/admin/change-requests", cheaper, other.key)).status).toBe(201);
    for (let i = 0; i < 6; i++) expect((await api(i % 2 ? a : b, "POST", "/admin/keys", { name: `admin-made-${i}`, kind: "service" })).status).toBe(201);
  });

  it("refuses a key that is not an admin's more pending requests than changeControl.maxPendingPerKey, until one is decided", async () => {
    const gw = await gateway(config({ operations: { ...operations, payroll: { model: "p1/m1", criticality: "HIGH" } }, changeControl: { maxPendingPerKey: 2 } }));
    const agent = await key(gw, "optimizer", "agent");
    const first = (await api(gw, "POST", "/admin/change-requests", cheaper, agent.key)).body;
    expect((await api(gw, "POST", "/admin/change-requests", cheaper, agent.key)).status).toBe(201);
    const refused = await api(gw, "POST", "/admin/change-requests", cheaper, agent.key);
    expect(refused).toMatchObject({ status: 403, body: { error: { code: "forbidden", type: "permission_error", param: null, maxPendingPerKey: 2 } } });
    expect(refused.body.error.message).toContain("changeControl.maxPendingPerKey");
    // A direct change that would have been queued is refused alike.
    expect(await api(gw, "POST", "/admin/prices", { model: "p1/m1", price: { input: "3", output: "9", per: "1M" } }, agent.key)).toMatchObject({ status: 403, body: { error: { maxPendingPerKey: 2 } } });
    const mine = (await api(gw, "GET", "/admin/change-requests?status=PENDING")).body.data.filter((r: any) => r.requestedBy === agent.id);
    expect(mine).toHaveLength(2);
    // A grant request the agent files itself counts as any other.
    const grant = { kind: "grant", target: `${agent.id}/summarize`, proposed: { keyId: agent.id, operation: "summarize", maxCalls: 5 } };
    expect(await api(gw, "POST", "/admin/change-requests", grant, agent.key)).toMatchObject({ status: 403, body: { error: { maxPendingPerKey: 2 } } });
    // The grant request Airlock files for the agent's refused HIGH-criticality call is never refused by the limit.
    const call = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${agent.key}`, "content-type": "application/json" }, body: JSON.stringify({ model: "payroll", messages: [{ role: "user", content: "hi" }] }) });
    const refusal = (await call.json()) as any;
    expect(refusal.error).toMatchObject({ code: "approval_required", approval_request: expect.stringMatching(/^chg_/) });
    expect((await api(gw, "GET", `/admin/change-requests/${refusal.error.approval_request}`)).body).toMatchObject({ kind: "grant", status: "PENDING", requestedBy: agent.id });
    expect((await api(gw, "POST", `/admin/change-requests/${refusal.error.approval_request}/reject`, {})).body.status).toBe("REJECTED");
    // Each key has its own allowance, and an admin has none.
    const other = await key(gw, "other", "agent");
    expect((await api(gw, "POST", "/admin/change-requests", cheaper, other.key)).status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await api(gw, "POST", "/admin/change-requests", cheaper)).status).toBe(201);
    // A decided request frees its place: withdrawn by the agent, or rejected by an admin.
    expect((await api(gw, "POST", `/admin/change-requests/${first.id}/reject`, {}, agent.key)).body.status).toBe("REJECTED");
    expect((await api(gw, "POST", "/admin/change-requests", cheaper, agent.key)).status).toBe(201);
    expect((await api(gw, "POST", "/admin/change-requests", cheaper, agent.key)).status).toBe(403);
  });

  it("counts a price that raises any unit, not only input or output, as a cost increase", async () => {
    const gw = await gateway(config({ operations, changeControl: { marginImpacting: ["cost_increase"] } }));
    const user = await key(gw, "app", "user");
    // p1/m1 is { input: "1", output: "2" }: the same with a request fee, or dearer cache writes, bills more.
    for (const price of [
      { input: "1", output: "2", request: "0.01", per: "1M" },
      { input: "1", output: "2", cacheWrite: "5", per: "1M" },
    ]) {
      const answer = await api(gw, "POST", "/admin/prices", { model: "p1/m1", price }, user.key);
      expect(answer).toMatchObject({ status: 202, body: { request: { kind: "price", category: "cost_increase" } } });
    }
    // A cheaper cache read only is a price change, which this configuration leaves to admins.
    const cheaper = await api(gw, "POST", "/admin/prices", { model: "p1/m1", price: { input: "1", output: "2", cachedInput: "0.1", per: "1M" } }, user.key);
    expect(cheaper).toMatchObject({ status: 403, body: { error: { category: "price_change" } } });
  });

  it("expires a request nobody decided, and refuses a proposal that would not save", async () => {
    const gw = await gateway(config({ operations }));
    const request = (await api(gw, "POST", "/admin/change-requests", { ...cheaper, expiresInHours: 0.0001 })).body;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const second = await key(gw, "second", "admin");
    expect(await api(gw, "POST", `/admin/change-requests/${request.id}/approve`, {}, second.key)).toMatchObject({ status: 409, body: { error: { code: "conflict", status: "EXPIRED" } } });
    expect((await api(gw, "GET", "/admin/change-requests?status=EXPIRED")).body.data.map((r: any) => r.id)).toEqual([request.id]);
    expect((await api(gw, "GET", "/admin/audit?action=change_request.expire")).body.data).toEqual([expect.objectContaining({ target: request.id, actor: "system" })]);

    expect(await api(gw, "POST", "/admin/change-requests", { kind: "route", target: "summarize", proposed: { model: "nope/none" } })).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
    expect(await api(gw, "POST", "/admin/change-requests", { kind: "price", target: "p9/m9", proposed: { input: "1" } })).toMatchObject({ status: 404 });
    expect(await api(gw, "POST", "/admin/change-requests", { kind: "nonsense", target: "x", proposed: {} })).toMatchObject({ status: 400 });
  });

  it("keeps the audit log append-only, and audits key creation and revocation and an admin's direct changes", async () => {
    const gw = await gateway(config({ operations }));
    expect((await api(gw, "PUT", "/admin/routes/summarize", { model: "p3/m3" })).status).toBe(200);
    expect((await api(gw, "POST", "/admin/prices", { model: "p3/m3", price: { input: "1", output: "1", per: "1M" } })).status).toBe(200);
    const direct = (await api(gw, "GET", "/admin/audit?since=1h")).body.data.map((e: any) => [e.action, e.target, e.actor]);
    expect(direct).toEqual([
      ["price.set", "p3/m3", BOOTSTRAP_ADMIN_ID],
      ["route.set", "summarize", BOOTSTRAP_ADMIN_ID],
    ]);
    const made = await key(gw, "temp", "service");
    expect((await api(gw, "DELETE", `/admin/keys/${made.id}`)).status).toBe(200);
    const audit = (await api(gw, "GET", "/admin/audit?action=key.&limit=10")).body.data;
    expect(audit.map((e: any) => [e.action, e.target, e.actor])).toEqual([
      ["key.revoke", made.id, BOOTSTRAP_ADMIN_ID],
      ["key.create", made.id, BOOTSTRAP_ADMIN_ID],
    ]);
    await expect(gw.plane.database.execute("update audit_events set reason = 'rewritten'")).rejects.toThrow(/append-only/);
    await expect(gw.plane.database.execute("delete from audit_events")).rejects.toThrow(/append-only/);
    expect((await api(gw, "GET", "/admin/audit?action=key.")).body.data).toHaveLength(2);
  });
});
