import { randomBytes } from "node:crypto";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { startOtlpCollector, until, type ExportedSpan, type OtlpCollector } from "./support/otlp-collector.js";
import { isolatedEnv, killAll, randomAdminKey, removeTempDirs, seedDataDir, spawnGateway, workspace, type CliEntry } from "./support/process.js";

const hex = (bytes: number) => randomBytes(bytes).toString("hex");

/**
 * A caller that traces its own work sends W3C `traceparent` (and `tracestate`) with its call, as the
 * OpenTelemetry HTTP instrumentations do: the gateway's span for the call belongs to the caller's trace,
 * under the caller's span, and the ledger row names that trace.
 */
describe("an incoming traceparent", () => {
  let collector: OtlpCollector | undefined;
  afterEach(async () => {
    await killAll();
    await collector?.close();
    collector = undefined;
  });
  afterAll(removeTempDirs);

  // The built bin too: it bundles the OpenTelemetry API, while the SDK's propagator is registered through the copy beside it.
  it.each<CliEntry>(["source", "build"])("makes the call's span a child of the caller's span, refused calls included (%s)", async (entry) => {
    collector = await startOtlpCollector();
    const { cwd, dataDir } = await workspace();
    await seedDataDir(dataDir);
    const adminKey = randomAdminKey();
    const gateway = await spawnGateway({ cwd, entry, env: isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: adminKey, OTEL_EXPORTER_OTLP_ENDPOINT: collector.url }), args: ["--port", "0", "--host", "127.0.0.1"] });
    const call = (model: string, headers: Record<string, string>) =>
      fetch(`${gateway.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json", ...headers },
        body: JSON.stringify({ model, messages: [{ role: "user", content: "hello" }] }),
      });

    const traceId = hex(16);
    const parent = hex(8);
    const served = await call("chat_message", { traceparent: `00-${traceId}-${parent}-01`, "x-request-id": "traced-1" });
    expect(served.status).toBe(200);
    const refusedParent = hex(8);
    const refused = await call("no-such-model", { traceparent: `00-${traceId}-${refusedParent}-01`, "x-request-id": "traced-2" });
    expect(refused.status).toBe(404);
    // A malformed header is ignored: the call starts a trace of its own.
    const untraced = await call("chat_message", { traceparent: "00-not-a-trace-01", "x-request-id": "untraced-1" });
    expect(untraced.status).toBe(200);

    const spans = await until("three call spans", () => (collector!.spans().length >= 3 ? collector!.spans() : undefined));
    const byParent = (id: string) => spans.find((s) => s.parentSpanId === id);
    expect(byParent(parent)).toMatchObject({ traceId, attrs: { "gen_ai.operation.name": "chat" } });
    expect(byParent(refusedParent)).toMatchObject({ traceId, attrs: { "error.type": "not_found" }, status: { code: 2 } });
    const own = spans.find((s: ExportedSpan) => s !== byParent(parent) && s !== byParent(refusedParent))!;
    expect(own.traceId).not.toBe(traceId);
    expect(own.parentSpanId ?? "").toBe("");

    // The ledger rows name the caller's trace.
    const rows = (await (await fetch(`${gateway.url}/admin/calls?limit=3`, { headers: { authorization: `Bearer ${adminKey}` } })).json()) as { data: Array<{ requestId: string; traceId: string }> };
    const traceOf = (requestId: string) => rows.data.find((r) => r.requestId === requestId)?.traceId;
    expect(traceOf("traced-1")).toBe(traceId);
    expect(traceOf("traced-2")).toBe(traceId);
    expect(traceOf("untraced-1")).toBe(own.traceId);
    expect(await gateway.stop()).toBe(0);
  }, 60_000);
});
