import type { CellResult } from "./cells.js";
import { median, ratiosOf } from "./stats.js";

/** The bench's output: a markdown table, an SVG chart, and the verdicts on the issue's targets. */

export interface Verdict {
  name: string;
  value: string;
  limit: string;
  pass: boolean;
  /** Shown beside the checks to explain one, and judged by none: `pass` is always true. */
  note?: boolean;
  /** A check that the results are correct (errors, the ledger), whose miss is Airlock's fault and fails the run; the others are read, not enforced. */
  failsRun?: boolean;
}

/** A check as the benches print it when they end. */
export function verdictLine(v: Verdict): string {
  return `${v.note ? "note" : v.pass ? "pass" : "MISS"}  ${v.name}: ${v.value} (target ${v.limit})`;
}

export interface RunInfo {
  date: string;
  machine: string;
  command: string;
  startupMs?: number[];
  /** Spawn to the first 200 on a new PGlite data directory, which the start makes (no target; see docs/performance-findings.md#a-new-store). */
  firstStartMs?: number;
  /** The library benchmark's overhead per call, one value per run (µs). */
  libraryMicros?: number[];
  /** The same runs' CPU per call on every thread, the store's ledger writes included, less the provider's (µs; runs since 2026-12-07). */
  libraryCpuMicros?: number[];
  /** Each Airlock target's ledger after its run: `failed` and `unpriced` as ledgerTally counts them (absent in runs before 2026-12-07). */
  ledger: Array<{ target: string; rows: number; sent: number; failed?: number; unpriced?: number }>;
  /** Each Airlock target's worst cell against the proxy, measured again with the two side by side (see HeldCell). */
  held?: HeldCell[];
}

/** The proxy run as workers under node:cluster (bench/targets/proxy-cluster.ts), the floor a gateway of as many workers is also held against. */
export function proxyOfWorkers(workers: number): string {
  return `proxy (${workers} workers)`;
}

/**
 * A target's worst cell against the proxy, measured again after its cells with the two taking turns
 * under the same load (bench/support/side-by-side.ts): the cells of one run are minutes apart, and on
 * these machines a cell moves by up to 40% with the moment, which the same cell held side by side does not.
 * A gateway of workers is held against a proxy of as many workers too, the floor run the way it runs:
 * a second process can cost more per call for the proxy as well, by 1.10–1.21× held to a share of a
 * core (docs/performance.md#throughput-with-a-share-of-a-core-per-worker), and this note says how much
 * of the gateway's ratio that is.
 */
export interface HeldCell {
  target: string;
  cell: string;
  /** What the cell was held against: "proxy" when absent (runs before 2026-12-07 held only that), or proxyOfWorkers(N). */
  floor?: string;
  /** CPU µs per call in each round: the floor's (named for the proxy, the only floor of the first runs' JSON), then the target's. */
  proxyMicros: number[];
  targetMicros: number[];
  errors: number;
}

/** What a bench run leaves in `bench/results/latest.json`, which bench:publish reads back. */
export interface BenchRun {
  info: RunInfo;
  checks: Verdict[];
  results: CellResult[];
}

const fmt = (n: number | undefined, digits = 1) => (n === undefined || !Number.isFinite(n) ? "–" : n.toFixed(digits));

export function cellName(r: Pick<CellResult, "stream" | "delayMs" | "connections">): string {
  return `${r.stream ? "stream" : "json"} · ${r.delayMs} ms · c${r.connections}`;
}

type Shape = Pick<CellResult, "stream" | "delayMs" | "connections">;

/** The target's cell of that shape, if the run had it. */
function cellOf(results: CellResult[], target: string, shape: Shape): CellResult | undefined {
  return results.find((r) => r.target === target && r.stream === shape.stream && r.delayMs === shape.delayMs && r.connections === shape.connections);
}

