import path from "node:path";
import { ROOT } from "../support/root.js";
import { asService, firstJsonLine, spawnTs, type Service } from "../support/spawn.js";

/** The bench's fake upstream (bench/upstream.ts) in a process of its own, once it listens. */
export interface UpstreamProcess extends Service {
  /** The OpenAI-compatible base URL: `http://127.0.0.1:<port>/v1`. */
  baseUrl: string;
}

export async function startUpstream(): Promise<UpstreamProcess> {
  const child = spawnTs(path.join(ROOT, "bench/upstream.ts"), []);
  const service = asService(child);
  try {
    const { port } = await firstJsonLine<{ port: number }>(child);
    return { ...service, baseUrl: `http://127.0.0.1:${port}/v1` };
  } catch (err) {
    await service.stop();
    throw err;
  }
}
