import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { startTestGateway, type TestGateway } from "./support/gateway.js";

/** Every sample of a metric, by its label text. */
function samples(text: string, name: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`).exec(line);
    if (match) found.set(match[1]!, Number(match[2]));
  }
  return found;
}

/**
 * What an SRE reconciles: after a mixed load (JSON and streamed calls, a fallback, upstream errors, a
 * stream cut mid-way, refusals by the guards and by the request's shape), the request, token and spend
 * counters say what the ledger says, series by series, and a client's headers add no series.
 */
describe("metrics against the ledger", () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  beforeAll(async () => {
    upstream = await startFakeUpstream("openai");
    gw = await startTestGateway("pglite", {
      providers: { oai: { type: "openai-compatible", baseUrl: upstream.url }, dead: { type: "openai-compatible", baseUrl: "http://127.0.0.1:1/v1" } },
      models: [
        { id: "oai/gpt-4.1-mini", price: { input: "0.4", output: "1.6", per: "1M" } },
        { id: "oai/gpt-4.1", price: { input: "2", output: "8", per: "1M" } },
        { id: "dead/x", price: { input: "2", output: "8", per: "1M" } },
      ],
      operations: { chat_message: { model: "dead/x", fallbacks: ["oai/gpt-4.1"] }, limited: { model: "oai/gpt-4.1-mini" }, capped: { model: "oai/gpt-4.1" } },
      rateLimits: [{ name: "lim", scope: "operation", target: "limited", requestsPerMinute: 1 }],
      budgets: [{ name: "cap", scope: "operation", target: "capped", limit: "0.0000001" }],
      retry: { maxAttempts: 1 },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it("agrees with the ledger, series by series, after a mixed load", async () => {
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }).then(async (res) => (await res.text(), res.status));
    const messages = [{ role: "user", content: "hi" }];
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push(await post({ model: "oai/gpt-4.1-mini", messages }));
    statuses.push(await post({ model: "oai/gpt-4.1-mini", messages, stream: true, stream_options: { include_usage: true } }));
    statuses.push(await post({ model: "chat_message", messages })); // falls back to oai/gpt-4.1
    upstream.push({ kind: "error", status: 500 });
    statuses.push(await post({ model: "oai/gpt-4.1-mini", messages }));
    upstream.push({ kind: "error", status: 400 });
    statuses.push(await post({ model: "oai/gpt-4.1-mini", messages }));
    upstream.push({ kind: "cut", afterChunks: 2 });
    statuses.push(await post({ model: "oai/gpt-4.1-mini", messages, stream: true }));
    statuses.push(await post({ model: "limited", messages }), await post({ model: "limited", messages }));
    statuses.push(await post({ model: "capped", messages }));
    // Names a client makes up: refused, and never a label.
    for (let i = 0; i < 3; i++) statuses.push(await post({ model: `made-up-${i}`, messages }, { "x-airlock-operation": `op-${i}` }));
    statuses.push(await post("{not json"));
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 502, 400, 200, 200, 429, 429, 404, 404, 404, 400]);

    const rows = await gw.plane.reports.recentCalls(100);
    expect(rows).toHaveLength(statuses.length);
    const text = await (await fetch(`${gw.url}/metrics`)).text();

    const requests = new Map<string, number>();
    const tokens = new Map<string, number>();
    const spend = new Map<string, bigint>();
    const pico = (cost: string) => BigInt(cost.replace(".", "").replace(/^0+(?=\d)/, "")) * 10n ** BigInt(12 - (cost.split(".")[1]?.length ?? 0));
    const add = <V extends number | bigint>(m: Map<string, V>, key: string, v: V) => m.set(key, ((m.get(key) ?? (typeof v === "bigint" ? 0n : 0)) as any) + (v as any));
    for (const row of rows) {
      const operation = row.operation && ["chat_message", "limited", "capped"].includes(row.operation) ? row.operation : "none";
      const model = row.model ?? "none";
      add(requests, `endpoint="${row.endpoint}",operation="${operation}",model="${model}",outcome="${row.outcome}"`, 1);
      if (row.model) {
        add(tokens, `model="${model}",operation="${operation}",type="input"`, row.inputTokens);
        add(tokens, `model="${model}",operation="${operation}",type="output"`, row.outputTokens);
        add(spend, `model="${model}",operation="${operation}"`, pico(String(row.cost)));
      }
    }
    expect(samples(text, "airlock_requests_total")).toEqual(requests);
    const inputOutput = new Map([...samples(text, "airlock_tokens_total")].filter(([labels]) => /type="(input|output)"/.test(labels)));
    expect(inputOutput).toEqual(tokens);
    // The ledger's exact total, as the nearest float: the counter holds no drift of its own.
    const exact = new Map([...spend].map(([labels, units]) => [labels, Number(`${units / 10n ** 12n}.${(units % 10n ** 12n).toString().padStart(12, "0")}`)]));
    expect(samples(text, "airlock_cost_usd_total")).toEqual(exact);

    const errors = new Map<string, number>();
    for (const row of rows) if (row.errorCode) add(errors, `code="${row.errorCode}"`, 1);
    expect(samples(text, "airlock_errors_total")).toEqual(errors);
    expect(text).not.toMatch(/op-\d|made-up-\d/);
  });
});
