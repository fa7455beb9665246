import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { startTestGateway } from "./support/gateway.js";
import { api, ask, BOOTSTRAP_ADMIN_ID, refusal, routesSuite, rowOf } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * The kill switch on one instance: it stops calls before any upstream is touched, per operation or
 * for everything, records each refusal, and audits every flip with who, why and when.
 */
describe.each(STORE_KINDS)("kill switch on %s", (kind) => {
  let upstreams: [FakeUpstream, FakeUpstream, FakeUpstream];
  const { config, gateway, sent } = routesSuite(kind, (made) => {
    upstreams = made;
  });
  const operations = { summarize: { model: "p1/m1" }, chat: { model: "p2/m2" } };

  it("stops every call before any upstream is touched, records the refusal, and audits each flip", async () => {
    const gw = await gateway(config({ operations }));
    expect((await ask(gw, "p1/m1")).model).toBe("p1/m1");
    const before = sent();

    const on = await api(gw, "POST", "/admin/kill-switch", { active: true, reason: "runaway agent loop, incident 42" });
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({ global: { active: true, reason: "runaway agent loop, incident 42", updatedBy: BOOTSTRAP_ADMIN_ID }, confirmed: true });

    for (const target of ["p1/m1", "summarize", "chat"]) {
      const refused = await refusal(gw, target);
      expect(refused).toMatchObject({ status: 503, code: "kill_switch_active" });
      // The operator's reason is for operators: callers are told only that calls stopped.
      expect(refused.message).not.toContain("incident 42");
      expect(await rowOf(gw, refused.requestId)).toMatchObject({ outcome: "refused", errorCode: "kill_switch_active", httpStatus: 503, attemptCount: 0 });
    }
    const embedding = await fetch(`${gw.url}/v1/embeddings`, { method: "POST", headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" }, body: JSON.stringify({ model: "p1/m1", input: "x" }) });
    expect(embedding.status).toBe(503);
    expect(sent()).toEqual(before);

    const off = await api(gw, "POST", "/admin/kill-switch", { active: false, reason: "loop fixed" });
    expect(off.body.global).toMatchObject({ active: false, reason: "loop fixed" });
    expect((await ask(gw, "summarize")).model).toBe("p1/m1");

    const audit = await api(gw, "GET", "/admin/audit?limit=2");
    expect(audit.body.data.map((e: Record<string, unknown>) => [e.action, e.target, e.reason, e.actor, e.actorKind, e.outcome])).toEqual([
      ["kill_switch.off", "global", "loop fixed", BOOTSTRAP_ADMIN_ID, "admin", "applied"],
      ["kill_switch.on", "global", "runaway agent loop, incident 42", BOOTSTRAP_ADMIN_ID, "admin", "applied"],
    ]);
    expect(Date.parse(audit.body.data[0].ts)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("stops a call waiting to retry: no retry or fallback starts after the flip", async () => {
    const gw = await gateway(config({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 5_000 }, operations: { chat: { model: "p1/m1", fallbacks: ["p2/m2"] } } }));
    upstreams[0].push({ kind: "error", status: 429, headers: { "retry-after": "1" } });
    const before = sent();
    const call = refusal(gw, "chat");
    // The first attempt is refused and the call waits a second before retrying: flip meanwhile.
    while (sent()[0] === before[0]) await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await api(gw, "POST", "/admin/kill-switch", { active: true, reason: "mid-retry" })).status).toBe(200);
    expect(await call).toMatchObject({ status: 503, code: "kill_switch_active" });
    expect(sent()).toEqual([before[0]! + 1, before[1], before[2]]);
  });

  it("stops only its operation's calls when flipped for one operation", async () => {
    const gw = await gateway(config({ operations }));
    const on = await api(gw, "POST", "/admin/kill-switch", { active: true, operation: "summarize", reason: "bad prompt shipped" });
    expect(on.body.operations).toEqual([expect.objectContaining({ operation: "summarize", active: true, reason: "bad prompt shipped" })]);
    expect(on.body.global).toBeNull();

    expect(await refusal(gw, "summarize")).toMatchObject({ status: 503, code: "kill_switch_active" });
    expect(await refusal(gw, undefined, { operation: "summarize" })).toMatchObject({ status: 503, code: "kill_switch_active" });
    expect((await ask(gw, "chat")).model).toBe("p2/m2");
    expect((await ask(gw, "p1/m1")).model).toBe("p1/m1");
  });

  it("refuses a flip without a reason, for an unknown operation, or from a key that is not an admin's", async () => {
    const gw = await gateway(config({ operations }));
    expect(await api(gw, "POST", "/admin/kill-switch", { active: true })).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
    expect(await api(gw, "POST", "/admin/kill-switch", { active: true, reason: "   " })).toMatchObject({ status: 400 });
    expect(await api(gw, "POST", "/admin/kill-switch", { active: true, operation: "nope", reason: "x" })).toMatchObject({ status: 404, body: { error: { code: "not_found", param: "operation" } } });
    const service = await api(gw, "POST", "/admin/keys", { name: "svc", kind: "service" });
    expect(await api(gw, "POST", "/admin/kill-switch", { active: true, reason: "x" }, service.body.key)).toMatchObject({ status: 403 });
    expect((await api(gw, "GET", "/admin/kill-switch")).body).toMatchObject({ global: null, operations: [], confirmed: true });
    expect((await ask(gw, "chat")).model).toBe("p2/m2");
  });
});

describe.each(STORE_KINDS)("streams in flight when the kill switch goes on, on %s", (kind) => {
  const closers: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
  });

  async function streamAcrossAFlip(inFlight: "finish" | "cut"): Promise<{ received: string[]; error: unknown }> {
    const upstream = await startFakeUpstream("openai", { chunkDelayMs: 120 });
    const gw = await startTestGateway(kind, {
      killSwitch: { inFlight },
      providers: { oai: { type: "openai-compatible", baseUrl: upstream.url } },
      models: [{ id: "oai/gpt-4.1-mini", price: { input: "0.4", output: "1.6", per: "1M" } }],
    });
    closers.push(() => upstream.close(), () => gw.close());
    const stream = await gw.client().chat.completions.create({ model: "oai/gpt-4.1-mini", messages: [{ role: "user", content: "hi" }], stream: true });
    const received: string[] = [];
    let flipped = false;
    let error: unknown;
    try {
      for await (const chunk of stream) {
        const text = chunk.choices[0]?.delta.content;
        if (text) received.push(text);
        if (received.length === 2 && !flipped) {
          flipped = true;
          await api({ url: gw.url, adminKey: gw.adminKey }, "POST", "/admin/kill-switch", { active: true, reason: "stop" });
        }
      }
    } catch (err) {
      error = err;
    }
    return { received, error };
  }

  it("lets a running stream finish by default", async () => {
    const { received, error } = await streamAcrossAFlip("finish");
    expect(error).toBeUndefined();
    expect(received.join("")).toBe("The capital of France is Paris.");
  });

  it("cuts a running stream with kill_switch_active when configured to", async () => {
    const { received, error } = await streamAcrossAFlip("cut");
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("kill_switch_active");
    expect(received.length).toBeGreaterThanOrEqual(2);
    expect(received.length).toBeLessThan(7);
  });
});
