import { describe, expect, it } from "vitest";
import { api, ask, rawChat, refusal, routesSuite, rowOf, type Instance } from "./support/routing.js";
import { waitFor } from "./support/wait.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * Approval grants: a HIGH-criticality operation refuses a key that has no grant with
 * `approval_required` and the id of a request for one; an admin's grant lets calls through until it
 * expires, runs out of calls or spend, or is revoked; every call counts against it.
 */
describe.each(STORE_KINDS)("approval grants on %s", (kind) => {
  const { config, gateway, sent } = routesSuite(kind);
  const operations = { payout: { model: "p1/m1", criticality: "HIGH" as const }, chat: { model: "p2/m2" } };

  async function key(gw: Instance, name: string): Promise<{ id: string; key: string }> {
    return (await api(gw, "POST", "/admin/keys", { name, kind: "service" })).body;
  }

  const grantsOf = async (gw: Instance, keyId: string) => (await api(gw, "GET", "/admin/grants")).body.data.filter((g: any) => g.keyId === keyId);

  it("refuses a HIGH operation without a grant, with a request for one that an admin's approval turns into a grant", async () => {
    const gw = await gateway(config({ operations }));
    const svc = await key(gw, "payments");
    const before = sent();
    const refused = await refusal(gw, "payout", { key: svc.key });
    expect(refused).toMatchObject({ status: 403, code: "approval_required" });
    expect(sent()).toEqual(before);
    expect(await rowOf(gw, refused.requestId)).toMatchObject({ outcome: "refused", errorCode: "approval_required", operation: "payout" });
    // Other operations, and other keys' refusals, are untouched by it.
    expect((await ask(gw, "chat", { key: svc.key })).model).toBe("p2/m2");

    const raw = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${svc.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "payout", messages: [{ role: "user", content: "pay" }] }),
    });
    const error = ((await raw.json()) as { error: { approval_request: string; operation: string } }).error;
    expect(error.operation).toBe("payout");
    const request = (await api(gw, "GET", `/admin/change-requests/${error.approval_request}`)).body;
    expect(request).toMatchObject({ kind: "grant", target: `${svc.id}/payout`, category: "approval_grant", status: "PENDING", requestedBy: svc.id, proposed: { keyId: svc.id, operation: "payout", expiresInHours: 24, maxCalls: 100 } });
    // Refused again: the same request, not a new one.
    const again = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${svc.key}`, "content-type": "application/json" }, body: JSON.stringify({ model: "payout", messages: [{ role: "user", content: "pay" }] }) });
    expect(((await again.json()) as { error: { approval_request: string } }).error.approval_request).toBe(error.approval_request);

    expect((await api(gw, "POST", `/admin/change-requests/${request.id}/approve`, {})).body.status).toBe("APPLIED");
    expect((await ask(gw, "payout", { key: svc.key })).model).toBe("p1/m1");
    expect((await ask(gw, "payout", { key: svc.key })).model).toBe("p1/m1");
    const [grant] = await grantsOf(gw, svc.id);
    expect(grant).toMatchObject({ operation: "payout", maxCalls: 100, callsUsed: 2, requestId: request.id, revokedAt: null });
  });

  it("lets an admin approve the request a refusal names after a grant made meanwhile was used up", async () => {
    const gw = await gateway(config({ operations }));
    const svc = await key(gw, "used-up");
    const first = await refusal(gw, "payout", { key: svc.key });
    const requestId = (await api(gw, "GET", "/admin/change-requests?status=PENDING")).body.data.find((r: any) => r.requestedBy === svc.id).id;
    // An admin grants one call directly instead, and the key uses it up.
    await api(gw, "POST", "/admin/grants", { keyId: svc.id, operation: "payout", maxCalls: 1 });
    expect((await ask(gw, "payout", { key: svc.key })).model).toBe("p1/m1");
    const raw = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${svc.key}`, "content-type": "application/json" }, body: JSON.stringify({ model: "payout", messages: [{ role: "user", content: "pay" }] }) });
    expect(raw.status).toBe(403);
    expect(((await raw.json()) as { error: { approval_request: string } }).error.approval_request).toBe(requestId);
    expect(first.code).toBe("approval_required");
    // The request it names is the way to more calls: approving it is not refused as stale.
    expect(await api(gw, "POST", `/admin/change-requests/${requestId}/approve`, {})).toMatchObject({ status: 200, body: { status: "APPLIED" } });
    expect((await ask(gw, "payout", { key: svc.key })).model).toBe("p1/m1");
  });

  it("files one request for a burst of refused calls, all of which name it", async () => {
    const gw = await gateway(config({ operations }));
    const svc = await key(gw, "burst");
    const call = async () => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${svc.key}`, "content-type": "application/json" }, body: JSON.stringify({ model: "payout", messages: [{ role: "user", content: "pay" }] }) });
      return { status: res.status, error: ((await res.json()) as { error: { code: string; approval_request: string } }).error };
    };
    const refusals = await Promise.all(Array.from({ length: 8 }, call));
    const requests = (await api(gw, "GET", "/admin/change-requests?status=PENDING")).body.data.filter((r: any) => r.kind === "grant" && r.requestedBy === svc.id);
    expect(requests).toHaveLength(1);
    for (const refused of refusals) expect(refused).toMatchObject({ status: 403, error: { code: "approval_required", approval_request: requests[0].id } });
  });

  it("holds a grant to its call count, its expiry, its spend and its revocation", async () => {
    const gw = await gateway(config({ operations }));
    const counted = await key(gw, "counted");
    const made = await api(gw, "POST", "/admin/grants", { keyId: counted.id, operation: "payout", maxCalls: 2, expiresInHours: 1 });
    expect(made).toMatchObject({ status: 201, body: { keyId: counted.id, operation: "payout", maxCalls: 2, callsUsed: 0 } });
    expect((await ask(gw, "payout", { key: counted.key })).model).toBe("p1/m1");
    expect((await ask(gw, "payout", { key: counted.key })).model).toBe("p1/m1");
    expect(await refusal(gw, "payout", { key: counted.key })).toMatchObject({ code: "approval_required" });
    expect((await grantsOf(gw, counted.id))[0]).toMatchObject({ callsUsed: 2 });

    const brief = await key(gw, "brief");
    await api(gw, "POST", "/admin/grants", { keyId: brief.id, operation: "payout", maxCalls: 10, expiresInHours: 0.0003 });
    expect((await ask(gw, "payout", { key: brief.key })).model).toBe("p1/m1");
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    expect(await refusal(gw, "payout", { key: brief.key })).toMatchObject({ code: "approval_required" });

    // A spend limit: the first call's cost is added to the grant when it settles, and the next finds no room.
    const spender = await key(gw, "spender");
    // Its amounts are answered as every other answer writes money, not padded to the column's twelve places.
    const spendGrant = await api(gw, "POST", "/admin/grants", { keyId: spender.id, operation: "payout", maxSpendUsd: "0.000001", expiresInHours: 1 });
    expect(spendGrant.body).toMatchObject({ maxSpendUsd: "0.000001", spendUsed: "0" });
    expect((await grantsOf(gw, spender.id))[0]).toMatchObject({ maxSpendUsd: "0.000001", spendUsed: "0" });
    expect((await ask(gw, "payout", { key: spender.key })).model).toBe("p1/m1");
    for (let i = 0; i < 200 && Number((await grantsOf(gw, spender.id))[0].spendUsed) === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(Number((await grantsOf(gw, spender.id))[0].spendUsed)).toBeGreaterThan(0.000001);
    expect(await refusal(gw, "payout", { key: spender.key })).toMatchObject({ code: "approval_required" });

    const revoked = await key(gw, "revoked");
    const grant = (await api(gw, "POST", "/admin/grants", { keyId: revoked.id, operation: "payout", maxCalls: 5 })).body;
    expect((await ask(gw, "payout", { key: revoked.key })).model).toBe("p1/m1");
    expect((await api(gw, "DELETE", `/admin/grants/${grant.id}`)).status).toBe(200);
    expect(await refusal(gw, "payout", { key: revoked.key })).toMatchObject({ code: "approval_required" });
    expect((await api(gw, "GET", "/admin/audit?action=grant.&limit=10")).body.data.map((e: any) => e.action)).toEqual(expect.arrayContaining(["grant.create", "grant.revoke"]));
    // Only an admin grants.
    expect((await api(gw, "POST", "/admin/grants", { keyId: revoked.id, operation: "payout", maxCalls: 5 }, revoked.key)).status).toBe(403);
    expect(await api(gw, "POST", "/admin/grants", { keyId: revoked.id, operation: "payout" })).toMatchObject({ status: 400 });
  });

  it("grants only a key that exists and is not revoked, directly or through a request", async () => {
    const gw = await gateway(config({ operations }));
    const mistyped = await api(gw, "POST", "/admin/grants", { keyId: "key_nosuchkey", operation: "payout", maxCalls: 5 });
    expect(mistyped).toMatchObject({ status: 404, body: { error: { code: "not_found", param: "keyId", message: 'no active key with id "key_nosuchkey"' } } });
    const gone = await key(gw, "gone");
    expect((await api(gw, "DELETE", `/admin/keys/${gone.id}`)).status).toBe(200);
    expect(await api(gw, "POST", "/admin/grants", { keyId: gone.id, operation: "payout", maxCalls: 5 })).toMatchObject({ status: 404 });
    // A request for a grant is checked as the grant would be: another key cannot have one filed for a key that is not there.
    const asker = await key(gw, "asker");
    const proposal = { kind: "grant", target: "key_nosuchkey/payout", proposed: { keyId: "key_nosuchkey", operation: "payout", maxCalls: 5 } };
    expect(await api(gw, "POST", "/admin/change-requests", proposal, asker.key)).toMatchObject({ status: 404, body: { error: { code: "not_found", param: "proposed" } } });
    expect(await grantsOf(gw, "key_nosuchkey")).toEqual([]);
    // A key made a moment ago is found.
    const fresh = await key(gw, "fresh");
    expect(await api(gw, "POST", "/admin/grants", { keyId: fresh.id, operation: "payout", maxCalls: 5 })).toMatchObject({ status: 201 });
  });

  it("holds each running call's worst case against a grant's spend limit, so a burst cannot spend past it", async () => {
    const gw = await gateway(config({ operations }));
    const burst = await key(gw, "burst-spender");
    // Each call holds about $0.006 (max_tokens 3000 at $2 per 1M) and costs $0.002241 (the fixture's usage).
    await api(gw, "POST", "/admin/grants", { keyId: burst.id, operation: "payout", maxSpendUsd: "0.02", expiresInHours: 1 });
    const results = await Promise.all(Array.from({ length: 20 }, () => rawChat(gw, burst.key, { model: "payout", max_tokens: 3_000 })));
    const served = results.filter((r) => r.status === 200);
    expect(results.filter((r) => r.status !== 200).map((r) => r.body.error.code)).toEqual(Array(20 - served.length).fill("approval_required"));
    expect(served.length).toBeGreaterThanOrEqual(3);
    // Admitted only while what was spent and held stayed under the limit: past it by one call's cost at most.
    const costs = served.map((r) => Number(r.headers.get("x-airlock-cost")));
    expect(costs.every((cost) => cost === 0.002241)).toBe(true);
    expect(served.length * 0.002241).toBeLessThan(0.02 + 0.002241);
    // Every hold was settled to the call's cost: the grant's spend is the served calls' cost, exactly.
    const settled = await waitFor(() => grantsOf(gw, burst.id), ([grant]) => Math.round(Number(grant.spendUsed) * 1e6) === served.length * 2241, 5_000);
    expect(settled.value[0]).toMatchObject({ callsUsed: served.length });
  });
});
