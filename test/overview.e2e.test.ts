import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { startTestGateway, type TestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * The dashboard's overview over real calls: tool calls judged from real OpenAI and Anthropic answers
 * (streamed and not), fallbacks, model errors, latency and time to first token, the SLO readings
 * against their thresholds, and every figure narrowed by operation, model and user.
 */
const WEATHER_TOOL = { type: "function" as const, function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } };
const FORECAST_TOOL = { type: "function" as const, function: { name: "get_forecast", parameters: { type: "object" } } };
const ASK = [{ role: "user" as const, content: "Weather in Paris and Lyon?" }];

describe.each(STORE_KINDS)("overview on %s", (kind) => {
  let primary: FakeUpstream;
  let secondary: FakeUpstream;
  let anthropic: FakeUpstream;
  let gw: TestGateway;

  const get = async (path: string, key = gw.adminKey) => {
    const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => {
    [primary, secondary, anthropic] = await Promise.all([startFakeUpstream("openai"), startFakeUpstream("openai"), startFakeUpstream("anthropic", { chatFixture: "anthropic/tool-use" })]);
    gw = await startTestGateway(kind, {
      retry: { maxAttempts: 1 },
      providers: {
        p1: { type: "openai-compatible", baseUrl: primary.url },
        p2: { type: "openai-compatible", baseUrl: secondary.url },
        anth: { type: "anthropic", baseUrl: anthropic.url },
      },
      models: [
        { id: "p1/gpt-4.1", price: { input: "2", output: "8", per: "1M" } },
        { id: "p2/gpt-4.1-mini", price: { input: "0.4", output: "1.6", per: "1M" } },
        { id: "anth/claude-sonnet-4", price: { input: "3", output: "15", per: "1M" } },
      ],
      operations: { assist: { model: "p1/gpt-4.1" }, triage: { model: "p1/gpt-4.1", fallbacks: ["p2/gpt-4.1-mini"] } },
    });
    const client = gw.client();
    const as = (operation: string, user?: string) => ({ headers: { "x-airlock-operation": operation, ...(user ? { "x-airlock-user": user } : {}) } });
    await client.chat.completions.create({ model: "assist", messages: ASK }, as("assist", "alice"));
    primary.push({ kind: "ok", fixture: "openai/tool-calls" });
    const answered = await client.chat.completions.create({ model: "assist", messages: ASK, tools: [WEATHER_TOOL] }, as("assist"));
    expect(answered.choices[0]?.message.tool_calls).toHaveLength(2);
    // The same answer to a request that declared another tool: neither call can be run.
    primary.push({ kind: "ok", fixture: "openai/tool-calls" });
    await client.chat.completions.create({ model: "assist", messages: ASK, tools: [FORECAST_TOOL] }, as("assist"));
    primary.push({ kind: "ok", fixture: "openai/tool-calls" });
    const stream = await client.chat.completions.create({ model: "assist", messages: ASK, tools: [WEATHER_TOOL], stream: true, stream_options: { include_usage: true } }, as("assist"));
    for await (const chunk of stream) void chunk;
    const claude = await client.chat.completions.create({ model: "anth/claude-sonnet-4", messages: ASK, tools: [WEATHER_TOOL] });
    expect(claude.choices[0]?.message.tool_calls?.length).toBeGreaterThan(0);
    primary.push({ kind: "error", status: 503 });
    await client.chat.completions.create({ model: "triage", messages: ASK }, as("triage", "bob"));
    primary.push({ kind: "error", status: 503 });
    secondary.push({ kind: "error", status: 503 });
    await expect(client.chat.completions.create({ model: "triage", messages: ASK }, as("triage", "bob"))).rejects.toMatchObject({ status: 502 });
  });

  afterAll(async () => {
    await gw?.close();
    await Promise.all([primary?.close(), secondary?.close(), anthropic?.close()]);
  });

  it("sums every panel on the server, with exact costs and the SLO readings", async () => {
    const { status, body } = await get("/admin/overview?since=1h");
    expect(status).toBe(200);
    const claudeCalls = body.top.model.find((line: any) => line.group === "anth/claude-sonnet-4");
    expect(claudeCalls.requests).toBe(1);
    expect(body).toMatchObject({
      requests: 7,
      failures: 1,
      modelErrors: 1,
      refusals: 0,
      // The failed triage call moved on too: two calls fell back.
      fallbackRequests: 2,
      approvalsRequired: 0,
      chat: { requests: 7 },
      codes: [{ code: "provider_error", outcome: "error", requests: 1 }],
      latency: { calls: 7 },
      ttft: { calls: 1 },
      filters: {},
    });
    // 2 + 2 + 2 from OpenAI (2 of them naming an undeclared tool), and Claude's.
    expect(body.toolCalls).toEqual({ calls: 6 + 1, failures: 2 });
    expect(body.latency.p95).toBeGreaterThanOrEqual(body.latency.p50);
    const byOperation = Object.fromEntries(body.top.operation.map((line: any) => [line.group, line.requests]));
    expect(byOperation).toEqual({ assist: 4, triage: 2, "(none)": 1 });
    const totalOfTop = body.top.operation.reduce((sum: bigint, line: any) => sum + BigInt(line.cost.replace(".", "").padEnd(20, "0").slice(0, 20)), 0n);
    expect(totalOfTop).toBe(BigInt(body.cost.replace(".", "").padEnd(20, "0").slice(0, 20)));
    const slo = Object.fromEntries(body.slo.map((reading: any) => [reading.name, reading]));
    expect(slo.toolCallSuccessRate).toMatchObject({ value: 5 / 7, threshold: 0.95, bound: "min", breached: true });
    expect(slo.modelErrorRate).toMatchObject({ value: 1 / 7, threshold: 0.02, breached: true });
    expect(slo.fallbackRate).toMatchObject({ value: 2 / 7, breached: true });
    expect(slo.approvalRate).toMatchObject({ value: 0, breached: false });
    expect(slo.costPerMessageUsd.breached).toBe(false);
    expect(slo.costPerMessageUsd.value).toMatch(/^0\.\d+$/);
  });

  it("narrows every figure to an operation, a model or a user", async () => {
    const triage = (await get("/admin/overview?since=1h&operation=triage")).body;
    expect(triage).toMatchObject({ requests: 2, modelErrors: 1, fallbackRequests: 2, toolCalls: { calls: 0, failures: 0 }, filters: { operation: "triage" } });
    expect(triage.slo.find((reading: any) => reading.name === "toolCallSuccessRate")).toMatchObject({ breached: false });
    expect(triage.slo.find((reading: any) => reading.name === "toolCallSuccessRate").value).toBeUndefined();
    const claude = (await get("/admin/overview?since=1h&model=anth/claude-sonnet-4")).body;
    expect(claude).toMatchObject({ requests: 1, toolCalls: { calls: 1, failures: 0 }, top: { operation: [{ group: "(none)", requests: 1 }] } });
    const alice = (await get("/admin/overview?since=1h&user=alice")).body;
    expect(alice).toMatchObject({ requests: 1, top: { user: [{ group: "alice", requests: 1 }] } });
    const bobOnTriage = (await get("/admin/overview?since=1h&user=bob&operation=triage")).body;
    expect(bobOnTriage.requests).toBe(2);
    const series = (await get("/admin/spend/series?since=1h&grain=hour&by=model&operation=assist")).body;
    expect(series.points.reduce((n: number, point: any) => n + point.requests, 0)).toBe(4);
    expect(new Set(series.points.map((point: any) => point.group))).toEqual(new Set(["p1/gpt-4.1"]));
    const spend = (await get("/admin/spend?since=1h&by=user&operation=triage")).body;
    expect(spend.lines).toEqual([expect.objectContaining({ group: "bob", requests: 2, errors: 1 })]);
  });

  it("refuses a bad range or filter with the OpenAI error shape, and non-admin keys", async () => {
    const bad = await get("/admin/overview?since=lately");
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: "invalid_request", param: "since" });
    expect((await get("/admin/calls?limit=1.5")).body.error).toMatchObject({ code: "invalid_request", param: "limit" });
    const long = await get(`/admin/overview?model=${"m".repeat(201)}`);
    expect(long.body.error).toMatchObject({ code: "invalid_request", param: "model" });
    const created = await fetch(`${gw.url}/admin/keys`, { method: "POST", headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" }, body: JSON.stringify({ name: "app" }) });
    const { key } = (await created.json()) as { key: string };
    expect((await get("/admin/overview", key)).status).toBe(403);
  });

  it("counts a call whose client left apart: neither a model error nor a refusal, and listed by its code", async () => {
    const before = (await get("/admin/overview?since=1h")).body;
    primary.push({ kind: "hang" });
    const asked = primary.requests.length;
    const leaving = new AbortController();
    const sent = fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "assist", messages: ASK }),
      signal: leaving.signal,
    });
    await vi.waitFor(() => expect(primary.requests.length).toBe(asked + 1));
    leaving.abort();
    await expect(sent).rejects.toMatchObject({ name: "AbortError" });
    const after = await vi.waitFor(async () => {
      const body = (await get("/admin/overview?since=1h")).body;
      expect(body.requests).toBe(before.requests + 1);
      return body;
    });
    expect(after).toMatchObject({ clientClosed: before.clientClosed + 1, modelErrors: before.modelErrors, failures: before.failures, refusals: before.refusals });
    expect(after.codes).toContainEqual({ code: "client_closed", outcome: "error", requests: 1 });
    const errorRate = after.slo.find((reading: any) => reading.name === "modelErrorRate");
    expect(errorRate.value).toBe(before.modelErrors / (before.requests + 1));
  });
});
