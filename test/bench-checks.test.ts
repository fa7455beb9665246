import { describe, expect, it } from "vitest";
import { benchCell as cell } from "./bench-cells.js";
import { airlockTargetName, airlockTargetOf, sanityProblems, verdicts, type RunInfo } from "../bench/support/report.js";

const INFO: RunInfo = { date: "2026-12-07 04:30 UTC", machine: "test", command: "npm run bench", ledger: [] };
const verdictOf = (name: string, results = RUN, info = INFO) => verdicts(results, info).find((v) => v.name === name);

const RUN = [
  cell("direct", true, 0, 1, 50, { ttfbP50Ms: 0.4, ttfbP99Ms: 0.6 }),
  cell("direct", true, 50, 1, 500, { ttfbP50Ms: 51.2, ttfbP99Ms: 52 }),
  cell("proxy", false, 0, 64, 90),
  cell("airlock (PGlite)", true, 0, 1, 500, { ttfbP50Ms: 1.3, ttfbP99Ms: 2 }),
  cell("airlock (PGlite)", true, 50, 1, 1500, { ttfbP50Ms: 52.1, ttfbP99Ms: 53 }),
  cell("airlock (PGlite)", false, 0, 64, 150, { peakRssMb: 401 }),
  cell("airlock (PostgreSQL)", false, 0, 64, 150, { peakRssMb: 150 }),
  cell("airlock (PostgreSQL, 2 workers)", false, 0, 64, 150, { peakRssMb: 301 }),
];

describe("the bench's checks", () => {
  it("hold each Airlock target's first streamed byte to 1 ms over direct's, at each upstream delay", () => {
    expect(verdictOf("airlock (PGlite): stream TTFB p50 added over direct (0 ms upstream)")).toMatchObject({ value: "0.90 ms", limit: "≤ 1 ms", pass: true });
    expect(verdictOf("airlock (PGlite): stream TTFB p50 added over direct (50 ms upstream)")).toMatchObject({ value: "0.90 ms", pass: true });
    const late = RUN.map((r) => (r.target === "airlock (PGlite)" && r.delayMs === 50 ? { ...r, ttfbP50Ms: 52.3 } : r));
    expect(verdictOf("airlock (PGlite): stream TTFB p50 added over direct (50 ms upstream)", late)).toMatchObject({ value: "1.10 ms", pass: false });
  });

  it("read an Airlock target's store and workers back from its name, and no other target's", () => {
    for (const [store, workers] of [["pglite", undefined], ["postgres", undefined], ["postgres", 2], ["postgres", 12]] as const) {
      expect(airlockTargetOf(airlockTargetName(store, workers))).toEqual({ store, workers: workers ?? 1 });
    }
    for (const other of ["proxy", "proxy (2 workers)", "portkey", "direct", "airlock (PostgreSQL, 0 workers)", "airlock (PGlite, 2 workers)", "my airlock (PostgreSQL)"]) expect(airlockTargetOf(other)).toBeUndefined();
  });

  it("hold peak RSS at 64 connections to 400 MB with PGlite, 150 MB with PostgreSQL, and 150 MB a worker", () => {
    expect(verdictOf("airlock (PGlite): peak RSS at 64 connections")).toMatchObject({ value: "401 MB", limit: "≤ 400 MB", pass: false });
    expect(verdictOf("airlock (PostgreSQL): peak RSS at 64 connections")).toMatchObject({ value: "150 MB", limit: "≤ 150 MB", pass: true });
    expect(verdictOf("airlock (PostgreSQL, 2 workers): peak RSS at 64 connections")).toMatchObject({ value: "301 MB", limit: "≤ 300 MB", pass: false });
  });

  it("hold startup with an existing data directory to 1.5 s, by the median of its starts", () => {
    const name = "startup, spawn to first 200 with an existing PGlite data directory (median)";
    expect(verdictOf(name, RUN, { ...INFO, startupMs: [700, 1600, 1400] })).toMatchObject({ value: "1400 ms", pass: true });
    expect(verdictOf(name, RUN, { ...INFO, startupMs: [1501, 1600, 1400] })).toMatchObject({ value: "1501 ms", pass: false });
  });

  it("hold the ledger to the requests sent, and to calls that succeeded and were priced from the provider's usage", () => {
    const info = { ...INFO, ledger: [{ target: "airlock (PGlite)", rows: 1000, sent: 1000, failed: 0, unpriced: 0 }, { target: "airlock (PostgreSQL)", rows: 999, sent: 1000, failed: 3, unpriced: 1 }] };
    expect(verdictOf("airlock (PGlite): ledger rows = requests sent", RUN, info)).toMatchObject({ value: "1000 / 1000", pass: true });
    expect(verdictOf("airlock (PGlite): ledger rows that failed, or were not priced from the provider's usage", RUN, info)).toMatchObject({ value: "0 failed, 0 not priced", pass: true });
    expect(verdictOf("airlock (PostgreSQL): ledger rows = requests sent", RUN, info)).toMatchObject({ value: "999 / 1000", pass: false });
    expect(verdictOf("airlock (PostgreSQL): ledger rows that failed, or were not priced from the provider's usage", RUN, info)).toMatchObject({ value: "3 failed, 1 not priced", pass: false });
    // A run recorded before the ledger's rows were tallied has no such check, rather than a made-up pass.
    const older = { ...INFO, ledger: [{ target: "airlock (PGlite)", rows: 1000, sent: 1000 }] };
    expect(verdicts(RUN, older).filter((v) => v.name.includes("not priced"))).toEqual([]);
  });
});

describe("the smoke run's sanity", () => {
  it("finds nothing in numbers that can be measurements", () => {
    expect(sanityProblems(RUN, { ...INFO, startupMs: [700], firstStartMs: 1400, libraryMicros: [-0.4, 12], libraryCpuMicros: [70, 80] })).toEqual([]);
  });

  it("names each cell whose numbers cannot be a measurement, and what in it", () => {
    const broken = [
      cell("proxy", false, 0, 16, 0, { requestsPerSecond: 0 }),
      cell("airlock (PGlite)", true, 0, 1, 300, { p50Ms: 3, p99Ms: 2, peakRssMb: 0, ttfbP50Ms: undefined }),
      cell("airlock (PostgreSQL)", false, 0, 16, 200, { faultsPerRequest: Number.NaN, storeCpuMicrosPerRequest: -1 }),
    ];
    expect(sanityProblems(broken, { ...INFO, startupMs: [700, Number.NaN], libraryMicros: [Number.POSITIVE_INFINITY], libraryCpuMicros: [0] })).toEqual([
      "proxy, json · 0 ms · c16: no requests a second, no CPU per request",
      "airlock (PGlite), stream · 0 ms · c1: p50 3 ms and p99 2 ms, no peak RSS, TTFB p50 undefined ms and p99 undefined ms",
      "airlock (PostgreSQL), json · 0 ms · c16: no page-fault count, no store CPU",
      "startup (ms): 700, NaN",
      "library overhead (µs): Infinity",
      "library CPU per call (µs): 0",
    ]);
  });
});
