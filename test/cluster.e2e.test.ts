import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import OpenAI from "openai";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { openDatabase } from "../src/store/database.js";
import { countLedgerRows } from "../src/store/queries/ledger.js";
import { isolatedEnv, killAll, randomAdminKey, removeTempDirs, runCli, spawnGateway, workspace } from "./support/process.js";
import { createScratchDatabase, dropScratchDatabase, STORE_KINDS } from "./support/stores.js";
import { startFakeUpstream } from "./fakes/upstream.js";
import { chatStatus } from "./support/cluster.js";
import { awayFromMinuteEnd } from "./support/minute.js";

const CONFIG = `
providers:
  m: { type: mock }
models:
  - { id: "m/fast", price: { input: "1.25", output: "10", per: "1M" } }
`;

afterEach(killAll);

/** The primary's children that run the gateway (under tsx, an esbuild service is a child too); none at this instant is []. */
function workerPids(gateway: { proc: { pid?: number | undefined } }): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(gateway.proc.pid), "-f", "start --port"], { encoding: "utf8" }).trim().split("\n").map(Number);
  } catch {
    return [];
  }
}
afterAll(removeTempDirs);

type Gateway = Awaited<ReturnType<typeof spawnGateway>>;
interface Cluster {
  gateway: Gateway;
  adminKey: string;
  dataDir: string;
  scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
}

/** A two-worker gateway on its own scratch database, with `config` as its file (none: the demo); always torn down. */
async function withTwoWorkers(config: string | undefined, body: (cluster: Cluster) => Promise<void>): Promise<void> {
  const { cwd, dataDir } = await workspace();
  if (config !== undefined) await writeFile(path.join(cwd, "airlock.config.yaml"), config);
  const adminKey = randomAdminKey();
  const scratch = await createScratchDatabase();
  try {
    const gateway = await spawnGateway({
      cwd,
      env: isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: adminKey, DATABASE_URL: scratch.href }),
      args: ["--port", "0", "--host", "127.0.0.1", "--workers", "2"],
    });
    await body({ gateway, adminKey, dataDir, scratch });
  } finally {
    await killAll();
    await dropScratchDatabase(scratch);
  }
}