/** What the target adds to the first streamed byte over direct, one stream at a time, at that upstream delay. */
export function ttfbAddedMs(results: CellResult[], target: string, delayMs: number): number | undefined {
  const shape = { stream: true, delayMs, connections: 1 };
  const mine = cellOf(results, target, shape)?.ttfbP50Ms;
  const direct = cellOf(results, "direct", shape)?.ttfbP50Ms;
  return mine === undefined || direct === undefined ? undefined : mine - direct;
}

/** The target's highest peak RSS in its cells at 64 connections; 0 without such a cell. */
function peakRssAt64(results: CellResult[], target: string): number {
  return Math.max(0, ...results.filter((r) => r.target === target && r.connections === 64).map((r) => r.peakRssMb));
}

/** An Airlock target's name in every report: "airlock (PGlite)", "airlock (PostgreSQL, 2 workers)". */
export function airlockTargetName(store: "pglite" | "postgres", workers?: number): string {
  return store === "pglite" ? "airlock (PGlite)" : workers ? `airlock (PostgreSQL, ${workers} workers)` : "airlock (PostgreSQL)";
}

/**
 * What airlockTargetName wrote, read back from the name: a run's saved results (JSON, which
 * `bench:publish` checks again) know their targets by name alone. Undefined for any other target.
 */
export function airlockTargetOf(name: string): { store: "pglite" | "postgres"; workers: number } | undefined {
  if (name === airlockTargetName("pglite")) return { store: "pglite", workers: 1 };
  if (name === airlockTargetName("postgres")) return { store: "postgres", workers: 1 };
  const workers = Number(/^airlock \(PostgreSQL, (\d+) workers\)$/.exec(name)?.[1]);
  return workers > 0 && name === airlockTargetName("postgres", workers) ? { store: "postgres", workers } : undefined;
}

/** Peak RSS at 64 connections, per process: PGlite alone takes about 250 MB in the gateway's process. */
export const RSS_LIMITS_MB = { pglite: 400, postgres: 150 } as const;

/** The CPU targets: at most this many times the peer's CPU per request, in every cell. */
export const CPU_LIMITS = { proxy: 2, portkey: 0.25 } as const;
export type CpuPeer = keyof typeof CPU_LIMITS;

/** A target's CPU per request against a peer's, over every cell both ran: the worst cell and how many were within the limit. */
export interface CpuComparison {
  /** The worst cell's shape (its name is cellName's), to measure it again. */
  worstShape: Shape;
  worstRatio: number;
  within: number;
  cells: number;
}

export function cpuAgainst(results: CellResult[], target: string, peer: CpuPeer): CpuComparison | undefined {
  const mine = results.filter((r) => r.target === target);
  const worst = worstRatio(mine, (r) => cellOf(results, peer, r), (r) => r.cpuMicrosPerRequest);
  if (!worst) return undefined;
  // The worst cell alone hides whether one cell missed or most did.
  const within = worst.ratios.filter((ratio) => ratio <= CPU_LIMITS[peer]).length;
  return { worstShape: worst.shape, worstRatio: worst.ratio, within, cells: worst.ratios.length };
}

/** A ratio as every table of the bench writes it: "2.45×". */
export const ratioText = (ratio: number) => `${ratio.toFixed(2)}×`;
/** Milliseconds as the TTFB checks and tables write them: "0.89 ms". */
export const msText = (ms: number) => `${ms.toFixed(2)} ms`;

