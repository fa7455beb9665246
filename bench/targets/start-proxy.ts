import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { plainNode } from "../support/plain-node.js";
import { asService, firstJsonLine, type Service } from "../support/spawn.js";

/** The bare proxy as the bench's tools start it: where to send chat calls, and the process to measure and stop. */
export interface ProxyProcess extends Service {
  /** The full chat-completions URL. */
  url: string;
  headers: Record<string, string>;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));

/**
 * Starts the bare proxy (proxy.ts) in front of the upstream: one process, or `workers` workers under
 * node:cluster (proxy-cluster.ts), as `airlock start --workers` runs Airlock's. Port 0 takes any free
 * port. Both run as plain JavaScript under `node`, as Airlock runs from its build (plain-node.ts).
 */
export async function startProxy(upstreamBaseUrl: string, options: { workers?: number; port?: number } = {}): Promise<ProxyProcess> {
  const workers = options.workers ?? 1;
  const port = String(options.port ?? 0);
  const proxy = await plainNode(path.join(HERE, "proxy.ts"));
  const entry = workers > 1 ? await plainNode(path.join(HERE, "proxy-cluster.ts")) : proxy;
  const args = workers > 1 ? [upstreamBaseUrl, port, String(workers), proxy] : [upstreamBaseUrl, port];
  const child = spawn(process.execPath, [entry, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const service = asService(child);
  try {
    const listening = await firstJsonLine<{ port: number }>(child);
    const headers = { authorization: "Bearer sk-bench-upstream", "content-type": "application/json" };
    return { ...service, url: `http://127.0.0.1:${listening.port}/v1/chat/completions`, headers };
  } catch (err) {
    await service.stop();
    throw err;
  }
}
