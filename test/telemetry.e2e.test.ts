import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { startFakeUpstream } from "./fakes/upstream.js";
import { startOtlpCollector, until, type OtlpCollector } from "./support/otlp-collector.js";
import { isolatedEnv, killAll, randomAdminKey, removeTempDirs, seedDataDir, spawnGateway, workspace, type CliEntry, type GatewayProcess } from "./support/process.js";

describe("telemetry and logs of a running gateway", () => {
  let collector: OtlpCollector | undefined;
  afterEach(async () => {
    await killAll();
    await collector?.close();
    collector = undefined;
  });
  afterAll(removeTempDirs);

  /** A gateway in a fresh workspace, on the demo configuration unless `config` (YAML) is given. */
  async function start(extraEnv: Record<string, string>, entry: CliEntry = "source", config?: string): Promise<{ gateway: GatewayProcess; adminKey: string }> {
    const { cwd, dataDir } = await workspace();
    await seedDataDir(dataDir);
    if (config !== undefined) await writeFile(path.join(cwd, "airlock.config.yaml"), config);
    const adminKey = randomAdminKey();
    const gateway = await spawnGateway({ cwd, entry, env: isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: adminKey, ...extraEnv }), args: ["--port", "0", "--host", "127.0.0.1"] });
    return { gateway, adminKey };
  }

  function chat(gateway: GatewayProcess, adminKey: string, marker: string): Promise<Response> {
    return fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json", "x-airlock-operation": "chat_message" },
      body: JSON.stringify({ model: "chat_message", messages: [{ role: "user", content: `Please summarise ${marker} for me.` }] }),
    });
  }

  // The built bin too: it bundles the OpenTelemetry API, while the SDK it loads has its own copy.
  it.each<CliEntry>(["source", "build"])("exports a GenAI span per call over OTLP/HTTP, and logs JSON lines without the prompt (%s)", async (entry) => {
    collector = await startOtlpCollector();
    const { gateway, adminKey } = await start({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_SERVICE_NAME: "airlock-e2e" }, entry);
    const marker = `PROMPT-MARKER-${randomBytes(8).toString("hex")}`;

    const res = await chat(gateway, adminKey, marker);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { model: string; usage: { prompt_tokens: number; completion_tokens: number } };
    const cost = res.headers.get("x-airlock-cost");
    const requestId = res.headers.get("x-request-id");

    const span = await until("a chat span at the collector", () => collector!.spans().find((s) => s.attrs["gen_ai.operation.name"] === "chat"));
    const exported = collector.exports.find((e) => e.body.resourceSpans?.length);
    expect(exported?.path).toBe("/v1/traces");
    expect(exported?.contentType).toMatch(/^application\/json/);
    expect(span.resource["service.name"]).toBe("airlock-e2e");

    expect(span.attrs).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.request.model": "chat_message",
      "gen_ai.provider.name": res.headers.get("x-airlock-provider"),
      "gen_ai.usage.input_tokens": body.usage.prompt_tokens,
      "gen_ai.usage.output_tokens": body.usage.completion_tokens,
      "airlock.cost_usd": cost,
      "airlock.operation": "chat_message",
    });
    expect(body.model.endsWith(`/${String(span.attrs["gen_ai.response.model"])}`)).toBe(true);
    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(span.traceId).not.toMatch(/^0+$/);
    // The ledger row names the exported trace.
    const calls = await fetch(`${gateway.url}/admin/calls?limit=1`, { headers: { authorization: `Bearer ${adminKey}` } });
    expect(((await calls.json()) as { data: Array<{ requestId: string; traceId: string }> }).data[0]).toMatchObject({ requestId, traceId: span.traceId });

    expect(await gateway.stop()).toBe(0);

    // Logs: every stdout line is a JSON object; the request line carries the id the client got back.
    const stdoutLines = gateway.stdout().split("\n").filter(Boolean);
    expect(stdoutLines.length).toBeGreaterThan(0);
    for (const line of stdoutLines) expect(() => JSON.parse(line), line).not.toThrow();
    const requestLine = gateway.logLines().find((l) => l.msg === "request" && l.path === "/v1/chat/completions");
    expect(requestLine).toMatchObject({ requestId, status: 200, operation: "chat_message" });

    // The prompt is in neither the logs nor the exported telemetry.
    expect(gateway.logs()).not.toContain(marker);
    for (const e of collector.exports) expect(e.raw).not.toContain(marker);
  });

  it("keeps an upstream's error text, which may quote the prompt, out of the failed call's span", async () => {
    collector = await startOtlpCollector();
    const upstream = await startFakeUpstream("openai");
    try {
      const marker = `PROMPT-MARKER-${randomBytes(8).toString("hex")}`;
      // Many OpenAI-compatible servers quote the input they could not read.
      upstream.push({ kind: "error", status: 400, body: { error: { message: `Could not parse the prompt: Please summarise ${marker} for me.`, type: "invalid_request_error" } } });
      const config = [
        `providers:\n  up: { type: openai-compatible, baseUrl: "${upstream.url}", apiKey: "sk-test" }`,
        `models:\n  - { id: "up/gpt", price: { input: "1", output: "2", per: "1M" } }`,
        `operations:\n  chat_message: { model: "up/gpt" }`,
      ].join("\n");
      const { gateway, adminKey } = await start({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url }, "source", config);
      const res = await chat(gateway, adminKey, marker);
      expect(res.status).toBe(400);

      const span = await until("the failed call's span", () => collector!.spans().find((s) => s.attrs["error.type"] !== undefined));
      expect(span.attrs["error.type"]).toBe("invalid_request");
      expect(span.status).toMatchObject({ code: 2, message: "invalid_request" });
      expect(await gateway.stop()).toBe(0);
      for (const e of collector.exports) expect(e.raw).not.toContain(marker);
    } finally {
      await upstream.close();
    }
  });

  it("logs one access line for a request no route serves, as for any other", async () => {
    const { gateway, adminKey } = await start({});
    const headers = { authorization: `Bearer ${adminKey}`, "content-type": "application/json", "x-request-id": "lost-client-1" };
    // A client whose base URL lacks /v1, and a method no route takes.
    const missing = await fetch(`${gateway.url}/chat/completions?api-version=1`, { method: "POST", headers, body: JSON.stringify({ model: "chat_message", messages: [] }) });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("not_found");
    expect(missing.headers.get("x-request-id")).toBe("lost-client-1");
    expect((await fetch(`${gateway.url}/v1/chat/completions`, { method: "DELETE", headers: { authorization: headers.authorization } })).status).toBe(405);
    expect(await gateway.stop()).toBe(0);
    const lines = gateway.logLines().filter((l) => l.msg === "request");
    expect(lines).toEqual([
      expect.objectContaining({ requestId: "lost-client-1", method: "POST", path: "/chat/completions", status: 404, code: "not_found" }),
      expect.objectContaining({ method: "DELETE", path: "/v1/chat/completions", status: 405, code: "method_not_allowed" }),
    ]);
  });

  it("without OTEL_EXPORTER_OTLP_ENDPOINT serves normally and exports nothing", async () => {
    collector = await startOtlpCollector();
    const { gateway, adminKey } = await start({});
    const marker = `PROMPT-MARKER-${randomBytes(8).toString("hex")}`;
    const res = await chat(gateway, adminKey, marker);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { usage: { total_tokens: number } }).usage.total_tokens).toBeGreaterThan(0);
    expect(await gateway.stop()).toBe(0);
    expect(collector.exports).toHaveLength(0);
    expect(gateway.logLines().some((l) => l.msg === "request" && typeof l.requestId === "string")).toBe(true);
    expect(gateway.logs()).not.toContain(marker);
  });
});