export function verdicts(results: CellResult[], info: RunInfo): Verdict[] {
  const out: Verdict[] = [];
  const airlockTargets = [...new Set(results.map((r) => r.target).filter((t) => t.startsWith("airlock")))];
  for (const target of airlockTargets) {
    const mine = results.filter((r) => r.target === target);
    for (const peer of ["proxy", "portkey"] as const) {
      const cpu = cpuAgainst(results, target, peer);
      if (!cpu) continue;
      const limit = CPU_LIMITS[peer];
      out.push({ name: `${target}: CPU per request vs ${peer}, worst cell (${cellName(cpu.worstShape)}; ${cpu.within} of ${cpu.cells} cells within)`, value: ratioText(cpu.worstRatio), limit: `≤ ${limit}×`, pass: cpu.worstRatio <= limit });
    }
    // The PGlite target measured as the PostgreSQL targets are, whose CPU leaves their server out. A
    // note beside the check, which still counts the embedded store's thread.
    const withoutStore = worstRatio(mine, (r) => cellOf(results, "proxy", r), (r) => (r.storeCpu === "pglite" && r.storeCpuMicrosPerRequest !== undefined ? r.cpuMicrosPerRequest - r.storeCpuMicrosPerRequest : undefined));
    if (withoutStore) out.push({ name: `${target}: the same without the embedded store's thread, worst cell (${cellName(withoutStore.shape)})`, value: ratioText(withoutStore.ratio), limit: "≤ 2×", pass: true, note: true });
    // The worst cell again, the target and the proxy taking turns: how much of its ratio was the moment of its cell.
    for (const held of heldCellsOf(info, target)) {
      out.push({ name: `${target}: its worst cell against the ${floorOf(held)}, held side by side (${held.cell}; median of ${held.targetMicros.length} rounds)`, value: ratioText(heldRatio(held)), limit: "≤ 2×", pass: true, note: true });
    }
    for (const r of mine.filter((x) => x.stream && x.connections === 1)) {
      const added = ttfbAddedMs(results, target, r.delayMs);
      if (added === undefined) continue;
      out.push({ name: `${target}: stream TTFB p50 added over direct (${r.delayMs} ms upstream)`, value: msText(added), limit: "≤ 1 ms", pass: added <= 1 });
    }
    const airlock = airlockTargetOf(target);
    const peak = peakRssAt64(results, target);
    if (airlock && peak > 0) {
      const limitMb = RSS_LIMITS_MB[airlock.store] * airlock.workers;
      out.push({ name: `${target}: peak RSS at 64 connections`, value: `${peak.toFixed(0)} MB`, limit: `≤ ${limitMb} MB`, pass: peak <= limitMb });
    }
  }
  const errors = results.reduce((n, r) => n + r.errors, 0) + (info.held ?? []).reduce((n, held) => n + held.errors, 0);
  out.push({ name: "errors, all targets", value: String(errors), limit: "0", pass: errors === 0, failsRun: true });
  for (const l of info.ledger) {
    out.push({ name: `${l.target}: ledger rows = requests sent`, value: `${l.rows} / ${l.sent}`, limit: "equal", pass: l.rows === l.sent, failsRun: true });
    // A 200 is not a success: a stream can end in an error event, and a call can be served but not priced.
    if (l.failed !== undefined && l.unpriced !== undefined) out.push({ name: `${l.target}: ledger rows that failed, or were not priced from the provider's usage`, value: `${l.failed} failed, ${l.unpriced} not priced`, limit: "0", pass: l.failed === 0 && l.unpriced === 0, failsRun: true });
  }
  if (info.startupMs?.length) {
    const startup = median(info.startupMs);
    out.push({ name: "startup, spawn to first 200 with an existing PGlite data directory (median)", value: `${startup.toFixed(0)} ms`, limit: "≤ 1500 ms", pass: startup <= 1500 });
  }
  return out;
}

/**
 * What in a run's numbers cannot be a measurement, one line each: a cell that served nothing or cost
 * nothing, a latency or memory reading that is missing or out of order, a stream without its first
 * byte timed, a start or a library run that was not timed. The smoke run fails on any, since it checks
 * that the numbers are sane, not that they are fast.
 */
