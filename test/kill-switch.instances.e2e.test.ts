import { writeFile } from "node:fs/promises";
import OpenAI from "openai";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { isolatedEnv, killAll, randomAdminKey, removeTempDirs, runCli, spawnGateway, workspace, type GatewayProcess } from "./support/process.js";
import { api, ask, refusal, routesSuite } from "./support/routing.js";
import { createScratchDatabase, dropScratchDatabase, STORE_KINDS } from "./support/stores.js";
import { databaseBehindProxy } from "./support/tcp-proxy.js";
import { startFakeUpstream } from "./fakes/upstream.js";

/**
 * The kill switch across instances sharing one PostgreSQL: three gateway processes stop within a
 * second of a flip on one of them, and an instance that loses the store stops too (it cannot know
 * whether the switch moved), then recovers by itself. Needs PostgreSQL: the embedded store is one
 * process, where a flip applies at once.
 */
const CONFIG = `
providers:
  m: { type: mock }
models:
  - { id: "m/fast", price: { input: "1", output: "2", per: "1M" } }
operations:
  chat: { model: m/fast }
`;

afterEach(killAll);
afterAll(removeTempDirs);

/** Calls `probe` every 5 ms until it holds; the milliseconds from `since`. */
async function msUntil(probe: () => Promise<boolean>, since: number, giveUpMs = 5_000): Promise<number> {
  for (;;) {
    if (await probe()) return Math.round(performance.now() - since);
    if (performance.now() - since > giveUpMs) throw new Error(`not within ${giveUpMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function chatStatus(gateway: GatewayProcess, key: string): Promise<number> {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "chat", messages: [{ role: "user", content: "hi" }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

/**
 * A workspace with `config`, an admin key and a scratch PostgreSQL database; `run` gets the gateway
 * environment (`AIRLOCK_DATA_DIR` set to the workspace's, to be overridden per instance). The
 * database is dropped after.
 */
async function onSharedStore(config: string, run: (setup: { cwd: string; dataDir: string; adminKey: string; env: NodeJS.ProcessEnv }) => Promise<void>): Promise<void> {
  const { cwd, dataDir } = await workspace();
  await writeFile(path.join(cwd, "airlock.config.yaml"), config);
  const adminKey = randomAdminKey();
  const scratch = await createScratchDatabase();
  try {
    await run({ cwd, dataDir, adminKey, env: isolatedEnv({ AIRLOCK_ADMIN_KEY: adminKey, DATABASE_URL: scratch.href, AIRLOCK_DATA_DIR: dataDir }) });
  } finally {
    await dropScratchDatabase(scratch);
  }
}

const LISTEN_ANYWHERE = ["--port", "0", "--host", "127.0.0.1"];

if (STORE_KINDS.includes("postgres")) {
  describe("kill switch across three gateway processes on one PostgreSQL", () => {
    it("stops every instance within 1 s of a flip on one, and starts them again within 1 s", async () => {
      await onSharedStore(CONFIG, async ({ cwd, dataDir, adminKey, env }) => {
        const gateways: GatewayProcess[] = [];
        for (const name of ["a", "b", "c"]) gateways.push(await spawnGateway({ cwd, env: { ...env, AIRLOCK_DATA_DIR: path.join(dataDir, name) }, args: LISTEN_ANYWHERE }));
        for (const gateway of gateways) expect(await chatStatus(gateway, adminKey)).toBe(200);

        const sentAt = performance.now();
        const flip = await api({ url: gateways[0]!.url, adminKey }, "POST", "/admin/kill-switch", { active: true, reason: "propagation test" });
        expect(flip.status).toBe(200);
        const stopMs = await Promise.all(gateways.map((gateway) => msUntil(async () => (await chatStatus(gateway, adminKey)) === 503, sentAt)));
        console.log(`kill switch ON reached instances a, b, c in ${stopMs.join(", ")} ms (from the moment the flip was sent)`);
        for (const ms of stopMs) expect(ms).toBeLessThan(1_000);

        // Off, from the CLI against instance c: all three serve again.
        const offAt = performance.now();
        const cli = await runCli(["kill-switch", "off", "--reason", "propagation test done", "--url", gateways[2]!.url, "--admin-key", adminKey, "--json"], { cwd, env });
        expect(cli.code).toBe(0);
        expect(JSON.parse(cli.stdout)).toMatchObject({ global: { active: false, reason: "propagation test done" } });
        const cliDoneAt = performance.now();
        const startMs = await Promise.all(gateways.map((gateway) => msUntil(async () => (await chatStatus(gateway, adminKey)) === 200, cliDoneAt)));
        console.log(`kill switch off reached instances a, b, c in ${startMs.join(", ")} ms after the CLI returned (CLI run: ${Math.round(cliDoneAt - offAt)} ms)`);
        for (const ms of startMs) expect(ms).toBeLessThan(1_000);

        const status = await runCli(["kill-switch", "status", "--url", gateways[1]!.url, "--admin-key", adminKey], { cwd, env });
        expect(status.stdout).toContain("Kill switch off for all calls.");
      });
    });
  });

  describe("kill switch after the gateway's own process was held", () => {
    // Stopped with SIGSTOP, as a starved CPU or a long collection holds it: its monotonic clock moves
    // on, its poll cannot run, and the calls sent meanwhile wait in the kernel's queue.
    async function heldWhile<T>(gateway: GatewayProcess, heldMs: number, send: () => Promise<T>): Promise<T> {
      const pid = gateway.proc.pid!;
      process.kill(pid, "SIGSTOP");
      let sent: Promise<T>;
      try {
        await new Promise((resolve) => setTimeout(resolve, heldMs));
        sent = send();
        await new Promise((resolve) => setTimeout(resolve, 100));
      } finally {
        process.kill(pid, "SIGCONT");
      }
      return sent;
    }

    it("serves the calls that queued while it was held, once the store confirms the switch is off, and refuses them once it finds it on", async () => {
      await onSharedStore(CONFIG, async ({ cwd, dataDir, adminKey, env }) => {
        const gateway = await spawnGateway({ cwd, env, args: LISTEN_ANYWHERE });
        expect(await chatStatus(gateway, adminKey)).toBe(200);

        // Held past staleAfterMs (900 ms): its view of the switch is stale only because it could not poll.
        const served = await heldWhile(gateway, 1_500, () => Promise.all([1, 2, 3].map(() => chatStatus(gateway, adminKey))));
        expect(served).toEqual([200, 200, 200]);

        // Flipped by another instance while this one is held: the read the queued calls wait for finds it on.
        const other = await spawnGateway({ cwd, env: { ...env, AIRLOCK_DATA_DIR: path.join(dataDir, "other") }, args: LISTEN_ANYWHERE });
        const refused = await heldWhile(gateway, 1_500, async () => {
          const flip = await api({ url: other.url, adminKey }, "POST", "/admin/kill-switch", { active: true, reason: "flipped while held" });
          expect(flip.status).toBe(200);
          return Promise.all([1, 2].map(() => chatStatus(gateway, adminKey)));
        });
        expect(refused).toEqual([503, 503]);
      });
    });

    it("with inFlight: cut, lets a stream that was running while it was held go on, the switch being off", async () => {
      const upstream = await startFakeUpstream("openai", { chunkDelayMs: 120 });
      const config = `providers:\n  oai: { type: openai-compatible, baseUrl: "${upstream.url}" }\nmodels:\n  - { id: "oai/gpt-4.1-mini", price: { input: "0.4", output: "1.6", per: "1M" } }\nkillSwitch: { inFlight: cut }\n`;
      try {
        await onSharedStore(config, async ({ cwd, adminKey, env }) => {
          const gateway = await spawnGateway({ cwd, env, args: LISTEN_ANYWHERE });
          const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: adminKey, maxRetries: 0 });
          const stream = await client.chat.completions.create({ model: "oai/gpt-4.1-mini", messages: [{ role: "user", content: "hi" }], stream: true });
          const received: string[] = [];
          for await (const chunk of stream) {
            const text = chunk.choices[0]?.delta.content;
            if (text) received.push(text);
            if (received.length === 2 && text) await heldWhile(gateway, 1_500, async () => undefined);
          }
          expect(received.join("")).toBe("The capital of France is Paris.");
        });
      } finally {
        await upstream.close();
      }
    });
  });

  describe("kill switch when the store is lost", () => {
    const { config, store, instance } = routesSuite("postgres");

    it("stops calls within 2 s once the state cannot be confirmed, and recovers without a restart", async () => {
      const shared = await store();
      const { database, proxy, close: closeProxied } = await databaseBehindProxy(shared.url!);
      const gw = await instance(database, config({ operations: { chat: { model: "p1/m1" } } }));
      try {
        expect((await ask(gw, "chat")).model).toBe("p1/m1");
        const made = await api(gw, "POST", "/admin/keys", { name: "known", kind: "user" });
        const userKey = made.body.key as string;
        expect((await ask(gw, "chat", { key: userKey })).model).toBe("p1/m1");

        const cutAt = performance.now();
        proxy.cut();
        const stoppedMs = await msUntil(async () => (await refusal(gw, "chat").catch(() => undefined))?.code === "kill_switch_active", cutAt);
        console.log(`store cut: calls stopped after ${stoppedMs} ms`);
        // Guard decisions that need the store fail closed within 2 s; the defaults give at most staleAfterMs (900 ms).
        expect(stoppedMs).toBeLessThan(2_000);
        const refused = await refusal(gw, "chat");
        expect(refused).toMatchObject({ status: 503, code: "kill_switch_active" });
        expect(refused.message).toContain("cannot be read");
        // A key this instance already knows is still recognised: the refusal is the guard's 503, never a 401.
        expect(await refusal(gw, "chat", { key: userKey })).toMatchObject({ status: 503, code: "kill_switch_active" });
        expect((await api(gw, "GET", "/admin/kill-switch")).body).toMatchObject({ confirmed: false });

        proxy.restore();
        const restoredAt = performance.now();
        const recoveredMs = await msUntil(async () => (await ask(gw, "chat").catch(() => undefined))?.model === "p1/m1", restoredAt, 10_000);
        console.log(`store back: calls served again after ${recoveredMs} ms`);
        expect((await api(gw, "GET", "/admin/kill-switch")).body).toMatchObject({ confirmed: true });
      } finally {
        await gw.close();
        await closeProxied();
      }
    });

    it("serves again, and writes the rows it held, once the statements sent on connections gone silent (never answered, never closed) pass their deadline", async () => {
      const shared = await store();
      const deadlineMs = 2_000;
      const { database, proxy, close: closeProxied } = await databaseBehindProxy(shared.url!, { statementDeadlineMs: deadlineMs });
      const gw = await instance(database, config({ operations: { chat: { model: "p1/m1" } } }));
      try {
        // Every pooled connection in use at once, so that each one goes silent below.
        await Promise.all(Array.from({ length: 8 }, () => api(gw, "GET", "/admin/spend?since=1h")));
        expect((await ask(gw, "chat")).model).toBe("p1/m1");

        proxy.stall();
        const stalledAt = performance.now();
        // The statements sent on the silent connections hold them; the kill switch cannot be confirmed meanwhile.
        await msUntil(async () => (await refusal(gw, "chat").catch(() => undefined))?.code === "kill_switch_active", stalledAt);
        const recoveredMs = await msUntil(async () => (await ask(gw, "chat").catch(() => undefined))?.model === "p1/m1", stalledAt, 15_000);
        console.log(`connections gone silent: calls served again after ${recoveredMs} ms (statement deadline ${deadlineMs} ms)`);
        expect(recoveredMs).toBeLessThan(3 * deadlineMs + 2_000);
        const ledger = async () => (await api(gw, "GET", "/readyz")).body.ledger as { recorded: number; written: number };
        await msUntil(async () => {
          const { recorded, written } = await ledger();
          return recorded > 0 && written === recorded;
        }, performance.now(), 10_000);
      } finally {
        // The proxy first: a statement still stalled would hold the instance's closing until its deadline.
        await proxy.close();
        await gw.close();
        await closeProxied();
      }
    });
  });
}