describe("airlock start --workers", () => {
  it("refuses more than one worker on the embedded store, and says why", async () => {
    const { cwd, dataDir } = await workspace();
    const result = await runCli(["start", "--workers", "2", "--port", "0"], { cwd, env: isolatedEnv({ AIRLOCK_DATA_DIR: dataDir }) });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("--workers needs PostgreSQL (set DATABASE_URL)");
  });

  it("refuses a worker count that is not a whole number", async () => {
    const { cwd } = await workspace();
    const result = await runCli(["start", "--workers", "0"], { cwd, env: isolatedEnv() });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('workers is a whole number from 1 to 256, or "auto"');
  });

  if (STORE_KINDS.includes("postgres")) {
    it("says the demo is in use when a cluster serves it, as one process does", async () => {
      await withTwoWorkers(undefined, async ({ gateway }) => {
        const ready = gateway.logLines().find((l) => typeof l.msg === "string" && l.msg.startsWith("Airlock gateway listening"));
        expect(ready).toMatchObject({ workers: 2, demo: true, msg: "Airlock gateway listening (DEMO configuration on the mock provider: no real model is called)" });
        expect(await gateway.stop("SIGTERM")).toBe(0);
      });
    }, 120_000);

    it("serves one port from two processes, sums their metrics, and loses no ledger row on SIGTERM", async () => {
      await withTwoWorkers(CONFIG, async ({ gateway, adminKey, dataDir, scratch }) => {
        expect(gateway.logLines().find((l) => l.msg === "Airlock gateway listening")).toMatchObject({ workers: 2, store: "postgres" });
        expect(existsSync(path.join(dataDir, "gateway.json"))).toBe(true);

        // Each client has its own connections, and the primary hands connections out round-robin.
        const N = 120;
        const clients = Array.from({ length: 6 }, () => new OpenAI({ apiKey: adminKey, baseURL: `${gateway.url}/v1`, maxRetries: 0, timeout: 20_000 }));
        let next = 0;
        await Promise.all(
          clients.map(async (client) => {
            while (next < N) {
              next++;
              const completion = await client.chat.completions.create({ model: "m/fast", messages: [{ role: "user", content: "hello" }] });
              expect(completion.usage?.total_tokens).toBeGreaterThan(0);
            }
          }),
        );

        // /metrics answers for the whole cluster, whichever worker takes the request.
        for (let i = 0; i < 3; i++) {
          const text = await (await fetch(`${gateway.url}/metrics`, { headers: { connection: "close" } })).text();
          expect(text).toContain(`airlock_requests_total{endpoint="chat",operation="none",model="m/fast",outcome="success"} ${N}`);
        }

        expect(await gateway.stop("SIGTERM")).toBe(0);
        const servedBy = new Set(gateway.logLines().filter((l) => l.msg === "request" && l.path === "/v1/chat/completions").map((l) => l.worker));
        expect(servedBy).toEqual(new Set([1, 2]));
        expect(existsSync(path.join(dataDir, "gateway.json"))).toBe(false);

        const database = await openDatabase({ url: scratch.href, maxConnections: 2 });
        try {
          expect(await countLedgerRows(database.db)).toBe(N);
        } finally {
          await database.close();
        }
      });
    }, 60_000);

    it("on a port already in use, fails the start with the reason, and neither restarts a worker nor reports a failed shutdown", async () => {
      const { cwd, dataDir } = await workspace();
      const scratch = await createScratchDatabase();
      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
      try {
        const port = (taken.address() as AddressInfo).port;
        const env = isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: randomAdminKey(), DATABASE_URL: scratch.href });
        const result = await runCli(["start", "--port", String(port), "--host", "127.0.0.1", "--workers", "2"], { cwd, env });
        expect(result.code).toBe(1);
        // Found by the primary before any worker starts (and seeds the store with this file).
        expect(result.stderr).toContain(`airlock: cannot listen on 127.0.0.1:${port}: the port is already in use (EADDRINUSE)`);
        expect(result.stderr).not.toContain("shutdown failed");
        expect(result.stdout).not.toContain("starting another");
      } finally {
        taken.close();
        await dropScratchDatabase(scratch);
      }
    }, 60_000);

    it("on SIGTERM while a replacement worker is still starting, lets it start and then stops it cleanly: exit 0", async () => {
      await withTwoWorkers(CONFIG, async ({ gateway }) => {
        const workers = workerPids(gateway);
        expect(workers).toHaveLength(2);
        process.kill(workers[0]!, "SIGKILL");
        // The replacement is forked 250 ms after the exit, and needs far longer than that to load and listen:
        // the SIGTERM reaches it while it starts, before it could have installed a handler of its own.
        await vi.waitFor(() => expect(workerPids(gateway).filter((pid) => !workers.includes(pid))).toHaveLength(1), { timeout: 10_000, interval: 10 });

        expect(await gateway.stop("SIGTERM", 40_000)).toBe(0);
        expect(gateway.stderr()).not.toContain("shutdown failed");
        // The replacement started, then stopped as every worker does.
        expect(gateway.logLines().filter((l) => l.msg === "Airlock gateway stopped" && l.worker !== undefined).map((l) => l.worker).sort()).toEqual([2, 3]);
      });
    }, 60_000);

    it("starts a worker that died again in its place, so its name as a directive worker (executor id) is the dead one's", async () => {
      await withTwoWorkers(CONFIG, async ({ gateway }) => {
        const workers = workerPids(gateway);
        expect(workers).toHaveLength(2);
        process.kill(workers[1]!, "SIGKILL");
        await vi.waitFor(() => expect(gateway.logLines().some((l) => l.msg === "gateway worker exited; starting another")).toBe(true), { timeout: 10_000 });
        const exited = gateway.logLines().find((l) => l.msg === "gateway worker exited; starting another")!;
        expect(exited).toMatchObject({ pid: workers[1] });
        expect([1, 2]).toContain(exited.slot);
        // The replacement (the cluster's third worker) starts in the dead worker's place, and says so as it stops.
        await vi.waitFor(() => expect(workerPids(gateway).filter((pid) => !workers.includes(pid))).toHaveLength(1), { timeout: 10_000, interval: 10 });
        expect(await gateway.stop("SIGTERM", 40_000)).toBe(0);
        const stopped = gateway.logLines().filter((l) => l.msg === "Airlock gateway stopped" && l.worker !== undefined);
        expect(stopped.map((l) => [l.worker, l.slot]).sort()).toEqual([[1, 1], [2, 2], [3, exited.slot]].filter(([worker]) => worker === 3 || worker !== exited.slot));
      });
    }, 60_000);

    it("names the worker that did not stop cleanly (killed while it finished its calls), and exits 1", async () => {
      const upstream = await startFakeUpstream("openai", { chunkDelayMs: 400 });
      try {
        await withTwoWorkers(`providers:\n  oai: { type: openai-compatible, baseUrl: "${upstream.url}" }\nmodels:\n  - { id: "oai/m", price: { input: "1", output: "1", per: "1M" } }\n`, async ({ gateway, adminKey }) => {
          const workers = workerPids(gateway);
          // Long streams on both workers (each client its own connection, handed out in turn), so both are draining.
          const streams = [0, 1, 2, 3].map(async () => {
            const client = new OpenAI({ apiKey: adminKey, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
            const stream = await client.chat.completions.create({ model: "oai/m", messages: [{ role: "user", content: "hi" }], stream: true });
            for await (const chunk of stream) void chunk;
          }).map((streamed) => streamed.catch(() => undefined)); // the killed worker's streams end cut
          await vi.waitFor(() => expect(upstream.requests).toHaveLength(4), { timeout: 10_000 });
          gateway.proc.kill("SIGTERM");
          process.kill(workers[0]!, "SIGKILL");
          // Not stop(): a second SIGTERM would end the primary at once.
          expect(await gateway.exited).toEqual({ code: 1, signal: null });
          await Promise.all(streams);
          expect(gateway.stderr()).toContain("airlock: shutdown failed: a worker did not stop cleanly");
          expect(gateway.logLines().find((l) => l.msg === "gateway worker did not stop cleanly")).toMatchObject({ pid: workers[0], code: null, signal: "SIGKILL" });
        });
      } finally {
        await upstream.close();
      }
    }, 60_000);

    /**
     * 200 concurrent "$0.01 calls" (max_tokens 100 from a model priced at $100 per 1M output tokens,
     * which the fake upstream answers with exactly 100 completion tokens), each on a fresh connection so
     * that the primary hands them to both workers in turn, under `guard`. Answers how many were admitted,
     * once the gateway has stopped, with the budget's counter and the ledger as the store holds them.
     */
    async function guardedBurst(guard: string): Promise<{ admitted: number; spent: string | undefined; ledger: string; rows: number }> {
      const upstream = await startFakeUpstream("openai", { chatFixture: "openai/chat-length" });
      const config = `
providers:
  oai: { type: openai-compatible, baseUrl: "${upstream.url}", apiKey: sk-upstream }
models:
  - { id: oai/gpt-4o-mini, price: { input: "0", output: "100", per: 1M } }
${guard}
ledger: { flushIntervalMs: 100 }
`;
      let result: Awaited<ReturnType<typeof guardedBurst>> | undefined;
      try {
        await withTwoWorkers(config, async ({ gateway, adminKey, scratch }) => {
          await awayFromMinuteEnd(15_000);
          const statuses = await Promise.all(Array.from({ length: 200 }, () => chatStatus(gateway.url, adminKey, "oai/gpt-4o-mini", { connection: "close" })));
          expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
          const admitted = statuses.filter((s) => s === 200).length;
          expect(upstream.requests.length).toBe(admitted);
          expect(await gateway.stop("SIGTERM")).toBe(0);
          const servedBy = new Set(gateway.logLines().filter((l) => l.msg === "request" && l.path === "/v1/chat/completions").map((l) => l.worker));
          expect(servedBy).toEqual(new Set([1, 2]));
          const client = new pg.Client({ connectionString: scratch.href });
          await client.connect();
          try {
            const { rows } = await client.query<{ spent: string | null; ledger: string; rows: number }>(
              `select (select spent::text from budget_windows where budget_name = 'dollar') as spent,
                 (select coalesce(sum(cost), 0)::text from ledger) as ledger, (select count(*)::int from ledger where outcome = 'success') as rows`,
            );
            result = { admitted, spent: rows[0]!.spent ?? undefined, ledger: rows[0]!.ledger, rows: rows[0]!.rows };
          } finally {
            await client.end();
          }
        });
      } finally {
        await upstream.close();
      }
      return result!;
    }

    it("keeps a budget exact across its workers: no more admitted than it allows, and its counter the ledger's sum", async () => {
      const { admitted, spent, ledger, rows } = await guardedBurst(`budgets:\n  - { name: dollar, scope: global, limit: "0.30" }`);
      // At most $0.30 together. A worker leases a twentieth of the limit at a time ($0.015), so what the two
      // hold unused when the burst ends is less than one more call's worth together, and at least 29 run.
      expect(admitted).toBeLessThanOrEqual(30);
      expect(admitted).toBeGreaterThanOrEqual(29);
      expect(rows).toBe(admitted);
      expect(Number(ledger)).toBe(admitted / 100);
      expect(spent).toBe(ledger);
    }, 120_000);

    it("keeps a rate limit exact across its workers: no more admitted in the minute than it allows", async () => {
      const { admitted, rows } = await guardedBurst(`rateLimits:\n  - { name: per-key, scope: key, requestsPerMinute: 40 }`);
      expect(admitted).toBeLessThanOrEqual(40);
      // Permits a worker leased and did not use stay with it until the minute ends: a few at most.
      expect(admitted).toBeGreaterThanOrEqual(34);
      expect(rows).toBe(admitted);
    }, 120_000);

    it("answers /metrics at once while a replacement worker is still starting", async () => {
      await withTwoWorkers(CONFIG, async ({ gateway }) => {
        const workers = workerPids(gateway);
        expect(workers).toHaveLength(2);
        process.kill(workers[0]!, "SIGKILL");
        await vi.waitFor(() => expect(gateway.logLines().some((l) => l.msg === "gateway worker exited; starting another")).toBe(true), { timeout: 10_000 });

        // Until the replacement listens, every scrape reaches the surviving worker, and the primary must
        // not wait on the one that is starting (it would fail each scrape after 5 s).
        const started = Date.now();
        while (!gateway.logLines().some((l) => l.msg === "request" && l.worker === 3)) {
          const scrapeStarted = Date.now();
          const res = await fetch(`${gateway.url}/metrics`, { headers: { connection: "close" } });
          expect(res.status).toBe(200);
          expect(Date.now() - scrapeStarted).toBeLessThan(2_000);
          if (Date.now() - started > 15_000) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(await gateway.stop("SIGTERM")).toBe(0);
      });
    }, 60_000);
  }
});