export function sanityProblems(results: CellResult[], info: RunInfo): string[] {
  const problems: string[] = [];
  const positive = (value: number | undefined) => value !== undefined && Number.isFinite(value) && value > 0;
  for (const r of results) {
    const bad = [
      !positive(r.requestsPerSecond) && "no requests a second",
      !positive(r.cpuMicrosPerRequest) && "no CPU per request",
      !(r.faultsPerRequest >= 0) && "no page-fault count",
      !(r.p50Ms >= 0 && r.p99Ms >= r.p50Ms) && `p50 ${r.p50Ms} ms and p99 ${r.p99Ms} ms`,
      !positive(r.peakRssMb) && "no peak RSS",
      r.stream && !(positive(r.ttfbP50Ms) && r.ttfbP99Ms! >= r.ttfbP50Ms!) && `TTFB p50 ${r.ttfbP50Ms} ms and p99 ${r.ttfbP99Ms} ms`,
      r.storeCpuMicrosPerRequest !== undefined && !(r.storeCpuMicrosPerRequest >= 0) && "no store CPU",
    ].filter((problem): problem is string => typeof problem === "string");
    if (bad.length > 0) problems.push(`${r.target}, ${cellName(r)}: ${bad.join(", ")}`);
  }
  const untimed = (name: string, values: number[] | undefined) => {
    if (values?.some((value) => !positive(value))) problems.push(`${name}: ${values.join(", ")}`);
  };
  untimed("startup (ms)", info.startupMs);
  untimed("first start (ms)", info.firstStartMs === undefined ? undefined : [info.firstStartMs]);
  // The library's overhead is a difference of two means, which may be below zero on a noisy host; only a value that is no number is insane.
  if (info.libraryMicros?.some((value) => !Number.isFinite(value))) problems.push(`library overhead (µs): ${info.libraryMicros.join(", ")}`);
  untimed("library CPU per call (µs)", info.libraryCpuMicros);
  return problems;
}

/** The median of a held cell's per-round ratios, the target's CPU per call over the proxy's. */
export function heldRatio(held: HeldCell): number {
  return median(ratiosOf(held.targetMicros, held.proxyMicros));
}

/** What a held cell was held against. */
export function floorOf(held: HeldCell): string {
  return held.floor ?? "proxy";
}

/** The target's cell held against `floor`, if the run held one. */
export function heldCellOf(info: RunInfo, target: string, floor = "proxy"): HeldCell | undefined {
  return info.held?.find((held) => held.target === target && floorOf(held) === floor);
}

/** Every cell the run held for the target, in the order it held them. */
export function heldCellsOf(info: RunInfo, target: string): HeldCell[] {
  return (info.held ?? []).filter((held) => held.target === target);
}

/** The cell where `cost` (left out where undefined) is highest against the peer's CPU per request, and every cell's ratio. */
function worstRatio(mine: CellResult[], peerOf: (r: CellResult) => CellResult | undefined, cost: (r: CellResult) => number | undefined): { shape: Shape; ratio: number; ratios: number[] } | undefined {
  const ratios = mine.flatMap((r) => {
    const peer = peerOf(r);
    const micros = cost(r);
    return peer && micros !== undefined ? [{ shape: { stream: r.stream, delayMs: r.delayMs, connections: r.connections }, ratio: micros / peer.cpuMicrosPerRequest }] : [];
  });
  if (ratios.length === 0) return undefined;
  const worst = ratios.reduce((a, b) => (b.ratio > a.ratio ? b : a));
  return { ...worst, ratios: ratios.map((r) => r.ratio) };
}

/** How the summary's table begins: bench:publish finds it in latest.md by this (publish.ts). */
export const GLANCE_TABLE_START = "| target | JSON call: CPU µs |";

const thousands = (n: number) => Math.round(n).toLocaleString("en-US");

/**
 * The run in a few numbers, for docs/performance.md's "At a glance": each target's CPU per call (with
 * its ratio to the proxy's) and throughput for JSON calls and streams at 16 connections, the first
 * streamed byte it adds over direct, and its peak RSS. Empty for a run narrowed past those cells.
 */
