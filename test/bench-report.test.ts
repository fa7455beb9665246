import { describe, expect, it } from "vitest";
import { benchCell as cell } from "./bench-cells.js";
import { glance, heldCellOf, heldRatio, markdown, proxyOfWorkers, verdicts } from "../bench/support/report.js";
import { commandOf } from "../bench/support/machine.js";
import { median } from "../bench/support/stats.js";

const RUN = [
  cell("direct", true, 0, 1, 50, { ttfbP50Ms: 0.4 }),
  cell("direct", true, 50, 1, 500, { ttfbP50Ms: 51.2 }),
  cell("proxy", false, 0, 16, 100, { requestsPerSecond: 8397.4 }),
  cell("proxy", true, 0, 16, 160),
  cell("proxy", true, 0, 1, 300, { ttfbP50Ms: 0.9 }),
  cell("proxy", true, 50, 1, 800, { ttfbP50Ms: 52.1 }),
  cell("proxy", false, 0, 64, 90, { peakRssMb: 152.6 }),
  cell("airlock (PostgreSQL)", false, 0, 16, 154, { requestsPerSecond: 5790 }),
  cell("airlock (PostgreSQL)", true, 0, 16, 288),
  cell("airlock (PostgreSQL)", true, 0, 1, 500, { ttfbP50Ms: 1.01 }),
  cell("airlock (PostgreSQL)", true, 50, 1, 1500, { ttfbP50Ms: 52.33 }),
  cell("airlock (PostgreSQL)", false, 0, 64, 150, { peakRssMb: 138 }),
  cell("airlock (PostgreSQL)", true, 0, 64, 260, { peakRssMb: 143.2 }),
  cell("portkey", false, 0, 16, 1642),
];

describe("the bench report's summary", () => {
  it("gives each target's cost at 16 connections against the proxy's, what it adds to the first streamed byte, and its peak memory", () => {
    const rows = glance(RUN).filter((line) => line.startsWith("| ") && !line.startsWith("| target"));
    expect(rows).toEqual([
      "| proxy | 100 | 8,397 | 160 | 1,000 | 0.50 / 0.90 ms | 153 MB |",
      "| airlock (PostgreSQL) | 154 (1.54×) | 5,790 | 288 (1.80×) | 1,000 | 0.61 / 1.13 ms | 143 MB |",
      // A target that ran no stream cells and no cell at 64 connections shows dashes there, not zeros.
      "| portkey | 1,642 (16.42×) | 1,000 | – | – | – / – ms | – |",
    ]);
  });

  it("leaves the summary out of a run narrowed past the proxy's cells at 16 connections, and puts it first otherwise", () => {
    const narrowed = RUN.filter((r) => !(r.target === "proxy" && r.connections === 16));
    expect(glance(narrowed)).toEqual([]);
    const info = { date: "2026-12-06 19:29 UTC", machine: "test", command: "npm run bench", ledger: [] };
    const report = markdown(RUN, [], info);
    expect(report.indexOf("## At a glance")).toBeGreaterThan(0);
    expect(report.indexOf("## At a glance")).toBeLessThan(report.indexOf("## Checks"));
    expect(markdown(narrowed, [], info)).not.toContain("## At a glance");
  });
});

describe("the bench report's CPU checks", () => {
  it("name the worst cell and count the cells within the target, of those the peer also ran", () => {
    const slower = RUN.map((r) => (r.target === "airlock (PostgreSQL)" && r.stream && r.connections === 16 ? { ...r, cpuMicrosPerRequest: 400 } : r));
    const cpu = verdicts(slower, { date: "d", machine: "m", command: "npm run bench", ledger: [] }).filter((v) => v.name.includes("CPU per request"));
    expect(cpu.map(({ name, value, pass }) => ({ name, value, pass }))).toEqual([
      // 400 / 160 at streams, 16 connections; the other four cells the proxy ran are within 2×.
      { name: "airlock (PostgreSQL): CPU per request vs proxy, worst cell (stream · 0 ms · c16; 4 of 5 cells within)", value: "2.50×", pass: false },
      { name: "airlock (PostgreSQL): CPU per request vs portkey, worst cell (json · 0 ms · c16; 1 of 1 cells within)", value: "0.09×", pass: true },
    ]);
  });
});

