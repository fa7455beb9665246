import { mkdir, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { extraModelsFor, requestBody, shapeFromFlags } from "./support/cells.js";
import { runBench } from "./support/interrupt.js";
import { runLoad } from "./support/loadgen.js";
import { ROOT } from "./support/root.js";
import { freePort } from "./support/spawn.js";
import { airlockPlace, createUserKey, startAirlock, type AirlockPlace, type AirlockSetup, type AirlockTarget } from "./targets/airlock.js";
import { startUpstream } from "./targets/start-upstream.js";

/**
 * `npm run bench:profile`: one Airlock gateway under load with `--cpu-prof`, then the functions and
 * files that took the most CPU. The `.cpuprofile` opens as a flame graph in Chrome DevTools or
 * speedscope.app.
 */

const { values: flags } = parseArgs({
  options: {
    store: { type: "string", default: "pglite" },
    stream: { type: "boolean", default: false },
    // Upstream delay in ms: 50 gives the low-rate cells, where waking up and the background work show.
    delay: { type: "string", default: "0" },
    // Streams as models send them: this many content events, each its own network read (bench/upstream.ts).
    events: { type: "string" },
    connections: { type: "string", default: "16" },
    seconds: { type: "string", default: "5" },
    top: { type: "string", default: "30" },
    // Sampling interval in µs (Node's default is 1000): 50 resolves a single call's path at low rates.
    interval: { type: "string", default: "1000" },
  },
});
const outDir = path.join(ROOT, "bench/results/profiles");
await mkdir(outDir, { recursive: true });
const before = new Set(await readdir(outDir));
const shape = shapeFromFlags(flags);

await runBench("bench:profile", async () => {
  const upstream = await startUpstream();
  const store = flags.store === "postgres" ? "postgres" : "pglite";
  let place: AirlockPlace | undefined;
  let airlock: AirlockTarget | undefined;
  try {
    place = await airlockPlace(store, "airlock-profile-");
    const setup: AirlockSetup = {
      dataDir: place.dataDir,
      store,
      databaseUrl: place.databaseUrl,
      adminKey: "sk-al-admin-profile",
      upstreamBaseUrl: upstream.baseUrl,
      nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${outDir}`, `--cpu-prof-interval=${Number(flags.interval)}`],
      unbundled: true,
      extraModels: extraModelsFor(shape),
    };
    airlock = await startAirlock(setup, await freePort(), undefined);
    const apiKey = await createUserKey(airlock, setup.adminKey);
    const load = { url: `${airlock.baseUrl}/chat/completions`, headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" }, body: requestBody(shape), connections: Number(flags.connections) };
    await runLoad({ ...load, seconds: 1 });
    const result = await runLoad({ ...load, seconds: Number(flags.seconds) });
    console.log(`${result.requestsPerSecond.toFixed(0)} req/s, p50 ${result.p50Ms} ms, errors ${result.errors}`);
    // Stopped here so that it writes its profiles, which are read below.
    await airlock.stop();
    airlock = undefined;
  } finally {
    await airlock?.stop().catch(() => undefined);
    await upstream.stop();
    await place?.remove();
  }
  await summarize();
});

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
/** The main thread's profile: the functions and files that took the most of its time. */
async function summarize(): Promise<void> {
  const written = (await readdir(outDir)).filter((f) => f.endsWith(".cpuprofile") && !before.has(f));
  // Node names each thread's profile CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: the main thread is
  // thread 0, and with PGlite the store's thread writes a second one, often listed first.
  const file = written.find((f) => f.split(".")[4] === "0");
  if (!file) throw new Error("no profile of the gateway's main thread was written");
  const profile = JSON.parse(await readFile(path.join(outDir, file), "utf8")) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const whereOf = (node: ProfileNode) => node.callFrame.url.replace(/^file:\/\//, "").replace(ROOT + "/", "") || "(native)";
  const nameOf = (node: ProfileNode) => `${node.callFrame.functionName || "(anonymous)"}  ${whereOf(node)}:${node.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const byFile = new Map<string, number>();
  /** Airlock's own functions (dist/) by the time spent in them and in what they called, out of the busy time. */
  const inclusive = new Map<string, number>();
  let total = 0;
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)!;
    const micros = profile.timeDeltas[i] ?? 0;
    total += micros;
    const where = whereOf(node);
    const fn = nameOf(node);
    self.set(fn, (self.get(fn) ?? 0) + micros);
    const group = where.includes("node_modules/") ? where.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/, "$1") : where;
    byFile.set(group, (byFile.get(group) ?? 0) + micros);
    if (node.callFrame.functionName === "(idle)" || node.callFrame.functionName === "(program)") return;
    busy += micros;
    // Each function once per sample, however deep it recurses.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const frame = byId.get(at)!;
      if (!whereOf(frame).startsWith("dist/")) continue;
      const name = nameOf(frame);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + micros);
    }
  });
  const show = (m: Map<string, number>, n: number, of = total) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `${((100 * v) / of).toFixed(1).padStart(5)}%  ${k}`)
      .join("\n");
  const others = written.filter((f) => f !== file).map((f) => path.join(outDir, f));
  console.log(`\nprofile: ${path.join(outDir, file)}${others.length ? ` (the main thread; other threads: ${others.join(", ")})` : ""}\n\nby function (self time):\n${show(self, Number(flags.top))}\n\nby file or package:\n${show(byFile, 25)}`);
  console.log(`\nAirlock's functions with what they call (share of the busy time, idle left out):\n${show(inclusive, Number(flags.top), busy)}`);
}
