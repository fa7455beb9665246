import OpenAI from "openai";
import { afterAll, beforeAll, vi } from "vitest";
import { ControlPlane } from "../../src/control-plane.js";
import { resolveConfig } from "../../src/config/load.js";
import type { Logger } from "../../src/core/logger.js";
import type { AirlockConfigInput } from "../../src/config/schema.js";
import { createGateway, type Gateway } from "../../src/gateway/server.js";
import type { LedgerRow } from "../../src/store/schema/index.js";
import { startFakeUpstream, type FakeFlavor, type FakeUpstream, type FakeUpstreamOptions } from "../fakes/upstream.js";
import { freshStore, type StoreKind, type TestStore } from "./stores.js";

export interface TestGateway {
  url: string;
  adminKey: string;
  plane: ControlPlane;
  store: TestStore;
  /** The HTTP gateway itself, for tests of how it closes. */
  gateway: Gateway;
  /** The official OpenAI SDK pointed at this gateway, with no retries so every call is one call. */
  client(key?: string): OpenAI;
  close(): Promise<void>;
}

/** A real gateway on a loopback port, over a fresh store of the given kind; `logger` to read what it logs. */
export async function startTestGateway(kind: StoreKind, config: AirlockConfigInput, options: { logger?: Logger } = {}): Promise<TestGateway> {
  const store = await freshStore(kind);
  const adminKey = `sk-test-admin-${Math.random().toString(36).slice(2)}`;
  const plane = await ControlPlane.create({ config: resolveConfig(config, "test"), database: store.database, adminKey, logger: options.logger });
  const gateway: Gateway = createGateway({ plane, logger: plane.logger });
  const { url } = await gateway.listen(0, "127.0.0.1");
  return {
    url,
    adminKey,
    plane,
    store,
    gateway,
    client: (key = adminKey) => new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0 }),
    close: async () => {
      await gateway.close(1_000);
      await plane.close();
      await store.cleanup();
    },
  };
}

/** One OpenAI-compatible provider, `oai` at `url`, with one priced model, `oai/gpt-4.1-mini`. */
export function oneOpenAiModel(url: string): AirlockConfigInput {
  return {
    providers: { oai: { type: "openai-compatible", baseUrl: url } },
    models: [{ id: "oai/gpt-4.1-mini", price: { input: "0.4", output: "1.6", per: "1M" } }],
  };
}

/**
 * One fake upstream and one gateway over it for a describe block: started before its tests, closed
 * after them. Read `upstream` and `gw` inside the tests.
 */
export function gatewayOverFake(
  kind: StoreKind,
  flavor: FakeFlavor,
  config: (upstreamUrl: string) => AirlockConfigInput,
  upstreamOptions: FakeUpstreamOptions = {},
  gatewayOptions: { logger?: Logger } = {},
): { readonly upstream: FakeUpstream; readonly gw: TestGateway } {
  let upstream: FakeUpstream | undefined;
  let gw: TestGateway | undefined;
  beforeAll(async () => {
    upstream = await startFakeUpstream(flavor, upstreamOptions);
    gw = await startTestGateway(kind, config(upstream.url), gatewayOptions);
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });
  return {
    get upstream() {
      if (!upstream) throw new Error("the fake upstream starts before the tests");
      return upstream;
    },
    get gw() {
      if (!gw) throw new Error("the gateway starts before the tests");
      return gw;
    },
  };
}

/** A request's ledger row, once the writer has stored it (rows are written in batches). */
export function recordedRow(gw: TestGateway, requestId: string | null): Promise<LedgerRow> {
  return vi.waitFor(
    async () => {
      const row = (await gw.plane.reports.recentCalls(20)).find((r) => r.requestId === requestId);
      if (!row) throw new Error(`no ledger row for ${requestId} yet`);
      return row;
    },
    { timeout: 5_000, interval: 50 },
  );
}

type Price = { input: string; output: string; per: "1M" };

/**
 * A gateway with one model on each flavor of fake upstream (OpenAI-compatible, Anthropic, Gemini), each
 * model's provider named by its id's prefix. For tests that run the same case through every adapter.
 */
export async function gatewayOnEveryFlavor(
  kind: StoreKind,
  models: Record<FakeFlavor, { id: string; price: Price }>,
): Promise<{ gw: TestGateway; fakes: Record<FakeFlavor, FakeUpstream>; close(): Promise<void> }> {
  const fakes = {} as Record<FakeFlavor, FakeUpstream>;
  [fakes.openai, fakes.anthropic, fakes.gemini] = await Promise.all([startFakeUpstream("openai"), startFakeUpstream("anthropic"), startFakeUpstream("gemini")]);
  const provider = (flavor: FakeFlavor) => models[flavor].id.slice(0, models[flavor].id.indexOf("/"));
  const gw = await startTestGateway(kind, {
    providers: {
      [provider("openai")]: { type: "openai-compatible", baseUrl: fakes.openai.url },
      [provider("anthropic")]: { type: "anthropic", baseUrl: fakes.anthropic.url, apiKey: "k" },
      [provider("gemini")]: { type: "gemini", baseUrl: fakes.gemini.url, apiKey: "k" },
    },
    models: Object.values(models),
  });
  return {
    gw,
    fakes,
    close: async () => {
      await gw.close();
      await Promise.all(Object.values(fakes).map((fake) => fake.close()));
    },
  };
}
