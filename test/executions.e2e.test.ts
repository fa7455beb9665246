import { Decimal } from "decimal.js";
import { describe, expect, it, vi } from "vitest";
import { moduleEffects } from "../src/store/schema/index.js";
import { api, BOOTSTRAP_ADMIN_ID, routesSuite, type Instance } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";
import { waitFor } from "./support/wait.js";

// Each test starts the durable engine (on PGlite, with its own store): slower than most, and slower still on a busy machine.
vi.setConfig({ testTimeout: 90_000 });

/**
 * Approved directives carried out: the dispatcher hands each to the durable engine, a worker runs its
 * module as checkpointed steps, and every step leaves its artifact.
 */
describe.each(STORE_KINDS)("directive execution on %s", (kind) => {
  const { config, gateway, sent } = routesSuite(kind);
  const fast = { governance: { execution: { pollIntervalMs: 200 } } };

  async function issue(gw: Instance, fields: Record<string, unknown>, key?: string): Promise<string> {
    const created = await api(gw, "POST", "/admin/directives", { role: "ops", objective: "carry it out", scope: "staging", budget: "$5", ...fields }, key);
    expect(created.status).toBe(201);
    return created.body.id;
  }

  async function settled(gw: Instance, id: string): Promise<any> {
    return (await waitFor(() => api(gw, "GET", `/admin/directives/${id}`).then((r) => r.body), (d) => d.status === "complete" || d.status === "aborted", 20_000)).value;
  }

  it("waits for a human approval, then runs the directive to complete with every artifact", async () => {
    const gw = await gateway(config(fast));
    const agent = (await api(gw, "POST", "/admin/keys", { name: "planner", kind: "agent" })).body;
    const id = await issue(gw, { type: "echo", payload: { message: "ship it" } }, agent.key);
    await api(gw, "POST", `/admin/directives/${id}/propose`, undefined, agent.key);
    // Waiting for a person: nothing runs, however long it waits.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await api(gw, "GET", `/admin/directives/${id}`)).body.status).toBe("proposed");
    expect((await api(gw, "GET", "/admin/runs")).body.data).toEqual([]);

    expect((await api(gw, "POST", `/admin/directives/${id}/approve`)).body).toMatchObject({ status: "approved", approvedBy: BOOTSTRAP_ADMIN_ID, humanOverride: true });
    const done = await settled(gw, id);
    expect(done.status).toBe("complete");
    expect(done.artifacts.map((a: any) => a.type)).toEqual(["policy_evaluation", "execution_start", "execution_checkpoint", "execution_end"]);

    const [run] = (await api(gw, "GET", "/admin/runs?status=completed")).body.data;
    expect(run).toMatchObject({ directiveId: id, module: "echo", status: "completed", moduleStatus: "SUCCESS", output: { echo: "ship it" }, workflowId: `directive:${id}`, idempotencyKey: run.id, error: null });
    expect(run.durationMs).toBeGreaterThanOrEqual(0);
    expect(Date.parse(run.endedAt)).toBeGreaterThanOrEqual(Date.parse(run.startedAt));
    const shown = (await api(gw, "GET", `/admin/runs/${run.id}`)).body;
    expect(shown.artifacts.map((a: any) => [a.type, a.body.status ?? a.body.module])).toEqual([
      ["execution_start", "echo"],
      ["execution_checkpoint", "SUCCESS"],
      ["execution_end", "completed"],
    ]);
    expect((await api(gw, "GET", "/admin/runs/run_nope")).status).toBe(404);

    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toContain('module_executions_total{module="echo",status="SUCCESS"} 1');
    expect(metrics).toMatch(/execution_duration_seconds_count\{module="echo",status="completed"\} 1/);
    expect(metrics).toContain('directives_total{status="complete"} 1');
  });

  it("runs llm_call through the call path as its issuer: routed, ledgered, and its artifacts hold no text", async () => {
    const gw = await gateway(config({ ...fast, governance: { ...fast.governance, policy: { autoApprove: true } } }));
    const prompt = "Summarise the incident report for the on-call channel";
    const id = await issue(gw, { type: "llm_call", payload: { model: "p2/m2", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: prompt }], max_tokens: 50 } });
    expect((await api(gw, "POST", `/admin/directives/${id}/propose`)).body).toMatchObject({ status: "approved", humanOverride: false });
    const done = await settled(gw, id);
    expect(done.status).toBe("complete");
    expect(sent()).toEqual([0, 1, 0]);

    const llmCall = done.artifacts.find((a: any) => a.type === "llm_call").body;
    const usage = done.artifacts.find((a: any) => a.type === "llm_usage").body;
    expect(llmCall).toMatchObject({ messageCount: 2, roles: ["system", "user"], totalCharacters: "Be brief.".length + prompt.length, model: "p2/m2", provider: "p2", finishReason: "stop", attempts: 1 });
    expect(llmCall.latencyMs).toBeGreaterThanOrEqual(0);
    const [row] = await gw.plane.reports.recentCalls(1);
    expect(row).toMatchObject({ requestId: llmCall.requestId, model: "p2/m2", keyId: BOOTSTRAP_ADMIN_ID });
    expect(usage).toMatchObject({ model: "p2/m2", inputTokens: row!.inputTokens, outputTokens: row!.outputTokens, priceMissing: false });
    expect(new Decimal(usage.cost).equals(row!.cost)).toBe(true);
    expect(JSON.stringify(done.artifacts)).not.toContain("incident");
    expect(JSON.stringify(done.artifacts)).not.toContain("Be brief");
  });

  it("stops the module of a directive an admin aborts while it executes, and cancels its run", async () => {
    const gw = await gateway(config({ ...fast, governance: { ...fast.governance, policy: { autoApprove: true } } }));
    const id = await issue(gw, { type: "echo", payload: { message: "slow", delayMs: 120_000 } });
    await api(gw, "POST", `/admin/directives/${id}/propose`);
    // Once the echo is recorded, the module is in its delay: the abort lands while it works.
    await waitFor(() => gw.plane.database.db.select().from(moduleEffects), (rows) => rows.length === 1, 20_000);
    expect((await api(gw, "GET", `/admin/directives/${id}`)).body.status).toBe("executing");
    expect((await api(gw, "POST", `/admin/directives/${id}/abort`)).body).toMatchObject({ status: "aborted", next: [] });
    expect((await api(gw, "GET", "/admin/audit?action=directive.abort")).body.data).toEqual([expect.objectContaining({ target: id, actor: BOOTSTRAP_ADMIN_ID, actorKind: "admin", details: { type: "echo", from: "executing", to: "aborted" } })]);
    // The module's signal fires within a second of the abort: it does not wait out its two minutes.
    const run = (await waitFor(() => api(gw, "GET", "/admin/runs").then((r) => r.body.data[0]), (r) => r?.status === "canceled", 20_000)).value;
    expect(run).toMatchObject({ directiveId: id, moduleStatus: "ERROR", error: "the directive was aborted", output: null });
    expect(run.durationMs).toBeLessThan(60_000);
    // The run moves to its end status before its end is written (docs/governance.md): wait for the trail's end too.
    const trail = (await waitFor(() => api(gw, "GET", `/admin/runs/${run.id}`).then((r) => r.body.artifacts), (a: Array<{ type: string }>) => a.some((x) => x.type === "execution_end"), 20_000)).value;
    expect(trail.at(-1)).toMatchObject({ type: "execution_end", body: { status: "canceled" } });
    expect((await api(gw, "GET", `/admin/directives/${id}`)).body.status).toBe("aborted");
  });

  it("honours a timebox longer than one timer can wait (up to 2^31-1 seconds), and ends runs that complete within it", async () => {
    const gw = await gateway(config({ ...fast, governance: { ...fast.governance, policy: { autoApprove: true } } }));
    const ids = [];
    for (const timeboxSeconds of [2_147_483, 3_000_000, 2_147_483_647]) ids.push(await issue(gw, { type: "echo", payload: { message: String(timeboxSeconds), delayMs: 300 }, timeboxSeconds }));
    for (const id of ids) await api(gw, "POST", `/admin/directives/${id}/propose`);
    for (const id of ids) expect((await settled(gw, id)).status).toBe("complete");
    const runs = (await api(gw, "GET", "/admin/runs")).body.data;
    expect(runs.map((r: any) => [r.status, r.moduleStatus, r.error])).toEqual(ids.map(() => ["completed", "SUCCESS", null]));
  });

  it("ends a failing module's run failed, and its directive aborted with the reason", async () => {
    const gw = await gateway(config({ ...fast, governance: { ...fast.governance, policy: { autoApprove: true, tools: ["fail_intentionally", "echo", "llm_call"] } } }));
    const failure = await issue(gw, { type: "fail_intentionally" });
    const error = await issue(gw, { type: "fail_intentionally", payload: { mode: "error" } });
    const badPayload = await issue(gw, { type: "echo", payload: { delayMs: "soon" } });
    // Its issuer's key is revoked before it runs: the call is not made on a dead key's behalf.
    const agent = (await api(gw, "POST", "/admin/keys", { name: "planner", kind: "agent" })).body;
    const orphan = await issue(gw, { type: "llm_call", payload: { model: "p1/m1", messages: [{ role: "user", content: "hi" }] } }, agent.key);
    await api(gw, "DELETE", `/admin/keys/${agent.id}`);
    const late = await issue(gw, { type: "echo", payload: { message: "late", delayMs: 10_000 }, timeboxSeconds: 1 });
    const all = [failure, error, badPayload, orphan, late];
    for (const id of all) await api(gw, "POST", `/admin/directives/${id}/propose`);
    for (const id of all) expect((await settled(gw, id)).status).toBe("aborted");
    expect(sent()).toEqual([0, 0, 0]);
    const runs = (await api(gw, "GET", "/admin/runs?status=failed")).body.data;
    const byDirective = Object.fromEntries(runs.map((r: any) => [r.directiveId, r]));
    expect(byDirective[failure]).toMatchObject({ moduleStatus: "FAILURE", error: "failed intentionally" });
    expect(byDirective[error]).toMatchObject({ moduleStatus: "ERROR", error: "failed intentionally (error)" });
    expect(byDirective[badPayload]).toMatchObject({ moduleStatus: "FAILURE" });
    expect(byDirective[badPayload].error).toContain("the echo module's payload is not valid: delayMs");
    expect(byDirective[late]).toMatchObject({ moduleStatus: "ERROR", error: "the directive's timebox of 1 s ran out" });
    expect(byDirective[late].durationMs).toBeLessThan(10_000);
    expect(byDirective[orphan]).toMatchObject({ moduleStatus: "FAILURE", error: `the call was refused (forbidden): the key that issued directive "${orphan}" is no longer active` });
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toContain('module_executions_total{module="fail_intentionally",status="FAILURE"} 1');
    expect(metrics).toContain('module_executions_total{module="fail_intentionally",status="ERROR"} 1');
  });
});
