import { Decimal } from "decimal.js";
import { describe, expect, it } from "vitest";
import { insertChangeRequest } from "../src/store/queries/change-requests.js";
import { upsertRoute } from "../src/store/queries/routes.js";
import { api, routesSuite, type Instance } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * What the admin API refuses, and how: a value the store could not hold, a body nested too deep, a
 * name too long, an unknown field or operation, a lenient query. Each is the caller's mistake, answered
 * 400 (or 404) `invalid_request` naming the field, never a 500 from the store, and nothing is written.
 */
describe.each(STORE_KINDS)("admin input checks on %s", (kind) => {
  const { config, gateway } = routesSuite(kind);
  const HUGE = "123456789012345678901234567890";
  const operations = { payout: { model: "p1/m1", criticality: "HIGH" as const } };

  /** The request, answered 400 invalid_request with `param` naming `field` (a prefix of it where the whole body is the param). */
  async function refused(gw: Instance, method: string, path: string, body: unknown, param: string | null, status = 400) {
    const res = await api(gw, method, path, body);
    expect(res.status, `${method} ${path} ${JSON.stringify(body)?.slice(0, 200)}`).toBe(status);
    expect(res.body.error).toMatchObject({ code: status === 404 ? "not_found" : "invalid_request", param });
    return res.body.error as { message: string; param: string };
  }

  async function raw(gw: Instance, method: string, path: string, text: string) {
    const res = await fetch(gw.url + path, { method, headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" }, body: text });
    return { status: res.status, body: (await res.json()) as { error?: Record<string, unknown> } };
  }

  it("answers an id or a query text with a NUL character as the caller's mistake, for any key, never as a 500", async () => {
    const gw = await gateway(config());
    const agent = (await api(gw, "POST", "/admin/keys", { name: "agent", kind: "agent" })).body.key as string;
    for (const [method, path, key, what] of [
      ["GET", "/admin/change-requests/a%00b", agent, "change request"],
      ["POST", "/admin/change-requests/a%00b/approve", gw.adminKey, "change request"],
      ["POST", "/admin/change-requests/%00/reject", agent, "change request"],
      ["GET", "/admin/directives/%00", agent, "directive"],
      ["POST", "/admin/directives/%00/propose", agent, "directive"],
      ["POST", "/admin/directives/%00/approve", gw.adminKey, "directive"],
      ["GET", "/admin/runs/%00", gw.adminKey, "run"],
      ["GET", "/admin/artifacts/%00", gw.adminKey, "artifact"],
      ["DELETE", "/admin/keys/%00", gw.adminKey, "active key with id"],
      ["DELETE", "/admin/grants/%00", gw.adminKey, "live grant"],
    ] as const) {
      const res = await api(gw, method, path, method === "POST" ? {} : undefined, key);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error, path).toMatchObject({ code: "not_found", message: expect.stringContaining(`no ${what} "`) });
    }
    for (const [path, param] of [
      ["/admin/audit?action=key.%00", "action"],
      ["/admin/prices/history?model=p1/m1%00", "model"],
    ] as const) {
      const res = await api(gw, "GET", path);
      expect(res.status, path).toBe(400);
      expect(res.body.error, path).toMatchObject({ code: "invalid_request", param, message: `${param} must not contain a NUL character (\\u0000)` });
    }
  });

  it("refuses money amounts and counts the store's columns cannot hold, and takes the largest they can", async () => {
    const gw = await gateway(config({ operations }));
    await refused(gw, "PUT", "/admin/budgets/bb", { scope: "global", limit: HUGE }, "limit");
    await refused(gw, "PUT", "/admin/budgets/bb", { scope: "global", limit: "1000000000000" }, "limit");
    await refused(gw, "PUT", "/admin/budgets/bb", { scope: "global", limit: "5", warnAt: HUGE }, "warnAt");
    expect((await api(gw, "GET", "/admin/budgets")).body.data).toEqual([]);
    const largest = await api(gw, "PUT", "/admin/budgets/bb", { scope: "global", limit: "999999999999.999999999999" });
    expect(largest).toMatchObject({ status: 200, body: { name: "bb", limit: "999999999999.999999999999" } });

    const svc = (await api(gw, "POST", "/admin/keys", { name: "svc", kind: "service" })).body;
    await refused(gw, "POST", "/admin/grants", { keyId: svc.id, operation: "payout", maxCalls: 3_000_000_000 }, "maxCalls");
    await refused(gw, "POST", "/admin/grants", { keyId: svc.id, operation: "payout", maxSpendUsd: HUGE }, "maxSpendUsd");
    expect((await api(gw, "POST", "/admin/grants", { keyId: svc.id, operation: "payout", maxCalls: 2_147_483_647 })).status).toBe(201);
    // Through change control, the same terms are refused when proposed, not when an admin approves them.
    await refused(gw, "POST", "/admin/change-requests", { kind: "grant", target: `${svc.id}/payout`, proposed: { keyId: svc.id, operation: "payout", maxCalls: 3_000_000_000 } }, "proposed");
    await refused(gw, "POST", "/admin/change-requests", { kind: "budget", target: "bb", proposed: { scope: "global", limit: "1" }, estimatedSavingsUsd: `-${HUGE}` }, "estimatedSavingsUsd");
    expect((await api(gw, "GET", "/admin/change-requests")).body.data).toEqual([]);
    // One an earlier version took: approving it is refused as the caller's mistake, and it stays pending.
    const target = `${svc.id}/payout`;
    const proposed = { keyId: svc.id, operation: "payout", expiresInHours: 24, maxCalls: 3_000_000_000 };
    await insertChangeRequest(gw.plane.database.db, { id: "chg_old", kind: "grant", target, category: "approval_grant", proposed, estimatedSavingsUsd: null, qualityImpact: null, confidence: null, reasoning: null, impact: null, requestedBy: svc.id, requestedByKind: "service", expiresAt: new Date(Date.now() + 3_600_000) }, "audit_old");
    await refused(gw, "POST", "/admin/change-requests/chg_old/approve", {}, "proposed");
    expect((await api(gw, "GET", "/admin/change-requests/chg_old")).body).toMatchObject({ status: "PENDING" });

    const period = { periodStart: "2026-11-01", periodEnd: "2026-11-30" };
    await refused(gw, "POST", "/admin/costs", { category: "vm", amount: HUGE, ...period }, "amount");
    await refused(gw, "POST", "/admin/revenue", { strategy: "pro", amount: HUGE, ...period }, "amount");
    await refused(gw, "POST", "/admin/costs", { category: "vm", amount: "1", periodStart: "0001-01-01", periodEnd: "2026-11-30" }, "periodStart");
    expect((await api(gw, "POST", "/admin/revenue", { strategy: "pro", amount: "999999999999.99", ...period })).status).toBe(201);
  });

  it("refuses dates and durations outside 1970..2999, and days the calendar lacks, as the caller's mistake", async () => {
    const gw = await gateway(config());
    for (const path of ["/admin/spend?since=99999999999d", "/admin/spend/series?since=999999d&grain=hour", "/admin/overview?since=99999999999w", "/admin/audit?since=99999999999d", "/admin/spend?since=2026-02-30", "/admin/audit?since=2026-02-30", "/admin/spend?since=2026-02-28T25:00:00Z"]) {
      const res = await api(gw, "GET", path);
      expect(res.status, path).toBe(400);
      expect(res.body.error, path).toMatchObject({ code: "invalid_request", param: "since" });
    }
    expect((await api(gw, "GET", "/admin/reports/pnl?from=0001-01-01&to=9999-12-31")).body.error).toMatchObject({ code: "invalid_request", param: "from" });
    expect((await api(gw, "GET", "/admin/reports/pnl?from=2026-01-01&to=9999-12-31")).body.error).toMatchObject({ code: "invalid_request", param: "to" });
    expect((await api(gw, "GET", "/admin/reports/pnl?from=2026-02-30&to=2026-03-31")).body.error).toMatchObject({ code: "invalid_request", param: "from" });
    // A `to` alone, with the default `from` worked out from it.
    for (const to of ["abc", "2026-1-5"]) {
      const res = await api(gw, "GET", `/admin/reports/pnl?to=${to}`);
      expect(res.status, to).toBe(400);
      expect(res.body.error, to).toMatchObject({ code: "invalid_request", param: "to" });
    }
    expect((await api(gw, "GET", "/admin/reports/pnl?to=1970-01-05")).body).toMatchObject({ from: "1970-01-01", to: "1970-01-05" });
    // The strict reading still takes what the docs list.
    for (const path of ["/admin/spend?since=2026-02-28", "/admin/spend?since=2026-02-28T10:00:00Z", "/admin/spend?since=2026-02-28T10:00:00.000%2B02:00", "/admin/spend?since=2w", "/admin/reports/pnl?from=2026-02-01&to=2026-02-28"]) {
      expect((await api(gw, "GET", path)).status, path).toBe(200);
    }
  });

  it("reads limit in decimal digits only and format as json or csv only", async () => {
    const gw = await gateway(config());
    for (const limit of ["0x10", "1e2", "16.0", "+16", " 16", "0", "1001"]) {
      const res = await api(gw, "GET", `/admin/calls?limit=${encodeURIComponent(limit)}`);
      expect(res.status, limit).toBe(400);
      expect(res.body.error, limit).toMatchObject({ code: "invalid_request", param: "limit" });
    }
    expect((await api(gw, "GET", "/admin/audit?limit=16")).status).toBe(200);
    expect((await api(gw, "GET", "/admin/spend?format=xml")).body.error).toMatchObject({ code: "invalid_request", param: "format" });
    expect((await api(gw, "GET", "/admin/spend?format=json")).body).toMatchObject({ by: "operation", lines: [] });
    const csv = await fetch(`${gw.url}/admin/spend?format=csv&by=model`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
    expect((await csv.text()).split("\r\n")[0]).toBe("model,requests,errors,input_tokens,output_tokens,cost_usd");
  });

  it("refuses a report filter with a NUL character, which the store's text cannot hold, as the caller's mistake", async () => {
    const gw = await gateway(config());
    for (const [path, param] of [
      ["/admin/spend?user=%00", "user"],
      ["/admin/overview?model=a%00b", "model"],
      ["/admin/calls?operation=%00", "operation"],
      ["/admin/spend/series?user=x%00&grain=hour", "user"],
    ] as const) {
      const res = await api(gw, "GET", path);
      expect(res.status, path).toBe(400);
      expect(res.body.error, path).toMatchObject({ code: "invalid_request", param, message: `${param} must not contain a NUL character (\\u0000)` });
    }
    expect((await api(gw, "GET", "/admin/spend?user=alice")).status).toBe(200);
  });

  it("bounds prices so that no call's cost can leave the ledger's column, from the admin API and from an import", async () => {
    const gw = await gateway(config());
    const before = (await api(gw, "GET", "/admin/prices/history?model=p1/m1")).body.data;
    const tooDear = await refused(gw, "POST", "/admin/prices", { model: "p1/m1", price: { input: HUGE, output: "1", per: "1M" } }, "price");
    expect(tooDear.message).toContain("input: must be at most 1000000 per 1M");
    await refused(gw, "POST", "/admin/prices", { model: "p1/m1", price: { input: "1", output: "1001", per: "1K" } }, "price");
    await refused(gw, "POST", "/admin/prices", { model: "p1/m1", price: { input: "1.000001", per: "1" } }, "price");
    await refused(gw, "POST", "/admin/prices", { model: "p1/m1", price: { input: "1", request: "1000.5" } }, "price");
    await refused(gw, "POST", "/admin/prices", { model: "p1/m1", price: { input: "1", audioMinute: "100.01" } }, "price");
    await refused(gw, "POST", "/admin/prices/import", { origin: "openrouter", prices: [{ model: "p1/m1", price: { input: HUGE, output: "1" } }] }, "prices[0]");
    expect((await api(gw, "GET", "/admin/prices/history?model=p1/m1")).body.data).toEqual(before);

    // A dollar a token is the most: accepted, and a call at that price is costed and kept in the ledger.
    expect((await api(gw, "POST", "/admin/prices", { model: "p1/m1", price: { input: "1000000", output: "1000000", per: "1M" } })).status).toBe(200);
    const call = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "p1/m1", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(call.status).toBe(200);
    const cost = call.headers.get("x-airlock-cost")!;
    expect(Number(cost)).toBeGreaterThan(0);
    const [row] = (await api(gw, "GET", "/admin/calls?limit=1")).body.data;
    expect(row.model).toBe("p1/m1");
    expect(new Decimal(row.cost).eq(cost)).toBe(true);
    expect(gw.plane.ledgerStats).toMatchObject({ refused: 0 });
  });

  it("reads a price or an amount sent as a JSON number with more digits than a double holds exactly, as if sent as a string", async () => {
    const gw = await gateway(config({ operations }));
    // Written as JSON numbers: JSON.stringify cannot, so the text is sent as is.
    const price = await raw(gw, "POST", "/admin/prices", '{"model": "p1/m1", "price": {"input": 0.00000012345678901234567, "output": 12345.678901234567891, "per": "1M"}}');
    expect(price.status).toBe(200);
    expect((await api(gw, "GET", "/admin/prices")).body.data.find((p: { model: string }) => p.model === "p1/m1").price.price).toMatchObject({ input: "0.00000012345678901234567", output: "12345.678901234567891" });
    const budget = await raw(gw, "PUT", "/admin/budgets/bb", '{"scope": "global", "limit": 123456789.123456789012}');
    expect(budget).toMatchObject({ status: 200, body: { limit: "123456789.123456789012" } });
    // A number a double holds is read as before, counts included; a string inside is left alone.
    const cost = await raw(gw, "POST", "/admin/costs", '{"category": "vm", "description": "0.10000000000000000001", "amount": 1.5e-7, "periodStart": "2026-11-01", "periodEnd": "2026-11-30"}');
    expect(cost).toMatchObject({ status: 201, body: { description: "0.10000000000000000001", amount: "0.00000015" } });
    const limit = await raw(gw, "PUT", "/admin/rate-limits/rl", '{"scope": "global", "requestsPerMinute": 60.0}');
    expect(limit).toMatchObject({ status: 200, body: { name: "rl", requestsPerMinute: 60 } });
    // A whole number past what a double holds is past every bound: refused for its size, as before.
    const count = await raw(gw, "PUT", "/admin/rate-limits/rl2", '{"scope": "global", "requestsPerMinute": 12345678901234567891}');
    expect(count.status).toBe(400);
    expect(count.body.error).toMatchObject({ code: "invalid_request", message: expect.stringContaining("requestsPerMinute: Too big") });
  });

  it("answers a known path asked with a method it does not take 405 with Allow, and an unknown path 404", async () => {
    const gw = await gateway(config());
    for (const [method, path, allow] of [
      ["GET", "/v1/chat/completions", "POST"],
      ["DELETE", "/admin/keys", "GET, HEAD, POST"],
      ["POST", "/admin/keys/key_x", "DELETE"],
      ["GET", "/admin/budgets/bb", "PUT, DELETE"],
      ["PUT", "/admin/prices", "GET, HEAD, POST"],
      ["POST", "/admin/change-requests/chg_x", "GET, HEAD"],
    ] as const) {
      const res = await fetch(gw.url + path, { method, headers: { authorization: `Bearer ${gw.adminKey}`, "x-request-id": "wrong-method" } });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get("allow"), `${method} ${path}`).toBe(allow);
      expect(res.headers.get("x-request-id")).toBe("wrong-method");
      expect((await res.json()) as unknown, `${method} ${path}`).toEqual({
        error: { code: "method_not_allowed", type: "invalid_request_error", param: null, message: `${method} is not allowed on ${path}; it takes ${allow}` },
      });
    }
    const unknown = await fetch(`${gw.url}/admin/nothing-here`, { method: "POST", headers: { authorization: `Bearer ${gw.adminKey}` } });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("allow")).toBeNull();
    expect(((await unknown.json()) as { error: unknown }).error).toMatchObject({ code: "not_found" });
  });

  it("refuses an admin body nested deeper than 128 levels, and takes one at 128", async () => {
    const gw = await gateway(config());
    const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
    const deep = await raw(gw, "POST", "/admin/directives", `{"role":"ops","type":"noop","objective":"x","scope":"test","payload":${nested(10_000)}}`);
    expect(deep).toMatchObject({ status: 400, body: { error: { code: "invalid_request", message: expect.stringContaining("more than 128 levels deep") } } });
    expect((await raw(gw, "PUT", "/admin/budgets/deep", `{"scope":"global","limit":"1","x":${nested(128)}}`)).body.error).toMatchObject({ message: expect.stringContaining("more than 128 levels deep") });
    // 128 levels in all, the body's own object included: read, then judged by the budget's schema.
    const atLimit = await raw(gw, "PUT", "/admin/budgets/deep", `{"scope":"global","limit":"1","x":${nested(127)}}`);
    expect(atLimit).toMatchObject({ status: 400, body: { error: { message: expect.stringContaining('Unrecognized key: "x"') } } });
  });

  it("holds every name to 128 characters, and still reaches a longer one stored before", async () => {
    const gw = await gateway(config());
    const name128 = "r".repeat(128);
    const name129 = "r".repeat(129);
    expect((await api(gw, "PUT", `/admin/routes/${name128}`, { model: "p1/m1" })).status).toBe(201);
    expect((await api(gw, "GET", `/admin/routes/${name128}`)).body).toMatchObject({ name: name128 });
    await refused(gw, "PUT", `/admin/routes/${name129}`, { model: "p1/m1" }, "name");
    await refused(gw, "POST", "/admin/change-requests", { kind: "route", target: name129, proposed: { model: "p1/m1" } }, "name");
    await refused(gw, "PUT", `/admin/budgets/${name129}`, { scope: "global", limit: "1" }, "name");
    await refused(gw, "PUT", `/admin/rate-limits/${name129}`, { scope: "global", requestsPerMinute: 5 }, "name");
    await refused(gw, "PUT", `/admin/toggles/${name129}`, { enabled: true }, "name");
    expect((await api(gw, "PUT", `/admin/toggles/${"t".repeat(128)}`, { enabled: true })).status).toBe(201);
    // Dots alone: clients resolve `.` and `..` away, so such a name could never be reached again.
    for (const path of ["/admin/routes/...", "/admin/budgets/...", "/admin/rate-limits/....", "/admin/toggles/..."]) {
      const body = path.includes("routes") ? { model: "p1/m1" } : path.includes("budgets") ? { scope: "global", limit: "1" } : path.includes("rate") ? { scope: "global", requestsPerMinute: 5 } : { enabled: true };
      await refused(gw, "PUT", path, body, "name");
    }

    // A route an earlier version let through change control with a 150-character name: read, and deleted.
    const stranded = "s".repeat(150);
    await upsertRoute(gw.plane.database.db, { name: stranded, definition: { model: "p1/m1" }, source: "admin", updatedBy: "key_old" }, new Date());
    await gw.plane.routes.reload();
    expect((await api(gw, "GET", `/admin/routes/${stranded}`)).body).toMatchObject({ name: stranded, candidates: ["p1/m1"] });
    expect((await api(gw, "PATCH", `/admin/routes/${stranded}`, { enabled: false })).body.error).toMatchObject({ code: "invalid_request", param: "name" });
    expect((await api(gw, "DELETE", `/admin/routes/${stranded}`)).body).toEqual({ deleted: true, name: stranded });
    // Any name the router passes reaches its handler: here, one that was never stored.
    expect((await api(gw, "DELETE", `/admin/budgets/${"b".repeat(300)}`)).body.error).toMatchObject({ code: "not_found", message: `no budget named "${"b".repeat(300)}"` });
  });

  it("checks a new key's body strictly", async () => {
    const gw = await gateway(config());
    const keysBefore = (await api(gw, "GET", "/admin/keys")).body.data.length;
    const typo = await refused(gw, "POST", "/admin/keys", { name: "x", tema: "growth" }, null);
    expect(typo.message).toContain('Unrecognized key: "tema"');
    await refused(gw, "POST", "/admin/keys", { name: "x", kind: null }, "kind");
    await refused(gw, "POST", "/admin/keys", { name: "x", kind: "root" }, "kind");
    await refused(gw, "POST", "/admin/keys", { name: "x".repeat(500_000) }, "name");
    await refused(gw, "POST", "/admin/keys", { name: "x".repeat(129) }, "name");
    await refused(gw, "POST", "/admin/keys", { name: "  " }, "name");
    await refused(gw, "POST", "/admin/keys", { kind: "user" }, "name");
    await refused(gw, "POST", "/admin/keys", { name: "x", team: 7 }, "team");
    expect((await api(gw, "GET", "/admin/keys")).body.data).toHaveLength(keysBefore);
    const made = await api(gw, "POST", "/admin/keys", { name: "k".repeat(128), user: "alice", team: "growth", org: null });
    expect(made).toMatchObject({ status: 201, body: { kind: "user", userId: "alice", teamId: "growth" } });
  });

  it("refuses a direct grant for an unknown operation as change control does", async () => {
    const gw = await gateway(config({ operations }));
    const svc = (await api(gw, "POST", "/admin/keys", { name: "svc", kind: "service" })).body;
    const direct = await refused(gw, "POST", "/admin/grants", { keyId: svc.id, operation: "no_such_op", maxCalls: 3 }, "operation", 404);
    expect(direct.message).toBe('unknown operation "no_such_op"');
    const proposed = await refused(gw, "POST", "/admin/change-requests", { kind: "grant", target: `${svc.id}/no_such_op`, proposed: { keyId: svc.id, operation: "no_such_op", maxCalls: 3 } }, "proposed", 404);
    expect(proposed.message).toBe(direct.message);
    expect((await api(gw, "GET", "/admin/grants")).body.data).toEqual([]);
  });

  it("refuses a NUL character anywhere the store would keep it, naming the field, and writes nothing", async () => {
    const gw = await gateway(config({ operations }));
    const nul = "a\u0000b";
    await refused(gw, "POST", "/admin/keys", { name: nul, kind: "service" }, "name");
    await refused(gw, "POST", "/admin/kill-switch", { active: true, reason: nul }, "reason");
    await refused(gw, "PUT", "/admin/rate-limits/rl", { scope: "key", target: nul, requestsPerMinute: 5 }, "target");
    await refused(gw, "PUT", "/admin/budgets/bb", { scope: "key", target: nul, limit: "5" }, "target");
    await refused(gw, "PUT", "/admin/toggles/beta", { enabled: true, notes: nul }, "notes");
    const route = await refused(gw, "PUT", "/admin/routes/r", { model: "p1/m1", description: nul }, "description");
    expect(route.message).toContain("must not contain a NUL character");
    expect((await api(gw, "GET", "/admin/keys")).body.data).toEqual([]);
    expect((await api(gw, "GET", "/admin/kill-switch")).body.global).toBeNull();
    expect((await api(gw, "GET", "/admin/rate-limits")).body.data).toEqual([]);
    expect((await api(gw, "GET", "/admin/budgets")).body.data).toEqual([]);
    expect((await api(gw, "GET", "/v1/toggles/beta")).body.error).toMatchObject({ code: "not_found" });
    expect((await api(gw, "GET", "/admin/routes/r")).status).toBe(404);
  });
});