export function glance(results: CellResult[]): string[] {
  const JSON_CALLS = { stream: false, delayMs: 0, connections: 16 };
  const STREAMS = { stream: true, delayMs: 0, connections: 16 };
  const floorJson = cellOf(results, "proxy", JSON_CALLS);
  const floorStream = cellOf(results, "proxy", STREAMS);
  if (!floorJson || !floorStream) return [];
  const cpu = (r: CellResult | undefined, floor: CellResult) => (r ? `${thousands(r.cpuMicrosPerRequest)}${r === floor ? "" : ` (${ratioText(r.cpuMicrosPerRequest / floor.cpuMicrosPerRequest)})`}` : "–");
  const ttfbAdded = (target: string, delayMs: number) => ttfbAddedMs(results, target, delayMs)?.toFixed(2) ?? "–";
  const targets = [...new Set(results.map((r) => r.target))].filter((t) => t !== "direct");
  return [
    "## At a glance",
    "",
    "At 16 connections with the upstream answering at once: CPU µs per call (its ratio to the proxy's) and requests per second, which are what the machine gives while it also runs the upstream and the load generator. The first streamed byte is what a target adds over calling the upstream directly (one stream at a time), with the upstream answering at once and after 50 ms.",
    "",
    `${GLANCE_TABLE_START} JSON calls/s | stream: CPU µs | streams/s | first streamed byte added, 0 / 50 ms upstream | peak RSS at 64 connections |`,
    "|---|---:|---:|---:|---:|---:|---:|",
    ...targets.map((target) => {
      const json = cellOf(results, target, JSON_CALLS);
      const stream = cellOf(results, target, STREAMS);
      const peak = peakRssAt64(results, target);
      return `| ${target} | ${cpu(json, floorJson)} | ${json ? thousands(json.requestsPerSecond) : "–"} | ${cpu(stream, floorStream)} | ${stream ? thousands(stream.requestsPerSecond) : "–"} | ${ttfbAdded(target, 0)} / ${ttfbAdded(target, 50)} ms | ${peak > 0 ? `${peak.toFixed(0)} MB` : "–"} |`;
    }),
    "",
  ];
}

export function markdown(results: CellResult[], checks: Verdict[], info: RunInfo): string {
  const lines = [
    `# Airlock bench, ${info.date}`,
    "",
    `Machine: ${info.machine}`,
    `Command: \`${info.command}\``,
    "",
    ...glance(results),
    "## Checks",
    "",
    "| check | measured | target | |",
    "|---|---|---|---|",
    ...checks.map((v) => `| ${v.name} | ${v.value} | ${v.note ? `(${v.limit})` : v.limit} | ${v.note ? "note" : v.pass ? "pass" : "**miss**"} |`),
    "",
    "## Every cell",
    "",
    "CPU is the on-CPU time of every thread in the target's process tree (the scheduler's clock) over the measured window, divided by the requests it answered; faults are its page faults per request, counted the same way. `direct` is the fake upstream itself. Store CPU is, for the PostgreSQL store, the database server's CPU, which is not in the target's; for PGlite, that of the embedded store's threads, which is a part of the target's. TTFB is measured one request at a time (time to the first body byte of a stream).",
    "",
    "| cell | target | req/s | p50 ms | p99 ms | CPU µs/req | faults/req | store CPU µs/req | peak RSS MB | TTFB p50 ms | TTFB p99 ms | errors |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...results.map(
      (r) =>
        `| ${cellName(r)} | ${r.target} | ${fmt(r.requestsPerSecond, 0)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${fmt(r.cpuMicrosPerRequest, 0)} | ${fmt(r.faultsPerRequest, 2)} | ${fmt(r.storeCpuMicrosPerRequest, 0)} | ${fmt(r.peakRssMb, 0)} | ${fmt(r.ttfbP50Ms, 2)} | ${fmt(r.ttfbP99Ms, 2)} | ${r.errors} |`,
    ),
    "",
  ];
  for (const held of info.held ?? []) {
    const rounds = (xs: number[]) => xs.map((m) => m.toFixed(0)).join(", ");
    lines.push(`${held.target}, ${held.cell}, held side by side with the ${floorOf(held)} (CPU µs per call, round by round): ${floorOf(held)} ${rounds(held.proxyMicros)}; ${held.target} ${rounds(held.targetMicros)}`, "");
  }
  if (info.startupMs?.length) lines.push(`Startup runs (ms): ${info.startupMs.map((m) => m.toFixed(0)).join(", ")}`, "");
  if (info.firstStartMs !== undefined) lines.push(`First start, on a new PGlite data directory (ms): ${info.firstStartMs.toFixed(0)}`, "");
  if (info.libraryMicros?.length) lines.push(`Library overhead runs (µs): ${info.libraryMicros.map((m) => m.toFixed(1)).join(", ")}`, "");
  if (info.libraryCpuMicros?.length) lines.push(`Library CPU per call on all threads, the store's ledger writes included, less the provider's (µs): ${info.libraryCpuMicros.map((m) => m.toFixed(1)).join(", ")}`, "");
  return lines.join("\n");
}

