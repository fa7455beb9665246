import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../src/store/database.js";
import { countLedgerRows, normalizeDecimal, recentLedgerRows } from "../src/store/queries/ledger.js";
import { isolatedEnv, killAll, randomAdminKey, removeTempDirs, seedDataDir, spawnGateway, workspace, type GatewayProcess } from "./support/process.js";
import { createScratchDatabase, dropScratchDatabase, STORE_KINDS, type StoreKind } from "./support/stores.js";

/**
 * The ledger batches rows in memory. With a flush interval and batch size no test will reach, every row
 * is still in memory when SIGTERM arrives: the graceful shutdown alone must put all of them in the store.
 */
const CONFIG = `
providers:
  m: { type: mock }
models:
  - { id: "m/fast", price: { input: "1.25", output: "10", per: "1M" } }
ledger:
  flushIntervalMs: 600000
  batchSize: 100000
`;

const N = 300;
const CONCURRENCY = 16;

interface Started {
  gateway: GatewayProcess;
  adminKey: string;
  dataDir: string;
  /** The gateway's store, opened by the test once the gateway has stopped. */
  openStore(): Promise<Database>;
}

/** A gateway on CONFIG over a fresh store of `kind`, in a workspace of its own; killed and its store dropped after `test`. */
async function withGateway(kind: StoreKind, test: (started: Started) => Promise<void>): Promise<void> {
  const { cwd, dataDir } = await workspace();
  await writeFile(path.join(cwd, "airlock.config.yaml"), CONFIG);
  const adminKey = randomAdminKey();
  const scratch = kind === "postgres" ? await createScratchDatabase() : undefined;
  try {
    if (!scratch) await seedDataDir(dataDir);
    const gateway = await spawnGateway({
      cwd,
      env: isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: adminKey, DATABASE_URL: scratch?.href }),
      args: ["--port", "0", "--host", "127.0.0.1"],
    });
    const openStore = () => openDatabase(scratch ? { url: scratch.href, maxConnections: 2 } : { dataDir: path.join(dataDir, "pgdata") });
    await test({ gateway, adminKey, dataDir, openStore });
  } finally {
    await killAll();
    if (scratch) await dropScratchDatabase(scratch);
  }
}

afterEach(killAll);
afterAll(removeTempDirs);

describe.each(STORE_KINDS)("graceful shutdown (%s store)", (kind) => {
  it(
    `after ${N} requests and a SIGTERM there are exactly ${N} ledger rows`,
    async () => {
      await withGateway(kind, async ({ gateway, adminKey, dataDir, openStore }) => {
        expect(gateway.logLines().find((l) => String(l.msg).startsWith("Airlock gateway listening"))).toMatchObject({ store: kind, demo: false });

        const client = new OpenAI({ apiKey: adminKey, baseURL: `${gateway.url}/v1`, maxRetries: 0, timeout: 20_000 });
        const served = new Map<string, string>(); // request id → x-airlock-cost
        let next = 0;
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            while (next < N) {
              const i = next++;
              const { data, response } = await client.chat.completions
                .create({ model: "m/fast", messages: [{ role: "user", content: `request ${i}: say something` }] })
                .withResponse();
              expect(data.model).toBe("m/fast");
              expect(data.usage?.total_tokens).toBeGreaterThan(0);
              served.set(response.headers.get("x-request-id")!, response.headers.get("x-airlock-cost")!);
            }
          }),
        );
        expect(served.size).toBe(N);

        // Nothing has reached the store yet: every row is waiting in the writer's memory.
        const status = await fetch(`${gateway.url}/admin/status`, { headers: { authorization: `Bearer ${adminKey}` } });
        expect(await status.json()).toMatchObject({ store: kind, ledger: { recorded: N, written: 0, pending: N } });

        expect(await gateway.stop("SIGTERM")).toBe(0);
        expect(existsSync(path.join(dataDir, "ledger-spool.jsonl")), "no row may be left in the spool file").toBe(false);

        const database = await openStore();
        try {
          expect(await countLedgerRows(database.db)).toBe(N);
          const rows = await recentLedgerRows(database.db, N + 1);
          expect(rows).toHaveLength(N);
          for (const row of rows) {
            expect(row.outcome).toBe("success");
            expect(row.model).toBe("m/fast");
            expect(row.cost).toMatch(/^\d+(\.\d+)?$/);
            expect(Number(row.cost)).toBeGreaterThan(0);
            // The row is the very call the client saw, at the very cost the gateway reported.
            expect(served.has(row.requestId)).toBe(true);
            expect(normalizeDecimal(row.cost)).toBe(served.get(row.requestId));
          }
          expect(new Set(rows.map((r) => r.requestId)).size).toBe(N);
        } finally {
          await database.close();
        }
      });
    },
    60_000,
  );

  it(
    "a hang-up (SIGHUP: a closed terminal) stops as cleanly as SIGTERM: every buffered row is written",
    async () => {
      await withGateway(kind, async ({ gateway, adminKey, openStore }) => {
        const client = new OpenAI({ apiKey: adminKey, baseURL: `${gateway.url}/v1`, maxRetries: 0, timeout: 20_000 });
        for (let i = 0; i < 5; i++) await client.chat.completions.create({ model: "m/fast", messages: [{ role: "user", content: "hello" }] });

        // Node's default for SIGHUP is to die on the spot, with the rows still in the writer's memory.
        gateway.proc.kill("SIGHUP");
        expect(await gateway.exited).toEqual({ code: 0, signal: null });
        expect(gateway.logLines().find((l) => l.msg === "Airlock gateway stopped")).toMatchObject({ ledger: { recorded: 5, written: 5, pending: 0 } });
        const database = await openStore();
        try {
          expect(await countLedgerRows(database.db)).toBe(5);
        } finally {
          await database.close();
        }
      });
    },
    60_000,
  );
});
