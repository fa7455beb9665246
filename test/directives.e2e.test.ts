import { describe, expect, it } from "vitest";
import { api, BOOTSTRAP_ADMIN_ID, captureLogs, routesSuite, type Instance } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * Directives through the admin API: an agent issues one, the versioned policy judges it (every
 * evaluation kept as an artifact), and a human admin who did not issue it approves it, unless the
 * policy approves it itself. Every status change follows the lifecycle.
 */
describe.each(STORE_KINDS)("directives on %s", (kind) => {
  const { config, gateway, store, instance } = routesSuite(kind);

  async function agentKey(gw: Instance): Promise<{ id: string; key: string }> {
    return (await api(gw, "POST", "/admin/keys", { name: "planner", kind: "agent" })).body;
  }

  const directive = { role: "release-notes", type: "echo", payload: { text: "draft notes" }, objective: "Draft the release notes", scope: "staging", budget: "$20", successMetrics: { reviewed: true }, timeboxSeconds: 3600 };

  it("takes an agent's directive from draft through policy to a human approval, with its evaluation kept", async () => {
    // An instance that judges and approves but runs nothing: the approved directive stays approved.
    const gw = await gateway(config({ governance: { execution: { enabled: false } } }));
    const agent = await agentKey(gw);
    const created = await api(gw, "POST", "/admin/directives", directive, agent.key);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: "draft", next: ["proposed", "aborted"], issuedBy: agent.id, issuedByKind: "agent", budget: "$20", constraints: {} });

    const proposed = (await api(gw, "POST", `/admin/directives/${created.body.id}/propose`, undefined, agent.key)).body;
    expect(proposed).toMatchObject({ status: "proposed", next: ["approved", "blocked", "aborted"], approvedBy: null });
    const [evaluation] = proposed.artifacts;
    expect(evaluation).toMatchObject({ type: "policy_evaluation", directiveId: created.body.id, uri: `pg:artifacts/${evaluation.id}` });
    expect(evaluation.body).toMatchObject({ verdict: "ALLOW", policyVersion: "v1", policyHash: expect.stringMatching(/^[0-9a-f]{64}$/), policy: { budgetCeilingUsd: "50", autoApprove: false } });
    expect(evaluation.sizeBytes).toBe(Buffer.byteLength(JSON.stringify(evaluation.body)));

    // Waiting for a human: the agent cannot approve, nor can any key that is not an admin's.
    expect((await api(gw, "POST", `/admin/directives/${created.body.id}/approve`, undefined, agent.key)).status).toBe(403);
    const approved = (await api(gw, "POST", `/admin/directives/${created.body.id}/approve`)).body;
    expect(approved).toMatchObject({ status: "approved", approvedBy: BOOTSTRAP_ADMIN_ID, humanOverride: true, next: ["executing", "blocked", "aborted"] });
    expect(Date.parse(approved.approvedAt)).toBeGreaterThanOrEqual(Date.parse(approved.proposedAt));
    expect((await api(gw, "GET", "/admin/directives?status=approved")).body.data.map((d: any) => d.id)).toEqual([created.body.id]);
    // The decision is in the audit log, with who made it.
    const audit = (await api(gw, "GET", "/admin/audit?action=directive.approve")).body.data;
    expect(audit).toEqual([expect.objectContaining({ action: "directive.approve", target: created.body.id, actor: BOOTSTRAP_ADMIN_ID, actorKind: "admin", outcome: "applied", details: { type: "echo", from: "proposed", to: "approved" } })]);
    expect(audit[0].ts).toBe(approved.updatedAt);

    // No worker has started it: an admin may still stop it, and the abort is audited too.
    expect((await api(gw, "POST", `/admin/directives/${created.body.id}/abort`, undefined, agent.key)).status).toBe(403);
    expect((await api(gw, "POST", `/admin/directives/${created.body.id}/abort`)).body).toMatchObject({ status: "aborted", approvedBy: BOOTSTRAP_ADMIN_ID, next: [] });
    expect((await api(gw, "GET", "/admin/audit?action=directive.abort")).body.data).toEqual([expect.objectContaining({ target: created.body.id, actor: BOOTSTRAP_ADMIN_ID, details: { type: "echo", from: "approved", to: "aborted" } })]);
  });

  it("blocks with a reason per failed policy, lets the issuer propose again, and counts every verdict", async () => {
    const gw = await gateway(config());
    const agent = await agentKey(gw);
    const created = (await api(gw, "POST", "/admin/directives", { ...directive, type: "shell", scope: "production", budget: "500 USD" }, agent.key)).body;
    const blocked = (await api(gw, "POST", `/admin/directives/${created.id}/propose`, undefined, agent.key)).body;
    expect(blocked).toMatchObject({ status: "blocked", next: ["proposed", "aborted"] });
    expect(blocked.blockedReasons).toEqual([
      "$500 is over the ceiling of $50",
      '"shell" is not an allowed tool (allowed: noop, echo, validate, test, llm_call)',
      '"production" is not an allowed scope (allowed: test, development, staging)',
    ]);
    const again = (await api(gw, "POST", `/admin/directives/${created.id}/propose`, undefined, agent.key)).body;
    expect(again.status).toBe("blocked");
    expect(again.artifacts.map((a: any) => a.body.verdict)).toEqual(["BLOCK", "BLOCK"]);
    // The same input and policy version, the same result.
    expect(again.artifacts[0].body.checks).toEqual(again.artifacts[1].body.checks);
    expect(again.artifacts[0].body.policyHash).toBe(again.artifacts[1].body.policyHash);

    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toContain('policy_evaluations_total{verdict="BLOCK"} 2');
    expect(metrics).toContain('directives_total{status="blocked"} 2');
  });

  it("lets the policy approve by itself when it says so, marked as no human override", async () => {
    const gw = await gateway(config({ governance: { policy: { version: "v2-auto", autoApprove: true, budgetCeilingUsd: "100" } } }));
    const agent = await agentKey(gw);
    const created = (await api(gw, "POST", "/admin/directives", { ...directive, budget: "99.99" }, agent.key)).body;
    const done = (await api(gw, "POST", `/admin/directives/${created.id}/propose`, undefined, agent.key)).body;
    expect(done).toMatchObject({ status: "approved", approvedBy: "policy:v2-auto", humanOverride: false });
    expect(done.artifacts[0].body).toMatchObject({ verdict: "ALLOW", policyVersion: "v2-auto" });
    expect((await api(gw, "GET", "/admin/audit?action=directive.approve")).body.data).toEqual([expect.objectContaining({ target: created.id, actor: "policy:v2-auto", actorKind: "policy" })]);
  });

  it("judges a directive again at approval when the policy changed since it was proposed, and blocks what the new one forbids", async () => {
    const { database } = await store();
    const adminKey = "sk-test-admin-policy";
    const before = await instance(database, config({ governance: { execution: { enabled: false } } }), adminKey);
    const agent = await agentKey(before);
    const forbidden = (await api(before, "POST", "/admin/directives", directive, agent.key)).body;
    const allowed = (await api(before, "POST", "/admin/directives", { ...directive, type: "noop", scope: "test", budget: "$5" }, agent.key)).body;
    for (const d of [forbidden, allowed]) expect((await api(before, "POST", `/admin/directives/${d.id}/propose`, undefined, agent.key)).body.status).toBe("proposed");
    await before.close();

    // Restarted with a tighter policy: the echo in staging for $20 that v1 allowed is now out of bounds.
    const tight = { version: "v2", budgetCeilingUsd: "10", tools: ["noop"], scopes: ["test"] };
    const after = await instance(database, config({ governance: { policy: tight, execution: { enabled: false } } }), adminKey);
    const refused = await api(after, "POST", `/admin/directives/${forbidden.id}/approve`);
    expect(refused).toMatchObject({ status: 409, body: { error: { code: "conflict", status: "blocked", policyVersion: "v2" } } });
    expect(refused.body.error.message).toContain("blocked by the policy in force (v2)");
    const blocked = (await api(after, "GET", `/admin/directives/${forbidden.id}`)).body;
    expect(blocked).toMatchObject({ status: "blocked", approvedBy: null });
    expect(blocked.blockedReasons).toEqual(["$20 is over the ceiling of $10", '"echo" is not an allowed tool (allowed: noop)', '"staging" is not an allowed scope (allowed: test)']);
    expect(blocked.artifacts.map((a: any) => [a.body.policyVersion, a.body.verdict])).toEqual([["v1", "ALLOW"], ["v2", "BLOCK"]]);

    // What the new policy allows is approved, its evaluation under v2 kept beside v1's.
    const approved = (await api(after, "POST", `/admin/directives/${allowed.id}/approve`)).body;
    expect(approved).toMatchObject({ status: "approved", humanOverride: true });
    expect(approved.artifacts.map((a: any) => [a.body.policyVersion, a.body.verdict])).toEqual([["v1", "ALLOW"], ["v2", "ALLOW"]]);
  });

  it("refuses every transition the lifecycle does not allow, and an issuer's own approval", async () => {
    const gw = await gateway(config());
    const created = (await api(gw, "POST", "/admin/directives", directive)).body;
    const early = await api(gw, "POST", `/admin/directives/${created.id}/approve`, undefined, (await api(gw, "POST", "/admin/keys", { name: "second", kind: "admin" })).body.key);
    expect(early).toMatchObject({ status: 409, body: { error: { code: "conflict", type: "invalid_request_error", status: "draft", requested: "approved", allowed: ["proposed", "aborted"] } } });
    await api(gw, "POST", `/admin/directives/${created.id}/propose`);
    expect(await api(gw, "POST", `/admin/directives/${created.id}/approve`)).toMatchObject({ status: 403, body: { error: { message: "a directive cannot be approved by the key that issued it" } } });
    expect(await api(gw, "POST", `/admin/directives/${created.id}/propose`)).toMatchObject({ status: 409, body: { error: { code: "conflict", status: "proposed" } } });
    expect(await api(gw, "POST", "/admin/directives", { ...directive, role: "" })).toMatchObject({ status: 400 });
    expect(await api(gw, "GET", "/admin/directives/dir_missing")).toMatchObject({ status: 404 });
  });

  it("answers 409 conflict over HTTP to a move the directive's current status does not allow: approved twice, approved or aborted once aborted", async () => {
    const gw = await gateway(config({ governance: { execution: { enabled: false } } }));
    const agent = await agentKey(gw);
    const post = (path: string) => fetch(`${gw.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${gw.adminKey}` } });
    const issue = async () => {
      const id = (await api(gw, "POST", "/admin/directives", directive, agent.key)).body.id as string;
      expect((await api(gw, "POST", `/admin/directives/${id}/propose`, undefined, agent.key)).body.status).toBe("proposed");
      return id;
    };

    const twice = await issue();
    expect((await post(`/admin/directives/${twice}/approve`)).status).toBe(200);
    const again = await post(`/admin/directives/${twice}/approve`);
    expect(again.status).toBe(409);
    expect(again.headers.get("content-type")).toContain("application/json");
    expect(await again.json()).toEqual({
      error: {
        message: `directive "${twice}" is approved: it cannot become approved (it may become executing or blocked or aborted)`,
        type: "invalid_request_error",
        code: "conflict",
        param: null,
        directive: twice,
        status: "approved",
        requested: "approved",
        allowed: ["executing", "blocked", "aborted"],
      },
    });

    const aborted = await issue();
    expect((await post(`/admin/directives/${aborted}/abort`)).status).toBe(200);
    for (const move of ["approve", "abort", "propose"]) {
      const refused = await post(`/admin/directives/${aborted}/${move}`);
      expect(refused.status).toBe(409);
      const { error } = (await refused.json()) as { error: Record<string, unknown> };
      expect(error).toMatchObject({ code: "conflict", status: "aborted", allowed: [] });
      expect(error.message).toContain(`directive "${aborted}" is aborted`);
      expect(error.message).toContain("that is final");
    }
    expect((await api(gw, "GET", `/admin/directives/${aborted}`)).body.status).toBe("aborted");
  });

  it("refuses a key that is not an admin's more undecided directives than governance.maxPendingPerKey, until one is aborted or approved", async () => {
    const gw = await gateway(config({ governance: { maxPendingPerKey: 3, execution: { enabled: false } } }));
    const agent = await agentKey(gw);
    const create = (body = directive) => api(gw, "POST", "/admin/directives", body, agent.key);
    // A draft, a proposed one and a blocked one all wait on someone: each counts.
    const ids = [(await create()).body.id, (await create()).body.id, (await create({ ...directive, scope: "production" })).body.id];
    expect((await api(gw, "POST", `/admin/directives/${ids[1]}/propose`, undefined, agent.key)).body.status).toBe("proposed");
    expect((await api(gw, "POST", `/admin/directives/${ids[2]}/propose`, undefined, agent.key)).body.status).toBe("blocked");
    const refused = await create();
    expect(refused).toMatchObject({ status: 403, body: { error: { code: "forbidden", type: "permission_error", param: null, maxPendingPerKey: 3 } } });
    expect(refused.body.error.message).toContain("governance.maxPendingPerKey");
    // An admin has no such limit.
    expect((await api(gw, "POST", "/admin/directives", directive)).status).toBe(201);

    // The agent withdraws its draft and its blocked one; another key may not.
    const other = (await api(gw, "POST", "/admin/keys", { name: "other", kind: "agent" })).body;
    expect((await api(gw, "POST", `/admin/directives/${ids[0]}/abort`, undefined, other.key)).status).toBe(403);
    expect((await api(gw, "POST", `/admin/directives/${ids[0]}/abort`, undefined, agent.key)).body).toMatchObject({ status: "aborted", next: [] });
    expect((await api(gw, "POST", `/admin/directives/${ids[2]}/abort`, undefined, agent.key)).body.status).toBe("aborted");
    const fourth = (await create()).body.id;
    expect((await create()).status).toBe(201);
    expect((await create()).status).toBe(403);
    // An admin approves one and declines another; the agent may not abort what was approved.
    expect((await api(gw, "POST", `/admin/directives/${ids[1]}/approve`)).body.status).toBe("approved");
    expect((await api(gw, "POST", `/admin/directives/${ids[1]}/abort`, undefined, agent.key)).status).toBe(403);
    await api(gw, "POST", `/admin/directives/${fourth}/propose`, undefined, agent.key);
    expect((await api(gw, "POST", `/admin/directives/${fourth}/abort`)).body.status).toBe("aborted");
    for (let i = 0; i < 2; i++) expect((await create()).status).toBe(201);
    expect((await create()).status).toBe(403);
    const audit = (await api(gw, "GET", "/admin/audit?action=directive.abort")).body.data;
    expect(audit.map((e: any) => [e.target, e.actor, e.details.from])).toEqual([
      [fourth, BOOTSTRAP_ADMIN_ID, "proposed"],
      [ids[2], agent.id, "blocked"],
      [ids[0], agent.id, "draft"],
    ]);
  });

  it("refuses a NUL character anywhere in a directive with 400 naming the field, and logs none of its payload", async () => {
    const logs = captureLogs();
    const gw = await gateway(config(), logs.logger);
    const prompt = { messages: [{ role: "user", content: "the secret plan\u0000" }] };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...directive, role: "notes\u0000" }, "role"],
      [{ ...directive, type: "llm_call", payload: prompt }, "payload.messages.0.content"],
      [{ ...directive, constraints: { "a\u0000": 1 } }, "constraints.a\u0000"],
    ];
    for (const [body, param] of cases) {
      const refused = await api(gw, "POST", "/admin/directives", body);
      expect(refused).toMatchObject({ status: 400, body: { error: { code: "invalid_request", param } } });
      expect(refused.body.error.message).toContain("must not contain a NUL character");
      expect(refused.body.error.message).not.toContain("secret plan");
    }
    expect((await api(gw, "GET", "/admin/directives")).body.data).toEqual([]);
    expect(logs.text()).not.toContain("secret plan");
  });

  it("publishes the directive's JSON Schema, and keeps artifacts immutable", async () => {
    const gw = await gateway(config());
    const schema = (await api(gw, "GET", "/admin/directives/schema")).body;
    expect(schema).toMatchObject({ type: "object", additionalProperties: false });
    expect(schema.required.sort()).toEqual(["objective", "role", "scope", "type"]);
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(["role", "type", "payload", "objective", "scope", "constraints", "successMetrics", "budget", "timeboxSeconds"]));

    const created = (await api(gw, "POST", "/admin/directives", directive)).body;
    await api(gw, "POST", `/admin/directives/${created.id}/propose`);
    await expect(gw.plane.database.execute("update artifacts set uri = 'x'")).rejects.toThrow(/artifacts is append-only: UPDATE/);
    await expect(gw.plane.database.execute("delete from artifacts")).rejects.toThrow(/artifacts is append-only: DELETE/);
  });
});
