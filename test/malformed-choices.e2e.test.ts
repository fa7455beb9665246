import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeUpstream, type FakeScenario, type FakeUpstream } from "./fakes/upstream.js";
import { recordedRow, startTestGateway, type TestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * An upstream that answers 200 with chat entries of no usable shape has broken its protocol, as one
 * that answers with a body that is not JSON: the call fails with provider_error (502), the attempt is
 * a failed one, and the ledger row says what the client got. Never a 500 `misconfigured`.
 */
const MESSAGES = [{ role: "user" as const, content: "What is the capital of France?" }];

const MALFORMED: Array<[string, unknown]> = [
  ["a null choice", [null]],
  ["a choice whose message is null", [{ index: 0, message: null, finish_reason: "stop" }]],
  ["a null tool call", [{ index: 0, message: { role: "assistant", content: null, tool_calls: [null] }, finish_reason: "tool_calls" }]],
  ["a tool call whose function is null", [{ index: 0, message: { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: null }] }, finish_reason: "tool_calls" }]],
];

interface Answer {
  status: number;
  code: string;
  attempts: Array<{ model: string; error: string }>;
  row: { outcome: string; errorCode: string | null; httpStatus: number | null; attempts: Array<{ model: string; reason?: string }> };
}

describe.each(STORE_KINDS)("malformed chat entries from the upstream on %s", (kind) => {
  let gw: TestGateway;
  let primary: FakeUpstream;
  let fallback: FakeUpstream;

  beforeAll(async () => {
    [primary, fallback] = await Promise.all([startFakeUpstream("openai"), startFakeUpstream("openai")]);
    gw = await startTestGateway(kind, {
      providers: { first: { type: "openai-compatible", baseUrl: primary.url }, second: { type: "openai-compatible", baseUrl: fallback.url } },
      models: [
        { id: "first/gpt-4.1-mini", price: { input: "0.4", output: "1.6", per: "1M" } },
        { id: "second/gpt-4.1-mini", price: { input: "0.4", output: "1.6", per: "1M" } },
      ],
      operations: { answer: { model: "first/gpt-4.1-mini", fallbacks: ["second/gpt-4.1-mini"] } },
      // Every test fails the first target on purpose: its breaker must not open and have it skipped.
      breaker: { failureThreshold: 1_000, minRequests: 1_000 },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await Promise.all([primary?.close(), fallback?.close()]);
  });

  async function ask(scenario: FakeScenario): Promise<Answer> {
    primary.push(scenario);
    const requestId = `malformed-${Math.random().toString(36).slice(2)}`;
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json", "x-request-id": requestId },
      body: JSON.stringify({ model: "answer", messages: MESSAGES }),
    });
    const body = (await res.json()) as { error?: { code: string; attempts: Answer["attempts"] } };
    const row = await recordedRow(gw, requestId);
    return { status: res.status, code: body.error?.code ?? "none", attempts: body.error?.attempts ?? [], row };
  }

  for (const [what, choices] of MALFORMED) {
    for (const usage of ["without usage", "with usage"] as const) {
      it(`${what}, ${usage}: provider_error (502), handled as a 200 that is not JSON, and the row says so`, async () => {
        const notJson = await ask({ kind: "error", status: 200, body: "<html><body>upstream proxy</body></html>" });
        const scenario: FakeScenario = usage === "without usage" ? { kind: "ok", choices, usage: undefined } : { kind: "ok", choices };
        const malformed = await ask(scenario);
        expect(malformed).toMatchObject({ status: 502, code: "provider_error" });
        expect(malformed.attempts.map((a) => [a.model, a.error])).toEqual(notJson.attempts.map((a) => [a.model, a.error]));
        expect(malformed.attempts[0]).toMatchObject({ model: "first/gpt-4.1-mini", error: "protocol" });
        expect(malformed.row).toMatchObject({ outcome: "error", errorCode: "provider_error", httpStatus: 502 });
        expect(malformed.row.attempts.map((a) => [a.model, a.reason])).toEqual(malformed.attempts.map((a) => [a.model, a.error]));
      });
    }
  }
});
