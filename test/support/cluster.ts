import { writeFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { isolatedEnv, randomAdminKey, spawnGateway, workspace, type GatewayProcess } from "./process.js";
import { createScratchDatabase, dropScratchDatabase } from "./stores.js";

/** Gateway processes sharing one scratch PostgreSQL database, and a client to read its tables. */
export interface Cluster {
  gateways: GatewayProcess[];
  adminKey: string;
  client: pg.Client;
  close(): Promise<void>;
}

/** Starts one `airlock start` process per name, all with `configYaml`, on a fresh scratch database. */
export async function startCluster(configYaml: string, names: string[]): Promise<Cluster> {
  const scratch = await createScratchDatabase();
  const client = new pg.Client({ connectionString: scratch.href });
  await client.connect();
  const { cwd, dataDir } = await workspace();
  await writeFile(path.join(cwd, "airlock.config.yaml"), configYaml);
  const adminKey = randomAdminKey();
  const env = isolatedEnv({ AIRLOCK_ADMIN_KEY: adminKey, DATABASE_URL: scratch.href });
  const gateways: GatewayProcess[] = [];
  for (const name of names) gateways.push(await spawnGateway({ cwd, env: { ...env, AIRLOCK_DATA_DIR: path.join(dataDir, name) }, args: ["--port", "0", "--host", "127.0.0.1"] }));
  return {
    gateways,
    adminKey,
    client,
    close: async () => {
      for (const gateway of gateways) await gateway.stop("SIGKILL", 5_000);
      await client.end();
      await dropScratchDatabase(scratch);
    },
  };
}

/** One chat call asking for at most 100 tokens; its HTTP status. */
export async function chatStatus(url: string, key: string, model = "oai/gpt-4o-mini", headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
    body: JSON.stringify({ model, max_tokens: 100, messages: [{ role: "user", content: "Explain budgets" }] }),
  });
  await res.arrayBuffer();
  return res.status;
}
