import { afterAll, describe, expect, it } from "vitest";
import { isolatedEnv, removeTempDirs, runCli, workspace } from "./support/process.js";
import { routesSuite, type Instance } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * An agent that issues a directive and loses the answer (a timeout, a dropped connection) sends it
 * again. With an `Idempotency-Key`, the second request answers the directive the first one made
 * instead of issuing the same intent twice, which a policy that approves by itself would run twice.
 */
describe.each(STORE_KINDS)("a directive sent again with its Idempotency-Key on %s", (kind) => {
  const { config, gateway } = routesSuite(kind);
  afterAll(removeTempDirs);

  async function post(gw: Instance, body: unknown, key: string, idempotencyKey?: string): Promise<{ status: number; body: any; replayed: string | null }> {
    const res = await fetch(`${gw.url}/admin/directives`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...(idempotencyKey === undefined ? {} : { "idempotency-key": idempotencyKey }) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json(), replayed: res.headers.get("idempotent-replayed") };
  }

  async function agentKey(gw: Instance, name: string): Promise<string> {
    const res = await fetch(`${gw.url}/admin/keys`, { method: "POST", headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" }, body: JSON.stringify({ name, kind: "agent" }) });
    return ((await res.json()) as { key: string }).key;
  }

  const directive = { role: "notes", type: "echo", payload: { message: "héllo ✓", b: 1, a: [1, 2] }, objective: "Draft the notes", scope: "staging", budget: "$5" };

  it("issues the directive once, answers the same directive to every retry, and refuses the key for another directive", async () => {
    const gw = await gateway(config({ governance: { execution: { enabled: false } } }));
    const agent = await agentKey(gw, "planner");
    const first = await post(gw, directive, agent, "retry-1");
    expect(first.status).toBe(201);
    expect(first.replayed).toBeNull();

    // The same body (its JSON keys in another order) under the same key: the same directive, said to be a replay.
    const again = await post(gw, { ...directive, payload: { a: [1, 2], b: 1, message: "héllo ✓" } }, agent, "retry-1");
    expect(again).toMatchObject({ status: 201, replayed: "true", body: { id: first.body.id, status: "draft" } });
    // Sent at once, many times: still one directive.
    const burst = await Promise.all(Array.from({ length: 8 }, () => post(gw, directive, agent, "retry-2")));
    expect(new Set(burst.map((r) => r.body.id)).size).toBe(1);
    expect(burst.every((r) => r.status === 201)).toBe(true);

    // The key belongs to its issuer: another agent's same key is its own directive.
    const other = await post(gw, directive, await agentKey(gw, "other"), "retry-1");
    expect(other.status).toBe(201);
    expect(other.body.id).not.toBe(first.body.id);

    // Another directive under a key already used is refused, naming the header; nothing is issued.
    const reused = await post(gw, { ...directive, scope: "production" }, agent, "retry-1");
    expect(reused.status).toBe(422);
    expect(reused.body.error).toMatchObject({ code: "idempotency_key_reused", type: "invalid_request_error", param: "Idempotency-Key" });
    expect(reused.body.error.message).toContain(first.body.id);

    // Without a key, each request is a directive of its own, as before.
    const plain = await Promise.all([post(gw, directive, agent), post(gw, directive, agent)]);
    expect(plain[0]!.body.id).not.toBe(plain[1]!.body.id);

    const list = await fetch(`${gw.url}/admin/directives?limit=100`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
    expect(((await list.json()) as { data: unknown[] }).data).toHaveLength(5);
  });

  it("answers the directive as it is now, and replays even when the key has no room left for a new one", async () => {
    const gw = await gateway(config({ governance: { maxPendingPerKey: 1, execution: { enabled: false } } }));
    const agent = await agentKey(gw, "planner");
    const first = await post(gw, directive, agent, "only");
    expect(first.status).toBe(201);
    const proposed = await fetch(`${gw.url}/admin/directives/${first.body.id}/propose`, { method: "POST", headers: { authorization: `Bearer ${agent}` } });
    expect(proposed.status).toBe(200);
    const again = await post(gw, directive, agent, "only");
    expect(again).toMatchObject({ status: 201, replayed: "true", body: { id: first.body.id, status: "proposed" } });
    expect((await post(gw, directive, agent, "another")).status).toBe(403);
  });

  it("sends the CLI's --idempotency-key, so that running the command again after a timeout issues nothing new", async () => {
    const gw = await gateway(config({ governance: { execution: { enabled: false } } }));
    const { cwd } = await workspace();
    const env = isolatedEnv({ AIRLOCK_ADMIN_KEY: gw.adminKey });
    const create = () => runCli(["directives", "create", "--role", "notes", "--type", "echo", "--objective", "Draft notes", "--scope", "staging", "--idempotency-key", "cli-1", "--json", "--url", gw.url], { cwd, env });
    const [first, second] = [await create(), await create()];
    expect(first.code).toBe(0);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout).id).toBe(JSON.parse(first.stdout).id);
    // Two CLI processes, each loading the CLI from source: slow on a loaded machine.
  }, 120_000);

  it("refuses an Idempotency-Key that is empty or longer than 255 characters", async () => {
    const gw = await gateway(config({ governance: { execution: { enabled: false } } }));
    for (const bad of ["", "x".repeat(256)]) {
      const refused = await post(gw, directive, gw.adminKey, bad);
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatchObject({ code: "invalid_request", param: "Idempotency-Key" });
    }
  });
});
