import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { AirlockConfigInput } from "../src/config/schema.js";
import { formatCost, Money } from "../src/ledger/pricing.js";
import { fixtureJson, startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { startTestGateway, type TestGateway } from "./support/gateway.js";
import { captureLogs } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";
import { tokenizerReady } from "./support/tokenizer.js";

/**
 * The call path end to end: the official `openai` SDK over real HTTP → the gateway → a fake upstream
 * that speaks the provider's wire format → the ledger in a real store.
 */
describe.each(STORE_KINDS)("gateway on %s", (kind) => {
  let openai: FakeUpstream;
  let anthropic: FakeUpstream;
  let gw: TestGateway;
  const logs = captureLogs();
  const chatFixture = fixtureJson("openai/chat");
  const anthropicFixture = fixtureJson("anthropic/message");
  // o4-mini fixture: 1843 input (1536 cached), 199 output (192 reasoning), at 1.10 / 0.275 / 4.40 per 1M:
  // 307 × 1.1e-6 + 1536 × 2.75e-7 + 7 × 4.4e-6 + 192 × 4.4e-6 = 0.0003377 + 0.0004224 + 0.0000308 + 0.0008448
  const FIXTURE_COST = "0.0016357";

  // Some calls here are counted by the tokenizer: its thread must be up, or a rough count stands in.
  beforeAll(tokenizerReady, 90_000);
  beforeAll(async () => {
    openai = await startFakeUpstream("openai");
    anthropic = await startFakeUpstream("anthropic");
    const config: AirlockConfigInput = {
      server: { bodyLimitBytes: 64 * 1024 },
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
      providers: {
        oai: { type: "openai-compatible", baseUrl: openai.url, apiKey: "sk-upstream-secret" },
        anth: { type: "anthropic", baseUrl: anthropic.url, apiKey: "sk-ant-upstream" },
      },
      models: [
        { id: "oai/o4-mini", price: { input: "1.10", output: "4.40", cachedInput: "0.275", per: "1M" } },
        { id: "oai/text-embedding-3-small", kind: "embedding", price: { input: "0.02", per: "1M" } },
        { id: "anth/claude-sonnet-4-5", price: { input: "3", output: "15", cachedInput: "0.30", cacheWrite: "3.75", per: "1M" } },
      ],
      operations: {
        chat_message: { model: "oai/o4-mini", fallbacks: ["anth/claude-sonnet-4-5"] },
      },
    };
    gw = await startTestGateway(kind, config, { logger: logs.logger });
  });

  afterAll(async () => {
    await gw?.close();
    await openai?.close();
    await anthropic?.close();
  });

  async function lastRow() {
    const [row] = await gw.plane.reports.recentCalls(1);
    if (!row) throw new Error("no ledger row");
    return row;
  }

  it("answers a non-streaming chat call with the upstream's content, usage and an exact cost", async () => {
    const { data, response } = await gw
      .client()
      .chat.completions.create({ model: "oai/o4-mini", messages: [{ role: "user", content: "What is the capital of France?" }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe(chatFixture.choices[0].message.content);
    expect(data.model).toBe("oai/o4-mini");
    expect(data.usage).toMatchObject({ prompt_tokens: 1843, completion_tokens: 199, prompt_tokens_details: { cached_tokens: 1536 }, completion_tokens_details: { reasoning_tokens: 192 } });
    expect(response.headers.get("x-airlock-cost")).toBe(FIXTURE_COST);
    expect(response.headers.get("x-airlock-provider")).toBe("oai");
    const upstreamCall = openai.requests.at(-1)!;
    expect(upstreamCall.body.model).toBe("o4-mini");
    expect(upstreamCall.headers.authorization).toBe("Bearer sk-upstream-secret");

    const row = await lastRow();
    expect(row).toMatchObject({ model: "oai/o4-mini", provider: "oai", outcome: "success", stream: false, inputTokens: 1843, cachedInputTokens: 1536, outputTokens: 199, reasoningTokens: 192, attemptCount: 1, keyId: "key_bootstrap_admin" });
    expect(Number(row.cost)).toBe(Number(FIXTURE_COST));
  });

  it("streams with include_usage: same text, a final usage chunk, and the same cost as the plain call", async () => {
    const stream = await gw.client().chat.completions.create({
      model: "oai/o4-mini",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "What is the capital of France?" }],
    });
    let text = "";
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      chunks.push(chunk);
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks.length).toBeGreaterThan(2);
    expect(text).toBe(chatFixture.choices[0].message.content);
    expect(usage).toMatchObject({ prompt_tokens: 1843, completion_tokens: 199 });
    // Every chunk names the catalog's model, not the upstream's, and only the last carries usage; the
    // upstream's own fields (its id, its fingerprint) come through.
    expect(new Set(chunks.map((c) => c.model))).toEqual(new Set(["oai/o4-mini"]));
    expect(chunks.slice(0, -1).every((c) => !("usage" in c))).toBe(true);
    expect(chunks.at(-1)!.choices).toEqual([]);
    // The usage chunk takes its id and time from the last chunk relayed, read back from its text.
    expect(chunks.at(-1)!).toMatchObject({ id: "chatcmpl-C3bQeA4nR7yKd2WfG9sLm1ZtXc8Pv", created: 1754925064 });
    expect(chunks.at(-2)!).toMatchObject({ id: "chatcmpl-C3bQeA4nR7yKd2WfG9sLm1ZtXc8Pv", system_fingerprint: "fp_7d2b3f1c8e", choices: [{ finish_reason: "stop" }] });
    const row = await lastRow();
    expect(row).toMatchObject({ stream: true, outcome: "success", inputTokens: 1843, outputTokens: 199, usageEstimated: false });
    expect(row.ttftMs).not.toBeNull();
    expect(Number(row.cost)).toBe(Number(FIXTURE_COST));
  });

  it("streams unusual but valid chunks as a parse would: escapes, a chunk over two data lines, a usage key spelled with an escape", async () => {
    openai.push({ kind: "ok", fixture: "openai/chat-unusual" });
    const stream = await gw.client().chat.completions.create({ model: "oai/o4-mini", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "hi" }] });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe('Say "hi" caf\u00e9 line\nnext \\ end!');
    expect(new Set(chunks.map((c) => c.model))).toEqual(new Set(["oai/o4-mini"]));
    expect(chunks.slice(0, -1).every((c) => !("usage" in c))).toBe(true);
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 7 });
    expect(await lastRow()).toMatchObject({ stream: true, outcome: "success", inputTokens: 11, outputTokens: 7, usageEstimated: false });
  });

  it("asks the upstream for usage even when the client did not, and does not pass it on", async () => {
    const stream = await gw.client().chat.completions.create({ model: "oai/o4-mini", stream: true, messages: [{ role: "user", content: "hi" }] });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(openai.requests.at(-1)!.body.stream_options).toEqual({ include_usage: true });
    expect(await lastRow()).toMatchObject({ inputTokens: 1843, outputTokens: 199 });
  });

  it("serves an Anthropic model through the OpenAI wire format", async () => {
    const completion = await gw.client().chat.completions.create({
      model: "anth/claude-sonnet-4-5",
      max_tokens: 256,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "hello" },
      ],
    });
    const text = anthropicFixture.content.filter((b: { type: string }) => b.type === "text").map((b: { text: string }) => b.text).join("");
    expect(completion.choices[0]?.message.content).toBe(text);
    const u = anthropicFixture.usage;
    expect(completion.usage?.prompt_tokens).toBe(u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens);
    expect(completion.usage?.prompt_tokens_details?.cached_tokens).toBe(u.cache_read_input_tokens);
    const sent = anthropic.requests.at(-1)!;
    expect(sent.body.system).toBe("Be brief.");
    expect(sent.headers["x-api-key"]).toBe("sk-ant-upstream");
  });

  it("estimates and flags usage when the upstream reports none", async () => {
    openai.push({ kind: "noUsage" });
    await gw.client().chat.completions.create({ model: "oai/o4-mini", messages: [{ role: "user", content: "What is the capital of France?" }] });
    const row = await lastRow();
    expect(row.usageEstimated).toBe(true);
    expect(row.inputTokens).toBeGreaterThan(0);
    expect(row.outputTokens).toBeGreaterThan(0);
    expect(Number(row.cost)).toBeGreaterThan(0);
  });

  it("counts an embedding's input tokens itself, and flags the row, when the upstream reports none", async () => {
    openai.push({ kind: "noUsage" });
    const { response } = await gw.client().embeddings.create({ model: "oai/text-embedding-3-small", input: ["Hello, world!", "The capital of France is Paris."] }).withResponse();
    const [row] = (await gw.plane.reports.recentCalls(20)).filter((r) => r.requestId === response.headers.get("x-request-id"));
    // o200k_base: 4 + 7 tokens; at $0.02 per 1M
    expect(row).toMatchObject({ endpoint: "embeddings", usageEstimated: true, inputTokens: 11 });
    expect(row!.cost.replace(/0+$/, "")).toBe("0.00000022");
  });

  it("serves embeddings and lists models", async () => {
    const result = await gw.client().embeddings.create({ model: "oai/text-embedding-3-small", input: ["a", "b"] });
    expect(result.data.length).toBe(fixtureJson("openai/embeddings").data.length);
    expect(result.model).toBe("oai/text-embedding-3-small");
    const models = await gw.client().models.list();
    const ids = models.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(["oai/o4-mini", "anth/claude-sonnet-4-5", "chat_message"]));
  });

  it("routes by operation and records the operation, end user and session", async () => {
    const client = new OpenAI({
      apiKey: gw.adminKey,
      baseURL: `${gw.url}/v1`,
      maxRetries: 0,
      defaultHeaders: { "x-airlock-user": "end-user-7", "x-airlock-session": "sess-42" },
    });
    const completion = await client.chat.completions.create({ model: "chat_message", messages: [{ role: "user", content: "hi" }] });
    expect(completion.model).toBe("oai/o4-mini");
    expect(await lastRow()).toMatchObject({ operation: "chat_message", requestedModel: "chat_message", endUser: "end-user-7", sessionId: "sess-42" });

    await gw.client().chat.completions.create({ model: "oai/o4-mini", messages: [{ role: "user", content: "hi" }] }, { headers: { "x-airlock-operation": "chat_message" } });
    expect(await lastRow()).toMatchObject({ operation: "chat_message", model: "oai/o4-mini" });
  });

  it("falls back to the next candidate when the primary keeps failing, and records every attempt", async () => {
    openai.push({ kind: "error", status: 503 }, { kind: "error", status: 503 });
    const { data, response } = await gw.client().chat.completions.create({ model: "chat_message", messages: [{ role: "user", content: "hi" }] }).withResponse();
    expect(data.model).toBe("anth/claude-sonnet-4-5");
    expect(response.headers.get("x-airlock-attempts")).toBe("3");
    const row = await lastRow();
    expect(row.attempts.map((a) => [a.model, a.outcome, a.reason ?? null])).toEqual([
      ["oai/o4-mini", "error", "server_error"],
      ["oai/o4-mini", "error", "server_error"],
      ["anth/claude-sonnet-4-5", "success", null],
    ]);
  });

  it("does not retry or fall back on a 400 from the provider", async () => {
    const before = openai.requests.length + anthropic.requests.length;
    openai.push({ kind: "error", status: 400 });
    const error = await gw.client().chat.completions.create({ model: "chat_message", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("invalid_request");
    expect(openai.requests.length + anthropic.requests.length - before).toBe(1);
  });

  it("refuses malformed JSON with 400 without calling any upstream", async () => {
    const before = openai.requests.length;
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" }, body: '{"model": "oai/o4-mini", "messages": [' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: Record<string, unknown> };
    expect(body.error).toEqual({ message: expect.any(String), type: "invalid_request_error", code: "invalid_request", param: null });
    expect(openai.requests.length).toBe(before);
    expect(await lastRow()).toMatchObject({ outcome: "refused", errorCode: "invalid_request", httpStatus: 400, keyId: "key_bootstrap_admin" });
  });

  it("answers an unknown model with 404 in the OpenAI error shape", async () => {
    const error = await gw.client().chat.completions.create({ model: "nope/never", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("not_found");
    expect(await lastRow()).toMatchObject({ outcome: "refused", errorCode: "not_found", httpStatus: 404, requestedModel: "nope/never" });
  });

  it("refuses a body over the limit with 413, declared or chunked", async () => {
    const big = JSON.stringify({ model: "oai/o4-mini", messages: [{ role: "user", content: "x".repeat(100 * 1024) }] });
    const declared = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" }, body: big });
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as { error: { code: string } }).error.code).toBe("request_too_large");
    const chunked = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
      body: new Blob([big]).stream(),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it("refuses a missing or unknown key with 401 and never shows a stack", async () => {
    const missing = await fetch(`${gw.url}/v1/models`);
    expect(missing.status).toBe(401);
    const text = await missing.text();
    expect(JSON.parse(text).error.code).toBe("unauthorized");
    expect(text).not.toMatch(/\bat .*\.(ts|js):\d+/);
    const error = await gw.client("sk-al-not-a-real-key").models.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it("creates keys through the admin API; keys are stored hashed; non-admin keys cannot administer", async () => {
    const created = await fetch(`${gw.url}/admin/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "app", kind: "service", user: "u1", team: "t1", org: "o1" }),
    });
    expect(created.status).toBe(201);
    const key = (await created.json()) as { id: string; key: string; orgId: string | null };
    // The org that `org` budgets match the key by is shown, as its user and team are.
    expect(key).toMatchObject({ userId: "u1", teamId: "t1", orgId: "o1" });
    const keyList = (await (await fetch(`${gw.url}/admin/keys`, { headers: { authorization: `Bearer ${gw.adminKey}` } })).json()) as { data: Array<{ id: string }> };
    expect(keyList.data.find((k) => k.id === key.id)).toMatchObject({ userId: "u1", teamId: "t1", orgId: "o1" });
    const completion = await gw.client(key.key).chat.completions.create({ model: "oai/o4-mini", messages: [{ role: "user", content: "hi" }] });
    expect(completion.choices.length).toBe(1);
    expect(await lastRow()).toMatchObject({ keyId: key.id, userId: "u1", teamId: "t1" });

    const forbidden = await fetch(`${gw.url}/admin/keys`, { headers: { authorization: `Bearer ${key.key}` } });
    expect(forbidden.status).toBe(403);
    const listed = JSON.stringify(await gw.plane.listKeys());
    expect(listed).toContain(key.id);
    expect(listed).not.toContain(key.key);
    const stored = JSON.stringify(await gw.store.database.db.query.apiKeys.findMany());
    expect(stored).not.toContain(key.key);
  });

  it("never writes prompt or completion text to the ledger", async () => {
    const marker = `secret-prompt-${Math.random().toString(36).slice(2)}`;
    await gw.client().chat.completions.create({ model: "oai/o4-mini", messages: [{ role: "user", content: marker }] });
    const rows = JSON.stringify(await gw.plane.reports.recentCalls(1000));
    expect(rows).not.toContain(marker);
    expect(rows).not.toContain(chatFixture.choices[0].message.content);
  });

  it("ends a stream that breaks mid-way with an error, and bills what was generated", async () => {
    openai.push({ kind: "cut", afterChunks: 2 });
    const { data: stream, response } = await gw.client().chat.completions.create({ model: "chat_message", stream: true, messages: [{ role: "user", content: "hi" }] }).withResponse();
    let received = 0;
    const error = await (async () => {
      for await (const chunk of stream) received += chunk.choices.length;
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(received).toBe(2);
    const row = await lastRow();
    expect(row).toMatchObject({ outcome: "error", errorCode: "provider_error", model: "oai/o4-mini", usageEstimated: true, attemptCount: 1 });
    expect(Number(row.cost)).toBeGreaterThan(0);
    // The status line said 200 before the break; the access log says the call failed, and which model served it,
    // for the operation named as the model, as the ledger and the metrics say.
    const requestId = response.headers.get("x-request-id");
    await vi.waitFor(() => expect(logs.lines.find((line) => line.requestId === requestId)).toMatchObject({ msg: "request", status: 200, code: "provider_error", model: "oai/o4-mini", operation: "chat_message" }));
  });

  it("exports Prometheus metrics for requests, tokens, cost and errors", async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(/airlock_requests_total\{endpoint="chat",operation="none",model="oai\/o4-mini",outcome="success"\} \d+/);
    expect(text).toMatch(/airlock_tokens_total\{model="oai\/o4-mini",operation="none",type="reasoning"\} \d+/);
    expect(text).toMatch(/airlock_cost_usd_total\{model="oai\/o4-mini",operation="none"\} [\d.e-]+/);
    expect(text).toMatch(/airlock_errors_total\{code="not_found"\} 1/);
    expect(text).toContain("airlock_request_duration_seconds_bucket");
  });

  it("is healthy and ready while the store answers", async () => {
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${gw.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready", store: { kind, reachable: true } });
  });

  it("reports spend per key, exact to the decimal", async () => {
    const res = await fetch(`${gw.url}/admin/spend?by=model&since=1h`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
    const report = (await res.json()) as { total: string; lines: Array<{ group: string; cost: string; requests: number }> };
    const rows = await gw.plane.reports.recentCalls(1000);
    const o4 = rows.filter((r) => r.model === "oai/o4-mini");
    const line = report.lines.find((l) => l.group === "oai/o4-mini")!;
    expect(line.requests).toBe(o4.length);
    const expected = o4.reduce((sum, r) => sum.add(r.cost), new Money(0));
    expect(new Money(line.cost).equals(expected)).toBe(true);
    expect(report.total).toBe(formatCost(report.lines.reduce((sum, l) => sum.add(l.cost), new Money(0))));

    const csv = await fetch(`${gw.url}/admin/spend?by=model&since=1h&format=csv`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    const csvLines = (await csv.text()).trimEnd().split("\r\n");
    expect(csvLines[0]).toBe("model,requests,errors,input_tokens,output_tokens,cost_usd");
    const csvLine = csvLines.find((l) => l.startsWith("oai/o4-mini,"))!.split(",");
    expect(csvLine[1]).toBe(String(line.requests));
    expect(csvLine[5]).toBe(line.cost);
    expect(csvLines.at(-1)).toBe(`(total),,,,,${report.total}`);
  });
});
