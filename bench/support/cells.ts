import path from "node:path";
import { countersBetween, countersByPid, cpuByPid, growthBetween, machineQuiet, pgliteCpuByPid, postgresPids, peakRssDuring, usageOf } from "./proc.js";
import { interrupted } from "./interrupt.js";
import { runLoad } from "./loadgen.js";
import { ROOT } from "./root.js";
import { firstJsonLine, spawnTs } from "./spawn.js";

/** One thing under load: where to send requests, and which processes pay for them. */
export interface Target {
  name: string;
  /** The full chat-completions URL. */
  url: string;
  headers: Record<string, string>;
  /** The processes whose CPU and memory count as the target's. */
  pids(): Promise<number[]>;
  /**
   * The store's CPU, reported apart: the PostgreSQL server's processes (outside the target's CPU), or
   * the embedded store's threads (a part of it).
   */
  storeCpu?: "postgres" | "pglite";
}

export interface Cell {
  stream: boolean;
  delayMs: number;
  connections: number;
}

export interface CellResult extends Cell {
  target: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  cpuMicrosPerRequest: number;
  /**
   * Page faults of the target's processes per request. On the virtual machines the bench runs on,
   * one costs about 15 µs, so memory touched fresh on every call shows here (docs/performance-findings.md#low-rates-page-faults-and-the-ledgers-fixed-cost).
   */
  faultsPerRequest: number;
  /** The store's CPU per request (see Target.storeCpu): PostgreSQL's own, or that of PGlite's threads inside the target. */
  storeCpuMicrosPerRequest?: number;
  /** Whose the store CPU is: "pglite" when it is a part of `cpuMicrosPerRequest`. */
  storeCpu?: Target["storeCpu"];
  peakRssMb: number;
  errors: number;
  /** Every request written during the cell, warm-up included: the ledger must hold this many rows. */
  sent: number;
  /** Streams only: time to the first body byte, one request at a time. */
  ttfbP50Ms?: number;
  ttfbP99Ms?: number;
}

const SYSTEM = "You are a concise assistant for a travel booking product. Answer in one or two sentences and never invent prices.";

/** What a request asks of the upstream. With `pacedEvents`, a stream that arrives as models send it (see upstreamModel). */
export type LoadShape = Pick<Cell, "stream" | "delayMs"> & { pacedEvents?: number };

/**
 * The upstream model a request names: `delay-<ms>`, whose answer comes after that delay, or
 * `paced-<events>`, a stream of that many content events, each its own network read (bench/upstream.ts).
 */
function upstreamModel(shape: LoadShape): string {
  return shape.pacedEvents === undefined ? `delay-${shape.delayMs}` : `paced-${shape.pacedEvents}`;
}

/** The models a gateway's config needs for this shape beyond its own `delay-0` and `delay-50`. */
export function extraModelsFor(shape: LoadShape): string[] {
  return shape.pacedEvents === undefined ? [] : [upstreamModel(shape)];
}

/** The shape bench:compare and bench:profile are asked for: `--events N` is a paced stream. */
export function shapeFromFlags(flags: { stream?: boolean; delay?: string; events?: string }): LoadShape {
  const pacedEvents = flags.events === undefined ? undefined : Number(flags.events);
  return { stream: flags.stream === true || pacedEvents !== undefined, delayMs: Number(flags.delay ?? 0), pacedEvents };
}