const COLORS = ["#8c8c8c", "#4c78a8", "#f58518", "#54a24b", "#e45756", "#b279a2"];

/** Two panels (JSON and streamed calls) of CPU µs per request, one bar per target in each cell. */
export function svgChart(results: CellResult[]): string {
  const targets = [...new Set(results.map((r) => r.target))];
  const width = 960;
  const panelHeight = 260;
  const left = 60;
  const parts: string[] = [];
  const max = Math.max(1, ...results.map((r) => r.cpuMicrosPerRequest));
  const panels = [false, true].filter((stream) => results.some((r) => r.stream === stream));
  panels.forEach((stream, p) => {
    const top = 40 + p * (panelHeight + 60);
    const cells = [...new Map(results.filter((r) => r.stream === stream).map((r) => [cellName(r), r])).values()];
    const groupWidth = (width - left - 20) / Math.max(1, cells.length);
    const barWidth = (groupWidth - 12) / targets.length;
    parts.push(`<text x="${left}" y="${top - 12}" font-size="14" font-weight="bold">${stream ? "Streamed" : "JSON"} chat completions: CPU µs per request (lower is better)</text>`);
    parts.push(`<line x1="${left}" y1="${top + panelHeight}" x2="${width - 20}" y2="${top + panelHeight}" stroke="#333"/>`);
    for (let tick = 0; tick <= 4; tick++) {
      const y = top + panelHeight - (tick / 4) * panelHeight;
      parts.push(`<line x1="${left}" y1="${y}" x2="${width - 20}" y2="${y}" stroke="#eee"/><text x="${left - 6}" y="${y + 4}" font-size="10" text-anchor="end">${((max * tick) / 4).toFixed(0)}</text>`);
    }
    cells.forEach((cell, g) => {
      const x0 = left + g * groupWidth + 6;
      targets.forEach((target, t) => {
        const r = results.find((x) => x.target === target && cellName(x) === cellName(cell));
        if (!r) return;
        const h = (r.cpuMicrosPerRequest / max) * panelHeight;
        parts.push(`<rect x="${(x0 + t * barWidth).toFixed(1)}" y="${(top + panelHeight - h).toFixed(1)}" width="${(barWidth - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[t % COLORS.length]}"><title>${target}, ${cellName(r)}: ${r.cpuMicrosPerRequest.toFixed(0)} µs</title></rect>`);
      });
      parts.push(`<text x="${x0 + (groupWidth - 12) / 2}" y="${top + panelHeight + 14}" font-size="10" text-anchor="middle">${cellName(cell).replace(/^\w+ · /, "")}</text>`);
    });
  });
  // Each entry as wide as its name (about 6.5 px a character at 11 px), on as many rows as they need:
  // "airlock (PostgreSQL, 2 workers)" overran the next entry at a fixed 150 px.
  let legendY = 40 + panels.length * (panelHeight + 60) - 20;
  let x = left;
  targets.forEach((target, t) => {
    const entryWidth = 16 + target.length * 6.5 + 24;
    if (x > left && x + entryWidth > width - 20) {
      x = left;
      legendY += 20;
    }
    parts.push(`<rect x="${x}" y="${legendY}" width="12" height="12" fill="${COLORS[t % COLORS.length]}"/><text x="${x + 16}" y="${legendY + 10}" font-size="11">${target}</text>`);
    x += entryWidth;
  });
  const height = legendY + 30;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join("\n")}\n</svg>\n`;
}