describe("the bench report's held cells", () => {
  const info = {
    date: "d",
    machine: "m",
    command: "npm run bench",
    ledger: [],
    held: [{ target: "airlock (PostgreSQL)", cell: "stream · 0 ms · c16", proxyMicros: [100, 120, 110], targetMicros: [150, 180, 240], errors: 0 }],
  };

  it("note the median of the rounds' ratios beside the target's checks, and judge nothing", () => {
    const notes = verdicts(RUN, info).filter((v) => v.name.includes("held side by side"));
    // Rounds of 1.5, 1.5 and 2.18: their median is 1.5, where the two sides' medians would give 180 / 110, 1.64.
    expect(notes).toEqual([{ name: "airlock (PostgreSQL): its worst cell against the proxy, held side by side (stream · 0 ms · c16; median of 3 rounds)", value: "1.50×", limit: "≤ 2×", pass: true, note: true }]);
    const names = verdicts(RUN, info).map((v) => v.name);
    expect(names.indexOf(notes[0]!.name)).toBeLessThan(names.indexOf("airlock (PostgreSQL): peak RSS at 64 connections"));
  });

  it("take the mean of the two middle rounds' ratios for an even number of rounds, not the upper one", () => {
    // Ratios 1.2, 1.5, 1.7 and 2.4: the median is 1.6, where the upper middle one would read 1.7.
    const held = { target: "airlock (PostgreSQL)", cell: "stream · 0 ms · c16", proxyMicros: [100, 100, 100, 100], targetMicros: [240, 150, 120, 170], errors: 0 };
    expect(heldRatio(held)).toBeCloseTo(1.6, 10);
    expect(median([3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it("note a gateway of workers held against a proxy of as many workers beside the proxy's, and list both rounds", () => {
    const workers = "airlock (PostgreSQL, 2 workers)";
    const run = [...RUN, { ...RUN.find((r) => r.target === "airlock (PostgreSQL)" && r.stream && r.connections === 16)!, target: workers }];
    const both = {
      ...info,
      held: [
        { target: workers, cell: "stream · 0 ms · c16", proxyMicros: [100, 100, 100], targetMicros: [200, 180, 190], errors: 0 },
        { target: workers, cell: "stream · 0 ms · c16", floor: proxyOfWorkers(2), proxyMicros: [120, 125, 100], targetMicros: [204, 200, 170], errors: 1 },
      ],
    };
    const notes = verdicts(run, both).filter((v) => v.name.includes("held side by side"));
    expect(notes.map(({ name, value }) => ({ name, value }))).toEqual([
      { name: `${workers}: its worst cell against the proxy, held side by side (stream · 0 ms · c16; median of 3 rounds)`, value: "1.90×" },
      { name: `${workers}: its worst cell against the proxy (2 workers), held side by side (stream · 0 ms · c16; median of 3 rounds)`, value: "1.70×" },
    ]);
    expect(verdicts(run, both).find((v) => v.name === "errors, all targets")).toMatchObject({ value: "1", pass: false });
    expect(heldCellOf(both, workers)?.targetMicros).toEqual([200, 180, 190]);
    expect(heldCellOf(both, workers, proxyOfWorkers(2))?.targetMicros).toEqual([204, 200, 170]);
    expect(markdown(run, [], both)).toContain(`${workers}, stream · 0 ms · c16, held side by side with the proxy (2 workers) (CPU µs per call, round by round): proxy (2 workers) 120, 125, 100; ${workers} 204, 200, 170`);
  });

  it("count the held rounds' errors with every target's, and list the rounds in the report", () => {
    const failing = { ...info, held: [{ ...info.held[0]!, errors: 2 }] };
    expect(verdicts(RUN, failing).find((v) => v.name === "errors, all targets")).toMatchObject({ value: "2", pass: false });
    expect(markdown(RUN, [], info)).toContain("airlock (PostgreSQL), stream · 0 ms · c16, held side by side with the proxy (CPU µs per call, round by round): proxy 100, 120, 110; airlock (PostgreSQL) 150, 180, 240");
  });
});

describe("a run's header", () => {
  it("gives the command with the DATABASE_URL it ran with, without its password, and the flags after --", () => {
    expect(commandOf("npm run bench", [], undefined)).toBe("npm run bench");
    expect(commandOf("npm run bench", ["--smoke"], "postgres://postgres@127.0.0.1:5432/postgres")).toBe("DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench -- --smoke");
    expect(commandOf("npm run bench:scaling", [], "postgres://bench:s3cret@db.internal:5432/bench")).toBe("DATABASE_URL=postgres://bench:PASSWORD@db.internal:5432/bench npm run bench:scaling");
    expect(commandOf("npm run bench", [], "postgres://bench@db.internal/bench?password=s3cret&sslmode=require")).toBe("DATABASE_URL=postgres://bench@db.internal/bench?password=PASSWORD&sslmode=require npm run bench");
  });
});
