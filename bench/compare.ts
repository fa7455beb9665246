import { stat } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { extraModelsFor, requestBody, shapeFromFlags, TARGET_WARMUP_SECONDS } from "./support/cells.js";
import { runBench } from "./support/interrupt.js";
import type { LoadSpec } from "./support/loadgen.js";
import { processTree } from "./support/proc.js";
import { alternateRounds, warmSide, type Side } from "./support/side-by-side.js";
import { freePort } from "./support/spawn.js";
import { median, ratiosOf } from "./support/stats.js";
import { airlockPlace, createUserKey, startAirlock, type AirlockSetup, type AirlockTarget } from "./targets/airlock.js";
import { startProxy } from "./targets/start-proxy.js";
import { startUpstream } from "./targets/start-upstream.js";

/**
 * `npm run bench:compare -- --base <checkout>`: this build against another one (say a git worktree
 * at an earlier commit, built with `npm run build`), in one run. On a two-core machine two runs of
 * the same build differ by up to 15% in CPU per call, which hides most single changes. Here both
 * gateways run at once against one upstream, each with its own store, and take turns under the same
 * load, so that both see the same machine: each round measures one, then the other, alternating which
 * goes first. It reports each one's CPU per call in every round and the median of the per-round ratios,
 * and each one's page faults per call (per second with --idle).
 */

const { values: flags } = parseArgs({
  options: {
    base: { type: "string" },
    store: { type: "string", default: "postgres" },
    stream: { type: "boolean", default: false },
    // Upstream delay in ms: 50 gives the low-rate cells, where an instance's background work shows.
    delay: { type: "string", default: "0" },
    // No load at all: each round measures CPU per second of a gateway left idle after the warm-up.
    idle: { type: "boolean", default: false },
    // Streams as models send them: this many content events, each its own network read (bench/upstream.ts).
    events: { type: "string" },
    connections: { type: "string", default: "16" },
    seconds: { type: "string", default: "2" },
    rounds: { type: "string", default: "10" },
    // Node flags for one side only, say "--single-threaded-gc": with --base set to this checkout, the
    // same build is compared with and without a V8 flag.
    "node-args": { type: "string", default: "" },
    "base-node-args": { type: "string", default: "" },
    // Gateway processes (`airlock start --workers N`) for each side; 0 is one process without a primary.
    workers: { type: "string", default: "0" },
    "base-workers": { type: "string", default: "0" },
  },
});
if (!flags.base) throw new Error("--base <checkout> is required: a directory holding another build (bin/airlock.js and dist/), or `proxy` for the bare proxy");
// `--base proxy`: this build against the floor, the bench's bare pass-through proxy (bench/targets/proxy.ts).
const againstProxy = flags.base === "proxy";
const baseBin = path.resolve(flags.base, "bin/airlock.js");
if (!againstProxy) {
  await stat(path.resolve(flags.base, "dist/bundle/airlock.js")).catch(() => {
    throw new Error(`${flags.base} has no build: run npm ci and npm run build there first`);
  });
}
const store = flags.store === "pglite" ? "pglite" : "postgres";
const seconds = Number(flags.seconds);
const rounds = Number(flags.rounds);
const shape = shapeFromFlags(flags);

await runBench("bench:compare", async () => {
  const upstream = await startUpstream();
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const nodeArgsOf = (text: string | undefined) => (text ?? "").split(/\s+/).filter(Boolean);
    const body = requestBody(shape);
    const floor = async (): Promise<{ target: Pick<AirlockTarget, "pid">; load: Omit<LoadSpec, "seconds"> }> => {
      const proxy = await startProxy(upstream.baseUrl);
      cleanups.unshift(() => proxy.stop());
      return { target: proxy, load: { url: proxy.url, headers: proxy.headers, body, connections: Number(flags.connections) } };
    };
    const start = async (bin: string | undefined, port: number, nodeArgs: string[], workers: number): Promise<{ target: Pick<AirlockTarget, "pid">; load: Omit<LoadSpec, "seconds"> }> => {
      const place = await airlockPlace(store, "airlock-compare-");
      cleanups.push(place.remove);
      const setup: AirlockSetup = { dataDir: place.dataDir, store, databaseUrl: place.databaseUrl, adminKey: "sk-al-admin-compare", upstreamBaseUrl: upstream.baseUrl, bin, nodeArgs, extraModels: extraModelsFor(shape), workers: workers || undefined };
      const target = await startAirlock(setup, port, undefined);
      cleanups.unshift(() => target.stop());
      const apiKey = await createUserKey(target, setup.adminKey);
      const load: Omit<LoadSpec, "seconds"> = {
        url: `${target.baseUrl}/chat/completions`,
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body,
        connections: Number(flags.connections),
      };
      return { target, load };
    };
    const builds = {
      base: againstProxy ? await floor() : await start(baseBin, await freePort(), nodeArgsOf(flags["base-node-args"]), Number(flags["base-workers"])),
      this: await start(undefined, await freePort(), nodeArgsOf(flags["node-args"]), Number(flags.workers)),
    };
    for (const build of Object.values(builds)) await warmSide(build.load, shape, TARGET_WARMUP_SECONDS, 3);
    const sideOf = ({ target, load }: (typeof builds)["base"]): Side => ({ pids: () => processTree(target.pid), load });

    const measured = await alternateRounds([sideOf(builds.base), sideOf(builds.this)], rounds, seconds, flags.idle);
    if (measured.errors[0] + measured.errors[1] > 0) throw new Error(`errors in the rounds: base ${measured.errors[0]}, this ${measured.errors[1]}`);
    const cpu = { base: measured.cpu[0], this: measured.cpu[1] };
    const faults = { base: measured.faults[0], this: measured.faults[1] };
    const ratios = ratiosOf(cpu.this, cpu.base);
    const line = (xs: number[]) => xs.map((x) => x.toFixed(0).padStart(7)).join("");
    const what = flags.idle ? "idle, CPU µs per second" : `${shape.pacedEvents !== undefined ? `paced stream of ${shape.pacedEvents} events` : shape.stream ? "stream" : "json"} · ${shape.delayMs} ms upstream · c${flags.connections} · CPU µs per call`;
    console.log(`${what} · ${store} · ${rounds} rounds of ${seconds} s`);
    console.log(`base  ${line(cpu.base)}   median ${median(cpu.base).toFixed(1)}`);
    console.log(`this  ${line(cpu.this)}   median ${median(cpu.this).toFixed(1)}`);
    console.log(`page faults ${flags.idle ? "per second" : "per call"}, median: base ${median(faults.base).toFixed(2)}, this ${median(faults.this).toFixed(2)}`);
    console.log(`this / base per round: ${ratios.map((r) => r.toFixed(3)).join(" ")}; median ${median(ratios).toFixed(3)}, lower in ${ratios.filter((r) => r < 1).length} of ${rounds}`);
  } finally {
    // Each clean-up whatever became of the one before: a scratch database left behind outlives the run.
    for (const cleanup of cleanups) await cleanup().catch((err: Error) => console.error(`cleaning up failed: ${err.message}`));
    await upstream.stop();
  }
});