/** A realistic small chat request; the upstream reads what to answer from the model name. */
export function requestBody(shape: LoadShape): string {
  return JSON.stringify({
    model: upstreamModel(shape),
    messages: [
      { role: "system", content: SYSTEM },
      { role: "user", content: "Which airport in Paris is closer to the city centre for a morning arrival?" },
    ],
    max_tokens: 256,
    ...(shape.stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
}

export interface CellPlan {
  /**
   * Load before a target's first cell: this long in the first shape its cells use (JSON calls at 0 ms
   * upstream), then a shorter spell of each other shape (see warmTarget), all at 16 connections. A
   * fresh process compiles its hot code in its first seconds of traffic (PGlite's WebAssembly above
   * all, whose optimizing compile Airlock delays past startup), and the first cell would pay for it alone.
   */
  targetWarmupSeconds: number;
  warmupSeconds: number;
  seconds: number;
  /** Sequential streamed requests for the TTFB probe. */
  ttfbRequests: number;
  /**
   * Wait before each cell until the target is idle and the machine quiet, so that no cell pays for
   * another's tail. The smoke run skips it: it checks that numbers are sane, not that they compare.
   */
  quiesce: boolean;
}

/** The bench's `targetWarmupSeconds` outside smoke mode. */
export const TARGET_WARMUP_SECONDS = 5;

/** Each shape after the first is warmed for this share of `targetWarmupSeconds` (at least 1 s). */
const OTHER_SHAPE_SHARE = 0.4;

/** The shapes of a run's cells, each once: lowest upstream delay first, JSON calls before streams. */
function shapesOf(cells: readonly Cell[]): LoadShape[] {
  const shapes = new Map<string, LoadShape>();
  for (const { stream, delayMs } of cells) shapes.set(`${delayMs}:${stream}`, { stream, delayMs });
  return [...shapes.values()].sort((a, b) => a.delayMs - b.delayMs || Number(a.stream) - Number(b.stream));
}

/**
 * Brings a fresh target's code up to speed before its first cell; answers what it sent, for the ledger
 * check. Every shape the cells use is warmed, not only the first: streams, and calls that wait on their
 * upstream, run code that JSON calls answered at once never run (a stream's relay and writer, an answer
 * that comes after its request waited), and V8 compiles it in its first seconds of use. Without a spell
 * of each shape, the first cells of that shape paid for it, the 50 ms cells most: their one second of
 * warm-up at one connection is about 19 calls.
 */
export async function warmTarget(target: Target, plan: CellPlan, cells: readonly Cell[]): Promise<{ sent: number; errors: number }> {
  if (plan.targetWarmupSeconds <= 0) return { sent: 0, errors: 0 };
  return warmShapes(target, shapesOf(cells), plan.targetWarmupSeconds);
}

/** Load in each shape in turn at 16 connections: the first for `firstSeconds`, each other for a share of it. */
export async function warmShapes(target: Pick<Target, "url" | "headers">, shapes: readonly LoadShape[], firstSeconds: number): Promise<{ sent: number; errors: number }> {
  let sent = 0;
  let errors = 0;
  for (const [i, shape] of shapes.entries()) {
    const seconds = i === 0 ? firstSeconds : Math.max(1, Math.round(firstSeconds * OTHER_SHAPE_SHARE));
    const warm = await runLoad({ url: target.url, headers: target.headers, body: requestBody(shape), connections: 16, seconds });
    sent += warm.sent;
    errors += warm.errors;
  }
  return { sent, errors };
}

export async function measureCell(target: Target, cell: Cell, plan: CellPlan): Promise<CellResult> {
  const load = { url: target.url, headers: target.headers, body: requestBody(cell), connections: cell.connections };
  let sent = 0;
  let warmupErrors = 0;
  if (plan.warmupSeconds > 0) {
    const warm = await runLoad({ ...load, seconds: plan.warmupSeconds });
    sent += warm.sent;
    warmupErrors = warm.errors;
  }
  const pids = await target.pids();
  if (plan.quiesce) {
    await settled(pids);
    await machineQuiet();
  }
  const before = await countersByPid(pids);
  const storeBefore = await storeCpuOf(target);
  const { result, peakRssBytes } = await peakRssDuring(target.pids, runLoad({ ...load, seconds: plan.seconds }));
  const spent = countersBetween(before, await countersByPid(await target.pids()));
  const storeAfter = await storeCpuOf(target);
  sent += result.sent;
  const out: CellResult = {
    target: target.name,
    ...cell,
    requestsPerSecond: result.requestsPerSecond,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    cpuMicrosPerRequest: spent.cpuMicros / Math.max(1, result.requests),
    faultsPerRequest: spent.faults / Math.max(1, result.requests),
    peakRssMb: peakRssBytes / 2 ** 20,
    errors: result.errors + warmupErrors,
    sent,
  };
  if (target.storeCpu) {
    out.storeCpuMicrosPerRequest = growthBetween(storeBefore, storeAfter) / Math.max(1, result.requests);
    out.storeCpu = target.storeCpu;
  }
  if (cell.stream && plan.ttfbRequests > 0) {
    if (plan.quiesce) await settled(pids);
    const probe = await probeTtfb(target, cell, plan.ttfbRequests);
    out.ttfbP50Ms = probe.p50;
    out.ttfbP99Ms = probe.p99;
    out.errors += probe.errors;
    out.sent += probe.count;
  }
  return out;
}

async function storeCpuOf(target: Target): Promise<Map<number, number>> {
  if (target.storeCpu === "postgres") return cpuByPid(await postgresPids());
  if (target.storeCpu === "pglite") return pgliteCpuByPid(await target.pids());
  return new Map();
}

/**
 * Waits until the target has finished what the last load left behind (in-flight calls, ledger
 * batches), so one measurement never pays for another's tail.
 */
async function settled(pids: number[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = (await usageOf(pids)).cpuMicros;
  while (Date.now() < deadline) {
    interrupted.throwIfAborted();
    await new Promise((r) => setTimeout(r, 200));
    const now = (await usageOf(pids)).cpuMicros;
    if (now - last <= 20_000) return; // ≤ 10% of one core over the window
    last = now;
  }
}

async function probeTtfb(target: Target, cell: Cell, count: number): Promise<{ count: number; errors: number; p50: number; p99: number }> {
  const input = { url: target.url, headers: { ...target.headers, "content-type": "application/json" }, body: requestBody(cell), count };
  const child = spawnTs(path.join(ROOT, "bench/ttfb.ts"), [JSON.stringify(input)]);
  return firstJsonLine(child, 120_000);
}
