import { describe, expect, it, vi } from "vitest";
import { api, BOOTSTRAP_ADMIN_ID, routesSuite, type Instance } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";
import { waitFor } from "./support/wait.js";

// One test starts the durable engine (on PGlite, with its own store): slow on a busy machine.
vi.setConfig({ testTimeout: 90_000 });

/**
 * The audit log tells a directive's whole story: who issued it, who proposed it, what the policy
 * decided, who approved or aborted it, and which worker ran it and how it ended. Every status change
 * has its row, with its actor, from the same statement that made the change.
 */
describe.each(STORE_KINDS)("a directive's audit trail on %s", (kind) => {
  const { config, gateway } = routesSuite(kind);

  async function trail(gw: Instance, id: string): Promise<Array<[string, string, string, string, string]>> {
    const rows = (await api(gw, "GET", "/admin/audit?action=directive.&limit=1000")).body.data as Array<{ target: string; action: string; actor: string; actorKind: string; details: { from?: string; to: string } }>;
    // Newest first: read oldest first, as the story goes.
    return rows
      .filter((r) => r.target === id)
      .reverse()
      .map((r) => [r.action, r.actor, r.actorKind, r.details.from ?? "", r.details.to]);
  }

  async function issue(gw: Instance, key: string, fields: Record<string, unknown> = {}): Promise<{ id: string; updatedAt: string }> {
    const created = await api(gw, "POST", "/admin/directives", { role: "ops", type: "echo", objective: "carry it out", scope: "staging", budget: "$5", ...fields }, key);
    expect(created.status).toBe(201);
    return created.body;
  }

  it("audits the issue, the proposal, the policy's block and the issuer's withdrawal, each with its actor", async () => {
    const gw = await gateway(config({ governance: { execution: { enabled: false } } }));
    const agent = (await api(gw, "POST", "/admin/keys", { name: "planner", kind: "agent" })).body;
    const created = await issue(gw, agent.key, { scope: "production" });
    await api(gw, "POST", `/admin/directives/${created.id}/propose`, undefined, agent.key);
    await api(gw, "POST", `/admin/directives/${created.id}/abort`, undefined, agent.key);
    expect(await trail(gw, created.id)).toEqual([
      ["directive.create", agent.id, "agent", "", "draft"],
      ["directive.propose", agent.id, "agent", "draft", "proposed"],
      ["directive.block", "policy:v1", "policy", "proposed", "blocked"],
      ["directive.abort", agent.id, "agent", "blocked", "aborted"],
    ]);
    // The issue's row is stamped with the directive's own time, as every move's is with its change.
    const [first] = (await api(gw, "GET", "/admin/audit?action=directive.create")).body.data;
    expect(first.ts).toBe(created.updatedAt);
  });

  it("audits a run's moves under the worker that made them, through to the end", async () => {
    const gw = await gateway(config({ governance: { execution: { pollIntervalMs: 200, executorId: "worker-a" } } }));
    const agent = (await api(gw, "POST", "/admin/keys", { name: "planner", kind: "agent" })).body;
    const ok = await issue(gw, agent.key);
    await api(gw, "POST", `/admin/directives/${ok.id}/propose`, undefined, agent.key);
    expect((await api(gw, "POST", `/admin/directives/${ok.id}/approve`)).status).toBe(200);
    await waitFor(() => api(gw, "GET", `/admin/directives/${ok.id}`).then((r) => r.body.status), (s) => s === "complete", 30_000);
    expect(await trail(gw, ok.id)).toEqual([
      ["directive.create", agent.id, "agent", "", "draft"],
      ["directive.propose", agent.id, "agent", "draft", "proposed"],
      ["directive.approve", BOOTSTRAP_ADMIN_ID, "admin", "proposed", "approved"],
      ["directive.execute", "worker-a", "executor", "approved", "executing"],
      ["directive.complete", "worker-a", "executor", "executing", "complete"],
    ]);
  });

  it("audits a failed run's end as the worker's, not as a person's abort", async () => {
    const gw = await gateway(config({ governance: { policy: { tools: ["fail_intentionally"] }, execution: { pollIntervalMs: 200, executorId: "worker-b" } } }));
    const created = await issue(gw, gw.adminKey, { type: "fail_intentionally" });
    await api(gw, "POST", `/admin/directives/${created.id}/propose`);
    const second = (await api(gw, "POST", "/admin/keys", { name: "second admin", kind: "admin" })).body;
    expect((await api(gw, "POST", `/admin/directives/${created.id}/approve`, undefined, second.key)).status).toBe(200);
    await waitFor(() => api(gw, "GET", `/admin/directives/${created.id}`).then((r) => r.body.status), (s) => s === "aborted", 30_000);
    expect((await trail(gw, created.id)).slice(-2)).toEqual([
      ["directive.execute", "worker-b", "executor", "approved", "executing"],
      ["directive.fail", "worker-b", "executor", "executing", "aborted"],
    ]);
    expect((await api(gw, "GET", "/admin/audit?action=directive.abort")).body.data).toEqual([]);
  });
});
