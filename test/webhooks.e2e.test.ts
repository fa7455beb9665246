import { createHmac } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { MAX_IN_FLIGHT } from "../src/governance/notifications.js";
import type { FakeUpstream } from "./fakes/upstream.js";
import { api, ask, rawChat, routesSuite } from "./support/routing.js";
import { isolatedEnv, killAll, randomAdminKey, removeTempDirs, runCli, seedDataDir, spawnGateway, urlWhereNothingListens, workspace, type GatewayProcess } from "./support/process.js";
import { createScratchDatabase, dropScratchDatabase, STORE_KINDS } from "./support/stores.js";
import { startReceiver, until, type Receiver } from "./support/webhook-receiver.js";

/**
 * Notifications: webhooks hear approval requests, applied changes, budget warnings and exhaustion,
 * and kill switch flips, each event once per webhook, signed when a secret is set; delivery is queued,
 * so a receiver that is down or hangs never holds up the call or the change that raised the event.
 */
describe.each(STORE_KINDS)("webhooks on %s", (kind) => {
  let upstreams: [FakeUpstream, FakeUpstream, FakeUpstream];
  const { config, gateway } = routesSuite(kind, (made) => {
    upstreams = made;
  });
  const receivers: Receiver[] = [];
  afterEach(async () => {
    for (const receiver of receivers.splice(0)) await receiver.close();
  });

  it("delivers each event once per webhook: JSON signed with the secret, and Slack text", async () => {
    const json = await startReceiver();
    const slack = await startReceiver();
    receivers.push(json, slack);
    const gw = await gateway(
      config({
        operations: { summarize: { model: "p1/m1" } },
        models: [{ id: "p1/m1", price: { input: "0", output: "100", per: "1M" } }, { id: "p2/m2", price: { input: "1", output: "2", per: "1M" } }],
        budgets: [{ name: "daily", scope: "global", limit: "0.02", warnAt: "0.01" }],
        budgeting: { syncIntervalMs: 100, leaseTtlMs: 1_000 },
        notifications: {
          webhooks: [
            { name: "ops", url: json.url, secret: "whsec-test" },
            { name: "chat", url: `${slack.url}/services/T0/B0/x`, format: "slack", events: ["kill_switch.flipped", "budget.exhausted"] },
          ],
        },
      }),
    );
    expect((await api(gw, "POST", "/admin/kill-switch", { active: true, reason: "incident 7 <!channel> & co" })).status).toBe(200);
    expect((await api(gw, "POST", "/admin/kill-switch", { active: false, reason: "resolved" })).status).toBe(200);

    const agent = (await api(gw, "POST", "/admin/keys", { name: "optimizer", kind: "agent" })).body;
    const request = (await api(gw, "POST", "/admin/change-requests", { kind: "route", target: "summarize", proposed: { model: "p2/m2" }, reasoning: "cheaper" }, agent.key)).body;
    expect((await api(gw, "POST", `/admin/change-requests/${request.id}/approve`, {})).body.status).toBe("APPLIED");

    // $0.01 a call against $0.02 with a warning at $0.01: two calls pass, the third is refused.
    for (let i = 0; i < 3; i++) upstreams[0].push({ kind: "ok", fixture: "openai/chat-length" });
    expect([(await rawChat(gw, gw.adminKey)).status, (await rawChat(gw, gw.adminKey)).status, (await rawChat(gw, gw.adminKey)).status]).toEqual([200, 200, 429]);
    await gw.plane.reports.recentCalls(1);

    const expected = ["kill_switch.flipped", "kill_switch.flipped", "approval.requested", "change.applied", "budget.warning", "budget.exhausted"];
    await until(() => json.received.map((r) => r.json.type), (types) => types.length >= expected.length);
    await new Promise((resolve) => setTimeout(resolve, 300)); // nothing more may arrive
    expect(json.received.map((r) => r.json.type).sort()).toEqual([...expected].sort());
    // Once each: every event id arrived once.
    expect(new Set(json.received.map((r) => r.json.id)).size).toBe(expected.length);
    for (const delivery of json.received) {
      expect(delivery.headers["x-airlock-event"]).toBe(delivery.json.type);
      expect(delivery.headers["x-airlock-event-id"]).toBe(delivery.json.id);
      expect(delivery.headers["x-airlock-signature"]).toBe(`sha256=${createHmac("sha256", "whsec-test").update(delivery.body).digest("hex")}`);
      const signed = `${delivery.headers["x-airlock-timestamp"]}.${delivery.json.id}.${delivery.body}`;
      expect(delivery.headers["x-airlock-signature-v2"]).toBe(`sha256=${createHmac("sha256", "whsec-test").update(signed).digest("hex")}`);
    }
    const flips = json.received.filter((r) => r.json.type === "kill_switch.flipped").map((r) => r.json.data);
    expect(flips).toEqual(expect.arrayContaining([expect.objectContaining({ active: true, scope: "global", reason: "incident 7 <!channel> & co" }), expect.objectContaining({ active: false, reason: "resolved" })]));
    expect(json.received.find((r) => r.json.type === "approval.requested")!.json.data).toMatchObject({ id: request.id, kind: "route", target: "summarize", category: "model_switch", requestedBy: agent.id, requestedByKind: "agent" });
    const warning = json.received.find((r) => r.json.type === "budget.warning")!.json.data;
    expect(warning).toMatchObject({ budget: "daily", scope: "global", limit: "0.02" });
    // A global budget has no target, as GET /admin/budgets shows it.
    expect(warning).not.toHaveProperty("target");

    await until(() => slack.received.length, (n) => n >= 3);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(slack.received.map((r) => r.path)).toEqual(Array(3).fill("/services/T0/B0/x"));
    const texts = slack.received.map((r) => r.json.text as string);
    // Slack reads <…> as links and mentions: a reason's text is escaped, so it pings nobody.
    expect(texts.filter((t) => t.startsWith("Airlock: kill switch ON for all calls") && t.endsWith(": incident 7 &lt;!channel&gt; &amp; co"))).toHaveLength(1);
    expect(texts.filter((t) => t.startsWith('Airlock: budget "daily" ($0.02) is used up'))).toHaveLength(1);
    expect(slack.received[0]!.headers["x-airlock-signature"]).toBeUndefined();

    const deliveries = (await api(gw, "GET", "/admin/webhooks/deliveries?limit=20")).body.data;
    expect(deliveries).toHaveLength(9);
    expect(deliveries.every((d: any) => d.status === "delivered" && d.attempts === 1 && d.lastStatus === 200)).toBe(true);
  });

  it("never holds up a call or a flip for a receiver that hangs or is down, and records the failed attempts", async () => {
    const hanging = await startReceiver("hang");
    const failing = await startReceiver(503);
    receivers.push(hanging, failing);
    const gw = await gateway(
      config({
        notifications: {
          webhooks: [
            { name: "hangs", url: hanging.url },
            { name: "fails", url: failing.url },
          ],
        },
      }),
    );
    expect((await api(gw, "POST", "/admin/kill-switch", { active: true, reason: "drill" })).status).toBe(200);
    await until(() => hanging.received.length, (n) => n === 1);
    // The receiver holds its request open; the flip has long answered, and calls run meanwhile.
    expect((await api(gw, "POST", "/admin/kill-switch", { active: false, reason: "drill over" })).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await ask(gw, "p1/m1")).model).toBe("p1/m1");
    expect(hanging.received.length).toBeLessThanOrEqual(2);

    // The failing receiver answered 503: the attempt is recorded and retried after a pause.
    const recorded = await (async () => {
      for (let i = 0; i < 200; i++) {
        const rows = (await api(gw, "GET", "/admin/webhooks/deliveries?limit=20")).body.data.filter((d: any) => d.webhook === "fails");
        if (rows.length === 2 && rows.every((d: any) => d.lastStatus === 503)) return rows;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error("the failing receiver's attempts were not recorded");
    })();
    for (const row of recorded) expect(row).toMatchObject({ status: "pending", attempts: 1, lastError: "HTTP 503", deliveredAt: null });
    expect(Date.parse(recorded[0].nextAttemptAt)).toBeGreaterThan(Date.now() - 1_000);
  });

  it("says why an attempt got no answer: the connection refused, or no answer in time", async () => {
    const hanging = await startReceiver("hang");
    const gone = await startReceiver();
    receivers.push(hanging);
    await gone.close(); // nothing listens on its port any more
    // Names no other test here uses: the store is shared, and an earlier test's "hangs" deliveries, handed back
    // unanswered when its gateway stopped, would be listed among these.
    const gw = await gateway(config({ notifications: { webhooks: [{ name: "silent", url: hanging.url }, { name: "gone", url: gone.url }] } }));
    expect((await api(gw, "POST", "/admin/kill-switch", { active: true, reason: "drill" })).status).toBe(200);
    const rows = async () => new Map<string, any>((await api(gw, "GET", "/admin/webhooks/deliveries?limit=10")).body.data.map((d: any) => [d.webhook, d]));
    const recordedBoth = (found: Map<string, any>) => found.size === 2 && [...found.values()].every((d) => d.lastError !== null);
    // A deadline, not a count of tries: under load each read takes longer, and the 5 s answer timeout must fit.
    for (const end = Date.now() + 20_000; Date.now() < end && !recordedBoth(await rows()); ) await new Promise((resolve) => setTimeout(resolve, 20));
    const recorded = await rows();
    expect(recorded.get("gone")).toMatchObject({ status: "pending", lastStatus: null, lastError: "could not reach the receiver: connection refused (ECONNREFUSED)" });
    expect(recorded.get("silent")).toMatchObject({ status: "pending", lastStatus: null, lastError: "no answer within 5 s" });
  });

  it("waits as long as a receiver that answers 429 asks in Retry-After, up to 10 minutes, before the next attempt", async () => {
    const limited = await startReceiver(429, { "retry-after": "120" });
    const overloaded = await startReceiver(503, { "retry-after": "86400" });
    receivers.push(limited, overloaded);
    const gw = await gateway(config({ notifications: { webhooks: [{ name: "limited", url: limited.url }, { name: "overloaded", url: overloaded.url }] } }));
    const flippedAt = Date.now();
    expect((await api(gw, "POST", "/admin/kill-switch", { active: true, reason: "drill" })).status).toBe(200);
    const rows = async () => new Map<string, any>((await api(gw, "GET", "/admin/webhooks/deliveries?limit=10")).body.data.map((d: any) => [d.webhook, d]));
    const recordedBoth = (found: Map<string, any>) => found.size === 2 && [...found.values()].every((d) => d.lastStatus !== null);
    // A deadline, not a count of tries: under load each read takes longer, and the 5 s answer timeout must fit.
    for (const end = Date.now() + 20_000; Date.now() < end && !recordedBoth(await rows()); ) await new Promise((resolve) => setTimeout(resolve, 20));
    const recorded = await rows();
    expect(recorded.get("limited")).toMatchObject({ status: "pending", attempts: 1, lastStatus: 429 });
    expect(Date.parse(recorded.get("limited").nextAttemptAt) - flippedAt).toBeGreaterThanOrEqual(119_000);
    // A day asked: ten minutes granted, so the delivery is still tried again.
    const overloadedNext = Date.parse(recorded.get("overloaded").nextAttemptAt) - flippedAt;
    expect(overloadedNext).toBeGreaterThanOrEqual(599_000);
    expect(overloadedNext).toBeLessThanOrEqual(600_000 + 60_000);
    expect(limited.received).toHaveLength(1);
  });

  it("keeps a hanging receiver's backlog from delaying another receiver's deliveries", async () => {
    const hanging = await startReceiver("hang");
    const healthy = await startReceiver();
    receivers.push(hanging, healthy);
    // The gateway runs in this process, so a warning of Node's about it (on a gateway's stderr) is heard here.
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const gw = await gateway(config({ notifications: { webhooks: [{ name: "hangs", url: hanging.url }, { name: "answers", url: healthy.url }] } }));
      // More events than one instance sends at once to a webhook: the hanging receiver's fill its own slots for 5 s.
      const flips = 40;
      for (let i = 0; i < flips; i++) expect((await api(gw, "POST", "/admin/kill-switch", { active: i % 2 === 0, reason: `flip ${i}` })).status).toBe(200);
      const lastFlip = Date.now();
      await until(() => healthy.received.length, (n) => n === flips, 4_000);
      // Well within the 5 s a hanging attempt is given: none of the healthy receiver's deliveries waited for one.
      expect(Date.now() - lastFlip).toBeLessThan(4_000);
      expect(new Set(healthy.received.map((r) => r.json.data.reason)).size).toBe(flips);
      // Every attempt one instance sends at once held open by one receiver, each able to be cut when the instance
      // closes: Node warns of a "possible memory leak" past ten listeners on one AbortSignal, and none is heard.
      await until(() => hanging.received.length, (n) => n === MAX_IN_FLIGHT);
      await new Promise((resolve) => setImmediate(resolve)); // process warnings are emitted on the next tick
      expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning").map((w) => w.message)).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("sends the credentials of a URL such as https://user:password@host as Basic authentication, and never shows them", async () => {
    const protectedReceiver = await startReceiver();
    receivers.push(protectedReceiver);
    const withCredentials = protectedReceiver.url.replace("http://", "http://airlock:pa%24%24word-7@");
    const gw = await gateway(config({ notifications: { webhooks: [{ name: "guarded", url: `${withCredentials}/hook` }] } }));
    expect((await api(gw, "POST", "/admin/kill-switch", { active: true, reason: "drill" })).status).toBe(200);
    await until(() => protectedReceiver.received.length, (n) => n === 1);
    const [request] = protectedReceiver.received;
    expect(request!.path).toBe("/hook");
    expect(request!.headers.authorization).toBe(`Basic ${Buffer.from("airlock:pa$$word-7").toString("base64")}`);
    const deliveries = async () => (await api(gw, "GET", "/admin/webhooks/deliveries?limit=5")).body.data;
    for (let i = 0; i < 200 && (await deliveries())[0]?.status !== "delivered"; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    const listed = await deliveries();
    expect(listed[0]).toMatchObject({ status: "delivered", lastStatus: 200, lastError: null });
    expect(JSON.stringify(listed)).not.toContain("word-7");
  });

  it("does not follow a receiver's redirect: the delivery fails with its status instead of counting a bodiless GET as delivered", async () => {
    const moved = await startReceiver(301, { location: "/new-home" });
    receivers.push(moved);
    const gw = await gateway(config({ notifications: { webhooks: [{ name: "moved", url: `${moved.url}/old-home`, secret: "whsec-moved" }] } }));
    expect((await api(gw, "POST", "/admin/kill-switch", { active: true, reason: "drill" })).status).toBe(200);
    const deliveries = async () => (await api(gw, "GET", "/admin/webhooks/deliveries?limit=5")).body.data;
    for (let i = 0; i < 200 && (await deliveries())[0]?.status !== "failed"; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    // A 3xx will not change by itself: it ends the delivery at once, saying what to do.
    expect((await deliveries())[0]).toMatchObject({ status: "failed", attempts: 1, lastStatus: 301, deliveredAt: null });
    expect((await deliveries())[0].lastError).toMatch(/^HTTP 301: redirects are not followed/);
    expect(moved.received.map((r) => r.path)).toEqual(["/old-home"]);
  });

  it("does not read a receiver's answer body: one that never ends neither holds the delivery nor fills memory", async () => {
    // Answers 200, then sends 64 KB every 10 ms for as long as the connection stays open.
    let answeredAt = 0;
    let sent = 0;
    let closedAt: Promise<number> = new Promise(() => undefined);
    const server = createServer((req, res) => {
      req.resume().on("end", () => {
        res.writeHead(200, { "content-type": "text/plain" });
        answeredAt = Date.now();
        const chunk = Buffer.alloc(64 * 1024, 97);
        const timer = setInterval(() => {
          sent += chunk.length;
          res.write(chunk);
        }, 10);
        closedAt = new Promise((resolve) => res.on("close", () => (clearInterval(timer), resolve(Date.now()))));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    receivers.push({ url: "", received: [], close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))) });
    const gw = await gateway(config({ notifications: { webhooks: [{ name: "chatty", url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` }] } }));
    expect((await api(gw, "POST", "/admin/kill-switch", { active: true, reason: "drill" })).status).toBe(200);
    await until(() => answeredAt, (at) => at > 0);
    // Let go at once, not after the 5 s an attempt may take, and with next to nothing of the body read.
    expect((await closedAt) - answeredAt).toBeLessThan(1_000);
    expect(sent).toBeLessThan(8 * 1024 * 1024);
    const deliveries = async () => (await api(gw, "GET", "/admin/webhooks/deliveries?limit=5")).body.data;
    for (let i = 0; i < 200 && (await deliveries())[0]?.status !== "delivered"; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await deliveries())[0]).toMatchObject({ status: "delivered", attempts: 1, lastStatus: 200 });
  });

});

/**
 * The CLI flips the kill switch through the store itself when no gateway answers. It knows no webhooks,
 * so it queues the event for every webhook, and a gateway sends it on: at once to a gateway on the same
 * PostgreSQL, or at the next start of the gateway on an embedded store's data directory.
 */
describe.each(STORE_KINDS)("webhooks of a kill switch flip the CLI wrote to the %s store", (kind) => {
  const receivers: Receiver[] = [];
  afterEach(async () => {
    await killAll();
    for (const receiver of receivers.splice(0)) await receiver.close();
  });
  afterAll(removeTempDirs);

  it("reach each webhook that listens, once, in its format", async () => {
    const json = await startReceiver();
    const slack = await startReceiver();
    const notListening = await startReceiver();
    receivers.push(json, slack, notListening);
    const { cwd, dataDir } = await workspace();
    await writeFile(
      path.join(cwd, "airlock.config.yaml"),
      [
        "providers: { demo: { type: mock } }",
        'models: [{ id: "demo/m", price: { input: "1", output: "2", per: "1M" } }]',
        "notifications:",
        "  webhooks:",
        `    - { name: ops, url: "${json.url}/ops", secret: "whsec-cli" }`,
        `    - { name: chat, url: "${slack.url}/chat", format: slack, events: [kill_switch.flipped] }`,
        `    - { name: budgets, url: "${notListening.url}/budgets", events: [budget.exhausted] }`,
      ].join("\n"),
    );
    const scratch = kind === "postgres" ? await createScratchDatabase() : undefined;
    try {
      const env = isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: randomAdminKey(), DATABASE_URL: scratch?.href });
      // No gateway answers where the CLI looks (an operator's own machine): it writes to the store itself.
      const cliEnv = { ...env, AIRLOCK_URL: await urlWhereNothingListens() };
      let gateway: GatewayProcess;
      if (kind === "postgres") {
        gateway = await spawnGateway({ cwd, env, args: ["--port", "0", "--host", "127.0.0.1"] });
        const flip = await runCli(["kill-switch", "on", "--reason", "cli drill"], { cwd, env: { ...cliEnv, AIRLOCK_DATA_DIR: path.join(cwd, "cli-data") } });
        expect(flip).toMatchObject({ code: 0, stderr: "" });
        expect(flip.stdout).toContain("no gateway running");
      } else {
        await seedDataDir(dataDir);
        const flip = await runCli(["kill-switch", "on", "--reason", "cli drill"], { cwd, env: cliEnv });
        expect(flip).toMatchObject({ code: 0, stderr: "" });
        gateway = await spawnGateway({ cwd, env, args: ["--port", "0", "--host", "127.0.0.1"] });
      }

      await until(() => json.received.length + slack.received.length, (n) => n >= 2);
      await new Promise((resolve) => setTimeout(resolve, 1_500)); // a poll later, nothing more may arrive
      expect(json.received).toHaveLength(1);
      const [event] = json.received;
      expect(event!.json).toMatchObject({ type: "kill_switch.flipped", data: { active: true, scope: "global", reason: "cli drill", by: expect.stringMatching(/^cli:/) } });
      expect(event!.headers["x-airlock-event-id"]).toBe(event!.json.id);
      expect(event!.headers["x-airlock-signature"]).toBe(`sha256=${createHmac("sha256", "whsec-cli").update(event!.body).digest("hex")}`);
      expect(slack.received.map((r) => r.json.text)).toEqual([expect.stringMatching(/^Airlock: kill switch ON for all calls by cli:.*: cli drill$/)]);
      expect(slack.received[0]!.headers["x-airlock-event-id"]).toBe(event!.json.id);
      expect(notListening.received).toHaveLength(0);

      const res = await fetch(`${gateway.url}/admin/webhooks/deliveries?limit=10`, { headers: { authorization: `Bearer ${env.AIRLOCK_ADMIN_KEY}` } });
      const deliveries = ((await res.json()) as { data: Array<{ webhook: string; status: string }> }).data;
      expect(deliveries.map((d) => [d.webhook, d.status]).sort()).toEqual([["chat", "delivered"], ["ops", "delivered"]]);
      expect(await gateway.stop()).toBe(0);
    } finally {
      await killAll();
      if (scratch) await dropScratchDatabase(scratch);
    }
  }, 60_000);
});
