import { describe, expect, it } from "vitest";
import { throttledShare } from "../bench/support/cpu-share.js";
import { scalingChecks, scalingMarkdown, scalingOf, type ScalingRun, type ScalingSide } from "../bench/support/scaling-report.js";

function side(processes: number, callsPerSecond: number[], more: Partial<ScalingSide> = {}): ScalingSide {
  const each = (value: number) => callsPerSecond.map(() => value);
  return { processes, callsPerSecond, cpuMicros: each(200), primaryCpuMicros: each(processes === 1 ? 0 : 2), throttled: each(0.99), machineBusy: each(0.4), errors: 0, sent: 5000, ledgerRows: 5000, ...more };
}

function run(sides: ScalingSide[]): ScalingRun {
  return { target: "airlock", date: "2026-12-07 02:10 UTC", machine: "test", command: "npm run bench:scaling", coresPerProcess: 0.25, connections: 32, stream: false, rounds: 3, seconds: 4, sides };
}

const checkNamed = (checks: ReturnType<typeof scalingChecks>, start: string) => checks.filter((check) => check.name.startsWith(start));

describe("bench:scaling's report", () => {
  it("reads scaling as the median of each round's ratio to one process in the same round, not as a ratio of medians", () => {
    const single = side(1, [1000, 1500, 1400]);
    // Round by round 1.9, 1.8 and 2.0: the median is 1.9. The medians' ratio would read 2600 / 1400 = 1.857.
    expect(scalingOf(side(2, [1900, 2700, 2800]), single)).toBeCloseTo(1.9, 10);
  });

  it("passes N workers that serve at least 0.8 × N times one process's calls, and misses fewer", () => {
    const single = side(1, [1000, 1000, 1000]);
    const checks = scalingChecks(run([single, side(2, [1700, 1600, 1650]), side(3, [2300, 2350, 2200])]));
    expect(checkNamed(checks, "throughput scales with cores").map(({ value, limit, pass }) => ({ value, limit, pass }))).toEqual([
      { value: "1.65×", limit: "≥ 1.6×", pass: true },
      { value: "2.30×", limit: "≥ 2.4×", pass: false },
    ]);
  });

  it("misses a round whose processes were not held at their share, or whose machine was the limit, so that its ratio is not read as scaling", () => {
    const checks = scalingChecks(run([side(1, [1000, 1000, 1000], { throttled: [0.1, 0.2, 0.3] }), side(2, [2000, 2000, 2000], { machineBusy: [0.95, 0.97, 0.5] })]));
    expect(checkNamed(checks, "held at its share").map(({ value, pass }) => ({ value, pass }))).toEqual([
      { value: "20%", pass: false },
      { value: "99%", pass: true },
    ]);
    expect(checkNamed(checks, "machine not the limit").map(({ value, pass }) => ({ value, pass }))).toEqual([
      { value: "40%", pass: true },
      { value: "95%", pass: false },
    ]);
  });

  it("fails a gateway with errors or a ledger that does not hold every request it was sent", () => {
    const checks = scalingChecks(run([side(1, [1000], { errors: 2 }), side(2, [2000], { sent: 9000, ledgerRows: 8999 })]));
    expect(checkNamed(checks, "errors").map(({ name, pass }) => ({ name, pass }))).toEqual([
      { name: "errors: one process", pass: false },
      { name: "errors: 2 workers", pass: true },
    ]);
    expect(checkNamed(checks, "ledger").map(({ value, pass }) => ({ value, pass }))).toEqual([
      { value: "5000 rows, 5000 sent", pass: true },
      { value: "8999 rows, 9000 sent", pass: false },
    ]);
  });

  it("writes a row per gateway with its median calls a second, its scaling and its primary's CPU, and every round's rate", () => {
    const sides = [side(1, [1000, 1500, 1400]), side(2, [1900, 2700, 2800])];
    const report = scalingMarkdown(run(sides), scalingChecks(run(sides)));
    expect(report).toContain("# Throughput with --workers, each process held to 0.25 of a core");
    expect(report).toContain("| one process | 0.25 each | 1400 | 1.00× | 200 | – | 99% | 40% |");
    expect(report).toContain("| 2 workers | 0.25 each | 2700 | 1.90× | 200 | 2 | 99% | 40% |");
    expect(report).toContain("| 2 workers | 1900 · 2700 · 2800 |");
    expect(report).toContain("| throughput scales with cores: 2 workers against one process (median of the rounds' ratios) | 1.90× | ≥ 1.6× | pass |");
  });
});

describe("bench:scaling's report of the bare proxy", () => {
  it("names the proxy, and checks no ledger, which the proxy does not keep", () => {
    const sides = [side(1, [2700], { ledgerRows: undefined }), side(2, [4600], { ledgerRows: undefined })];
    const proxyRun: ScalingRun = { ...run(sides), target: "proxy", command: "npm run bench:scaling -- --target proxy" };
    const checks = scalingChecks(proxyRun);
    expect(checkNamed(checks, "ledger")).toEqual([]);
    const report = scalingMarkdown(proxyRun, checks);
    expect(report).toContain("# The bare proxy's throughput with workers, each process held to 0.25 of a core");
    expect(report).toContain("| 2 workers | 0.25 each | 4600 | 1.70× | 200 | 2 | 99% | 40% |");
  });
});

describe("a CPU share's throttling", () => {
  it("is the share of the window's periods in which the quota stopped its processes", () => {
    expect(throttledShare({ periods: 100, throttled: 40 }, { periods: 150, throttled: 80 })).toBe(0.8);
    // No period ran at all in the window (the processes slept throughout): nothing was throttled.
    expect(throttledShare({ periods: 100, throttled: 40 }, { periods: 100, throttled: 40 })).toBe(0);
  });
});
