import http from "node:http";
import { describe, expect, it } from "vitest";
import { api, ask, routesSuite } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * Money and decimals are answered as every answer writes them ("12.5", "0.002241"), whatever places the
 * store's numeric columns keep (twelve for money, three for a confidence). These answers read those
 * columns straight: change requests (their estimate, confidence and a budget's snapshot), the webhooks
 * that announce them, and the ledger's recent calls.
 */
const PADDED = /\d\.\d*0$/;

function paddedIn(value: unknown, path = ""): string[] {
  if (typeof value === "string") return PADDED.test(value) ? [`${path}=${value}`] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => paddedIn(v, `${path}[${i}]`));
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => paddedIn(v, `${path}.${k}`));
  return [];
}

describe.each(STORE_KINDS)("money in answers on %s", (kind) => {
  const { config, gateway } = routesSuite(kind);

  it("answers a change request's estimate, confidence and budget snapshot unpadded, in the API and its webhooks, and still approves it", async () => {
    const received: Array<{ type: string; data: Record<string, unknown> }> = [];
    const receiver = http.createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        received.push(JSON.parse(body));
        res.end("ok");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    try {
      const gw = await gateway(
        config({
          budgets: [
            { name: "cap", scope: "global", limit: "0.50" },
            { name: "research", scope: "team", target: "t1", limit: "2.50", warnAt: "1.50" },
          ],
          notifications: { webhooks: [{ name: "hook", url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/` }] },
        }),
      );
      const proposed = await api(gw, "POST", "/admin/change-requests", { kind: "budget", target: "cap", proposed: { scope: "global", limit: "1.5" }, estimatedSavingsUsd: "12.50", confidence: 0.5 });
      expect(proposed.status).toBe(201);
      // A global budget's snapshot has no target, as its proposal and GET /admin/budgets have none.
      const cap = { estimatedSavingsUsd: "12.5", confidence: "0.5", current: { scope: "global", limit: "0.5", warnAt: "0.4" }, proposed: { scope: "global", limit: "1.5" } };
      expect(proposed.body).toMatchObject(cap);
      expect(proposed.body.current).not.toHaveProperty("target");
      const team = await api(gw, "POST", "/admin/change-requests", { kind: "budget", target: "research", proposed: { scope: "team", target: "t1", limit: "3" } });
      expect(team.body.current).toMatchObject({ scope: "team", target: "t1", limit: "2.5", warnAt: "1.5" });

      expect((await api(gw, "GET", `/admin/change-requests/${proposed.body.id}`)).body).toMatchObject(cap);
      const listed = (await api(gw, "GET", "/admin/change-requests")).body.data;
      expect(listed.find((r: { id: string }) => r.id === proposed.body.id)).toMatchObject(cap);
      expect(paddedIn(listed)).toEqual([]);

      // What is stored is untouched: the approval's stale check still finds the budget as it was proposed against.
      const other = (await api(gw, "POST", "/admin/keys", { name: "second admin", kind: "admin" })).body;
      const approved = await api(gw, "POST", `/admin/change-requests/${proposed.body.id}/approve`, {}, other.key);
      expect(approved).toMatchObject({ status: 200, body: { ...cap, status: "APPLIED" } });
      expect((await api(gw, "GET", "/admin/budgets")).body.data.find((b: { name: string }) => b.name === "cap")).toMatchObject({ limit: "1.5" });
      // The audit log's details record the columns' values (the limit before the change), answered the same way.
      expect((await api(gw, "PUT", "/admin/budgets/research", { scope: "team", target: "t1", limit: "4.50", warnAt: "2" })).status).toBe(200);
      const audit = (await api(gw, "GET", "/admin/audit?limit=50")).body.data as Array<{ action: string; details: unknown }>;
      expect(audit.length).toBeGreaterThanOrEqual(2);
      expect(paddedIn(audit.map((event) => event.details))).toEqual([]);
      expect(JSON.stringify(audit.map((event) => event.details))).toContain('"limit":"0.5"');

      await expect.poll(() => received.map((event) => event.type), { timeout: 10_000 }).toEqual(expect.arrayContaining(["approval.requested", "change.applied"]));
      for (const event of received.filter((e) => e.data.id === proposed.body.id)) expect(event.data).toMatchObject({ estimatedSavingsUsd: "12.5" });
      expect(paddedIn(received)).toEqual([]);
    } finally {
      receiver.close();
    }
  });

  it("answers the recent calls' costs unpadded", async () => {
    const gw = await gateway(config());
    await ask(gw, "p1/m1");
    await expect.poll(async () => (await api(gw, "GET", "/admin/calls")).body.data.length, { timeout: 10_000 }).toBe(1);
    const [call] = (await api(gw, "GET", "/admin/calls")).body.data;
    expect(call.cost).toMatch(/^\d+(\.\d*[1-9])?$/);
    expect(Number(call.cost)).toBeGreaterThan(0);
    expect(paddedIn(call)).toEqual([]);
  });
});
