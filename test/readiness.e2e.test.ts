import { connect, type Socket } from "node:net";
import { once } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startFakeUpstream, type FakeScenario } from "./fakes/upstream.js";
import { oneOpenAiModel, startTestGateway } from "./support/gateway.js";
import { captureLogs } from "./support/routing.js";
import { startTcpProxy } from "./support/tcp-proxy.js";
import { createScratchDatabase, dropScratchDatabase, STORE_KINDS } from "./support/stores.js";
import { ControlPlane } from "../src/control-plane.js";
import { resolveConfig } from "../src/config/load.js";
import { createGateway } from "../src/gateway/server.js";
import { openDatabase } from "../src/store/database.js";

/** What a load balancer's health check sees when the store goes away. */
describe.runIf(STORE_KINDS.includes("postgres"))("readiness on PostgreSQL", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("answers /readyz 503 while the store is unreachable, and 200 again once it is back", async () => {
    const upstream = await startFakeUpstream("openai");
    cleanups.push(() => upstream.close());
    const url = await createScratchDatabase();
    cleanups.push(() => dropScratchDatabase(url));
    // Migrated directly, then served through a proxy the test can cut.
    await (await openDatabase({ url: url.href })).close();
    const proxy = await startTcpProxy(url.hostname, Number(url.port || 5432));
    cleanups.push(() => proxy.close());
    const proxied = new URL(url.href);
    proxied.hostname = "127.0.0.1";
    proxied.port = String(proxy.port);
    const database = await openDatabase({ url: proxied.href, maxConnections: 2 });
    const plane = await ControlPlane.create({ config: resolveConfig({ providers: { oai: { type: "openai-compatible", baseUrl: upstream.url } }, models: [{ id: "oai/gpt-4.1-mini", price: { input: "0.4", output: "1.6", per: "1M" } }] }, "test"), database, adminKey: "sk-test-admin-readiness" });
    const gateway = createGateway({ plane, logger: plane.logger });
    const gw = await gateway.listen(0, "127.0.0.1");
    cleanups.push(async () => {
      await gateway.close(1_000);
      await plane.close();
      await database.close().catch(() => undefined);
    });

    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
    proxy.cut();
    const down = await fetch(`${gw.url}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: "degraded", store: { reachable: false } });
    proxy.restore();
    await until(async () => (await fetch(`${gw.url}/readyz`)).status === 200);
  });
});

describe("request ids", () => {
  it("answers every request with the x-request-id its access-log line carries, the caller's own when it sent a usable one", async () => {
    const upstream = await startFakeUpstream("openai");
    const lines: Array<Record<string, unknown>> = [];
    const logs = captureLogs();
    const gw = await startTestGateway("pglite", { providers: { oai: { type: "openai-compatible", baseUrl: upstream.url } }, models: [{ id: "oai/gpt-4.1-mini", price: { input: "0.4", output: "1.6", per: "1M" } }] }, { logger: logs.logger });
    try {
      const auth = { authorization: `Bearer ${gw.adminKey}` };
      for (const path of ["/healthz", "/readyz", "/metrics", "/v1/models", "/admin/status"]) {
        const res = await fetch(`${gw.url}${path}`, { headers: auth });
        expect(res.status, path).toBe(200);
        const id = res.headers.get("x-request-id");
        expect(id, path).toMatch(/^req_/);
        lines.push({ path, id });
      }
      const own = await fetch(`${gw.url}/v1/models`, { headers: { ...auth, "x-request-id": "caller-chosen-1" } });
      expect(own.headers.get("x-request-id")).toBe("caller-chosen-1");
      await gw.close();
      const logged = logs.lines.filter((l) => l.msg === "request");
      for (const { path, id } of lines) expect(logged.find((l) => l.path === path)?.requestId, String(path)).toBe(id);
      expect(logged.some((l) => l.requestId === "caller-chosen-1")).toBe(true);
    } finally {
      await upstream.close();
    }
  });

  it("answers with it whatever serves the request: a browser's preflight, a path no route serves, a method a path does not take", async () => {
    const upstream = await startFakeUpstream("openai");
    const logs = captureLogs();
    const gw = await startTestGateway("pglite", { ...oneOpenAiModel(upstream.url), server: { corsOrigins: ["https://app.example"] } }, { logger: logs.logger });
    try {
      const answers = [
        await fetch(`${gw.url}/v1/chat/completions`, { method: "OPTIONS", headers: { origin: "https://app.example", "access-control-request-method": "POST" } }),
        await fetch(`${gw.url}/chat/completions`, { method: "POST" }),
        await fetch(`${gw.url}/v1/chat/completions`, { method: "GET" }),
      ];
      expect(answers.map((res) => res.status)).toEqual([204, 404, 405]);
      const ids = answers.map((res) => res.headers.get("x-request-id"));
      await gw.close();
      const logged = logs.lines.filter((l) => l.msg === "request").map((l) => l.requestId);
      for (const id of ids) {
        expect(id).toMatch(/^req_/);
        expect(logged).toContain(id);
      }
    } finally {
      await upstream.close();
    }
  });
});

/**
 * What a load balancer's health check sees while the gateway drains: its readiness goes at once, so no
 * new traffic is sent to it, while its liveness holds, so it is not restarted mid-drain.
 */
describe("readiness while the gateway drains", () => {
  it("answers /readyz 503 draining once the graceful close has begun, and /healthz 200", async () => {
    let release!: (scenario: FakeScenario) => void;
    const upstream = await startFakeUpstream("openai");
    upstream.push({ kind: "held", until: new Promise<FakeScenario>((resolve) => (release = resolve)) });
    const gw = await startTestGateway("pglite", oneOpenAiModel(upstream.url));
    try {
      // A call in flight holds the close in its grace.
      const call = gw
        .client()
        .chat.completions.create({ model: "oai/gpt-4.1-mini", messages: [{ role: "user", content: "hold on" }] })
        .catch((err: unknown) => err);
      await vi.waitFor(() => expect(upstream.requests).toHaveLength(1));
      // Probes whose requests began before the close: a connection in the middle of a request is not idle, so it stays open.
      const serverSockets: Socket[] = [];
      gw.gateway.server.on("connection", (socket: Socket) => serverSockets.push(socket));
      const readyz = await startedProbe(gw.url, "/readyz", serverSockets);
      const healthz = await startedProbe(gw.url, "/healthz", serverSockets);
      expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);

      const closing = gw.gateway.close(20_000);
      const [ready, live] = await Promise.all([readyz.finish(), healthz.finish()]);
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body)).toMatchObject({ status: "draining" });
      expect(ready.head).toMatch(/^x-request-id: \S+$/im);
      expect(live.status).toBe(200);
      expect(JSON.parse(live.body)).toEqual({ status: "ok" });

      release({ kind: "ok" });
      expect(await call).toMatchObject({ model: "oai/gpt-4.1-mini" });
      await closing;
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

/** A GET sent up to the end of its headers, once the gateway has read that much; `finish` sends the rest and reads the answer. */
async function startedProbe(base: string, path: string, serverSockets: Socket[]): Promise<{ finish(): Promise<{ status: number; head: string; body: string }> }> {
  const url = new URL(base);
  const socket = connect(Number(url.port), url.hostname);
  await once(socket, "connect");
  const started = `GET ${path} HTTP/1.1\r\nhost: ${url.host}\r\n`;
  socket.write(started);
  await vi.waitFor(() => expect(serverSockets.find((s) => s.remotePort === socket.localPort)?.bytesRead).toBe(Buffer.byteLength(started)));
  return {
    finish: async () => {
      const chunks: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      const ended = once(socket, "close");
      socket.write("\r\n");
      await ended;
      const text = Buffer.concat(chunks).toString("utf8");
      const split = text.indexOf("\r\n\r\n");
      return { status: Number(text.slice(9, 12)), head: text.slice(0, split), body: text.slice(split + 4) };
    },
  };
}

async function until(probe: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
