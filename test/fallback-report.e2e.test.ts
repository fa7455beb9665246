import { describe, expect, it } from "vitest";
import type { FakeUpstream } from "./fakes/upstream.js";
import { isolatedEnv, removeTempDirs, runCli, workspace } from "./support/process.js";
import { api, ask, refusal, routesSuite } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * The fallback report end to end: exact per-operation, per-model counts from the admin API and from
 * the CLI against a running gateway, over a real store (PGlite and PostgreSQL). Each provider has its
 * own fake upstream, so which upstream received a request says which model served it.
 */

describe.each(STORE_KINDS)("routes on %s", (kind) => {
  let u1: FakeUpstream;
  let u2: FakeUpstream;
  const { cleanups, config, gateway } = routesSuite(kind, (upstreams) => ([u1, u2] = upstreams));

  it("fallback report: exact per-operation, per-model counts from the admin API and the CLI", async () => {
    const gw = await gateway(config({ retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 }, operations: { report_op: { model: "p1/m1", fallbacks: ["p2/m2"] } } }));

    // A: two clean calls on the primary.
    expect((await ask(gw, "report_op")).model).toBe("p1/m1");
    expect((await ask(gw, "report_op")).model).toBe("p1/m1");
    // B: the primary fails twice, the fallback answers.
    u1.push({ kind: "error", status: 503 }, { kind: "error", status: 503 });
    expect(await ask(gw, "report_op")).toMatchObject({ model: "p2/m2", attempts: 3 });
    // C: one retry on the primary, then it answers.
    u1.push({ kind: "error", status: 503 });
    expect(await ask(gw, "report_op")).toMatchObject({ model: "p1/m1", attempts: 2 });
    // D: everything fails; the row's model is the last one tried.
    u1.push({ kind: "error", status: 503 }, { kind: "error", status: 503 });
    u2.push({ kind: "error", status: 503 }, { kind: "error", status: 503 });
    expect(await refusal(gw, "report_op")).toMatchObject({ status: 502, code: "provider_error" });
    // F: the primary rejects the request itself: no retry, no fallback.
    u1.push({ kind: "error", status: 400 });
    expect(await refusal(gw, "report_op")).toMatchObject({ status: 400, code: "invalid_request" });
    // G: a direct model call, outside any operation.
    expect((await ask(gw, "p2/m2")).model).toBe("p2/m2");
    // Refused before any provider: not in the report.
    expect(await refusal(gw, "nope/never", { operation: "report_op" })).toMatchObject({ status: 404 });
    expect((await api(gw, "PATCH", "/admin/routes/report_op", { enabled: false })).status).toBe(200);
    expect(await refusal(gw, "report_op")).toMatchObject({ status: 503, code: "disabled" });

    const res = await api(gw, "GET", "/admin/reports/fallbacks?since=1h");
    expect(res.status).toBe(200);
    const report = res.body;
    const line = (operation: string, model: string) => report.lines.find((l: any) => l.operation === operation && l.model === model);
    expect(report.lines).toHaveLength(3);
    expect(line("report_op", "p1/m1")).toEqual({
      operation: "report_op",
      model: "p1/m1",
      calls: 4, // A A C F
      fellBack: 0,
      fallbackRate: 0,
      errors: 1, // F
      errorRate: 0.25,
      retries: 1, // C
      reasons: { server_error: 1, client_error: 1 },
    });
    expect(line("report_op", "p2/m2")).toEqual({
      operation: "report_op",
      model: "p2/m2",
      calls: 2, // B D
      fellBack: 2,
      fallbackRate: 1,
      errors: 1, // D
      errorRate: 0.5,
      retries: 3, // B: 1 on p1; D: 1 on p1 and 1 on p2
      reasons: { server_error: 6 },
    });
    expect(line("(none)", "p2/m2")).toEqual({ operation: "(none)", model: "p2/m2", calls: 1, fellBack: 0, fallbackRate: 0, errors: 0, errorRate: 0, retries: 0, reasons: {} });
    expect(report).toMatchObject({ calls: 7, fallbackRate: 0.2857, errorRate: 0.2857, since: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(Date.now() - Date.parse(report.since)).toBeGreaterThanOrEqual(3_600_000);
    expect(Date.now() - Date.parse(report.since)).toBeLessThan(3_600_000 + 60_000);
    const badSince = await api(gw, "GET", "/admin/reports/fallbacks?since=yesterday-ish");
    expect(badSince.status).toBe(400);
    expect(badSince.body.error).toMatchObject({ code: "invalid_request", param: "since" });

    // The CLI against the running gateway: the same figures as JSON, and a table for people.
    const { cwd } = await workspace();
    cleanups.push(removeTempDirs);
    const env = isolatedEnv();
    const connection = ["--url", gw.url, "--admin-key", gw.adminKey];
    const [asJson, asTable] = await Promise.all([
      runCli(["report", "fallbacks", "--since", "24h", "--json", ...connection], { cwd, env }),
      runCli(["report", "fallbacks", "--since", "24h", ...connection], { cwd, env }),
    ]);
    expect(asJson.stderr).toBe("");
    expect(asJson.code).toBe(0);
    const fromCli = JSON.parse(asJson.stdout);
    const sortLines = (lines: any[]) => [...lines].sort((x, y) => `${x.operation}/${x.model}`.localeCompare(`${y.operation}/${y.model}`));
    expect(sortLines(fromCli.lines)).toEqual(sortLines(report.lines));
    expect(fromCli).toMatchObject({ calls: 7, fallbackRate: 0.2857, errorRate: 0.2857 });

    expect(asTable.stderr).toBe("");
    expect(asTable.code).toBe(0);
    expect(asTable.stdout).toContain("report_op");
    expect(asTable.stdout).toMatch(/\d+\.\d%/);
    expect(asTable.stdout).toMatch(/report_op\s+p2\/m2\s+2\s+100\.0%\s+50\.0%\s+3\s+server_error 6/);
    expect(asTable.stdout).toMatch(/report_op\s+p1\/m1\s+4\s+0\.0%\s+25\.0%\s+1\s+/);
    expect(asTable.stdout).toContain("All: 7 calls, fallback rate 28.6%, error rate 28.6%");
  });
});
