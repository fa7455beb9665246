import { afterAll, beforeAll } from "vitest";
import type { AirlockConfigInput } from "../../src/config/schema.js";
import { startFakeUpstream, type FakeUpstream } from "../fakes/upstream.js";
import { startTestGateway, type TestGateway } from "./gateway.js";
import type { StoreKind } from "./stores.js";

/**
 * Shared setup for the structured output and prompt template end-to-end tests (structured.e2e and
 * templates.e2e): one gateway per store kind over fake OpenAI and Anthropic upstreams, with the
 * operations both files call, and the raw-HTTP and ledger helpers they use.
 */

export const PROFILE_DSL = "{name: string, tags: string[], score?: number}";

export interface ErrorBody {
  error: { message: string; type: string; code: string; param: string | null; raw?: unknown; issues?: Array<Record<string, unknown>> };
}

/** What the suite started, handed to the test file once it is up. */
export interface StructuredStarted {
  openai: FakeUpstream;
  anthropic: FakeUpstream;
  gw: TestGateway;
}

/**
 * Registers the block's hooks: before all its tests, the fakes and a gateway over a fresh store of
 * `kind` (handed to `onStarted`); after them, all three closed.
 */
export function structuredSuite(kind: StoreKind, onStarted: (started: StructuredStarted) => void) {
  let openai: FakeUpstream;
  let anthropic: FakeUpstream;
  let gw: TestGateway;
  let seq = 0;
  const rid = () => `structured-${kind}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    openai = await startFakeUpstream("openai");
    anthropic = await startFakeUpstream("anthropic");
    const config: AirlockConfigInput = {
      retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 5 },
      providers: {
        oai: { type: "openai-compatible", baseUrl: openai.url, apiKey: "sk-upstream-secret" },
        anth: { type: "anthropic", baseUrl: anthropic.url, apiKey: "sk-ant-upstream" },
      },
      models: [
        { id: "oai/o4-mini", price: { input: "1.10", output: "4.40", cachedInput: "0.275", per: "1M" } },
        { id: "anth/claude-sonnet-4-5", price: { input: "3", output: "15", cachedInput: "0.30", cacheWrite: "3.75", per: "1M" } },
      ],
      operations: {
        profile: { model: "oai/o4-mini", outputSchema: PROFILE_DSL },
        profile_anth: { model: "anth/claude-sonnet-4-5", outputSchema: PROFILE_DSL },
        profile_strict: { model: "oai/o4-mini", outputSchema: PROFILE_DSL, repair: false },
        profile_fallback: { model: "oai/o4-mini", fallbacks: ["anth/claude-sonnet-4-5"], outputSchema: PROFILE_DSL },
        email_summary: { model: "oai/o4-mini", prompt: { system: "You help {{user.name}}.", user: "Summarise: {{email.body}}" } },
        system_only: { model: "oai/o4-mini", prompt: { system: "You help {{user.name}}." } },
        plain: { model: "oai/o4-mini" },
        capped: { model: "oai/o4-mini", maxTokens: 100, temperature: 0.2 },
        capped_anth: { model: "anth/claude-sonnet-4-5", maxTokens: 100 },
      },
    };
    gw = await startTestGateway(kind, config);
    onStarted({ openai, anthropic, gw });
  });

  afterAll(async () => {
    await gw?.close();
    await openai?.close();
    await anthropic?.close();
  });

  /** The ledger row of one request, found by the request id the test chose. */
  async function rowFor(requestId: string) {
    const row = (await gw.plane.reports.recentCalls(200)).find((r) => r.requestId === requestId);
    if (!row) throw new Error(`no ledger row for ${requestId}`);
    return row;
  }

  /** A raw POST to /v1/chat/completions, for bodies and error shapes the SDK would hide. */
  async function post(body: unknown, requestId = rid()): Promise<{ status: number; json: any; text: string; requestId: string; headers: Headers }> {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json", "x-request-id": requestId },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text, requestId, headers: res.headers };
  }

  const upstreamCount = () => openai.requests.length + anthropic.requests.length;

  return { rid, rowFor, post, upstreamCount };
}
