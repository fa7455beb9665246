import { expect } from "vitest";
import type { AirlockConfigInput } from "../../src/config/schema.js";
import type { LedgerAttempt, LedgerRow } from "../../src/store/schema/ledger.js";
import { startFakeUpstream, type FakeUpstream } from "../fakes/upstream.js";
import type { TestGateway } from "./gateway.js";

/**
 * Shared setup for the resilience end-to-end tests (resilience.e2e and breaker.e2e): pairs of fake
 * upstreams behind one operation each, the config that routes them, and the call and ledger helpers
 * both files use.
 */

export const MESSAGES = [{ role: "user" as const, content: "What is the capital of France?" }];

/** One scenario's route: an operation whose primary (OpenAI-style) falls back to an Anthropic model. */
export interface Pair {
  operation: string;
  primaryModel: string;
  backupModel: string;
  primary: FakeUpstream;
  backup: FakeUpstream;
  /** `Date.now()` at which each request reached the primary fake, in order. */
  primaryArrivals: number[];
}

type OperationInput = NonNullable<AirlockConfigInput["operations"]>[string];

/** Records when each request reached a fake, by wrapping its `requests` array (the fake pushes on arrival). */
function trackArrivals(fake: FakeUpstream): number[] {
  const arrivals: number[] = [];
  const push = fake.requests.push.bind(fake.requests);
  fake.requests.push = (...items) => {
    for (let i = 0; i < items.length; i++) arrivals.push(Date.now());
    return push(...items);
  };
  return arrivals;
}

export async function startPair(name: string): Promise<Pair> {
  const primary = await startFakeUpstream("openai");
  const backup = await startFakeUpstream("anthropic");
  return {
    operation: name,
    primaryModel: `${name}-primary/gpt-4o-mini`,
    backupModel: `${name}-backup/claude-sonnet-4-5`,
    primary,
    backup,
    primaryArrivals: trackArrivals(primary),
  };
}

/** Providers, models and the operation for each pair; `extra` adds per-operation settings. */
export function routingConfig(pairs: Pair[], extra: Record<string, Partial<OperationInput>> = {}): Pick<AirlockConfigInput, "providers" | "models" | "operations"> {
  return {
    providers: Object.fromEntries(
      pairs.flatMap((p) => [
        [`${p.operation}-primary`, { type: "openai-compatible" as const, baseUrl: p.primary.url, apiKey: "sk-primary" }],
        [`${p.operation}-backup`, { type: "anthropic" as const, baseUrl: p.backup.url, apiKey: "sk-ant-backup" }],
      ]),
    ),
    models: pairs.flatMap((p) => [
      { id: p.primaryModel, price: { input: "0.15", output: "0.60", per: "1M" as const } },
      { id: p.backupModel, price: { input: "3", output: "15", per: "1M" as const } },
    ]),
    operations: Object.fromEntries(pairs.map((p) => [p.operation, { model: p.primaryModel, fallbacks: [p.backupModel], ...extra[p.operation] }])),
  };
}

export async function closePairs(pairs: Iterable<Pair>): Promise<void> {
  for (const p of pairs) {
    await p.primary.close();
    await p.backup.close();
  }
}

export const attemptSummary = (a: LedgerAttempt) => [a.model, a.outcome, a.status ?? null, a.reason ?? null];

export async function lastRow(gw: TestGateway): Promise<LedgerRow> {
  const [row] = await gw.plane.reports.recentCalls(1);
  if (!row) throw new Error("no ledger row");
  return row;
}

export function ask(gw: TestGateway, operation: string) {
  return gw.client().chat.completions.create({ model: operation, messages: MESSAGES }).withResponse();
}

export function breakerOf(gw: TestGateway, model: string) {
  return gw.plane.breakerStates().find((b) => b.target === model);
}

/**
 * After a primary's one 429 the backup answered with no wait between: one request each, and the
 * ledger's attempts say so (the primary's refusal, then the backup's success, neither delayed).
 */
export async function expectFellBackAtOnce(gw: TestGateway, pair: Pair): Promise<LedgerRow> {
  expect(pair.primary.requests.length).toBe(1);
  expect(pair.backup.requests.length).toBe(1);
  const row = await lastRow(gw);
  expect(row.attempts.map((a) => [...attemptSummary(a), a.delayMs])).toEqual([
    [pair.primaryModel, "error", 429, "rate_limited", 0],
    [pair.backupModel, "success", null, null, 0],
  ]);
  return row;
}
