import { Writable } from "node:stream";
import OpenAI from "openai";
import { afterEach, beforeEach } from "vitest";
import { resolveConfig } from "../../src/config/load.js";
import type { AirlockConfigInput } from "../../src/config/schema.js";
import { ControlPlane } from "../../src/control-plane.js";
import { createLogger, type Logger } from "../../src/core/logger.js";
import { createGateway } from "../../src/gateway/server.js";
import { openDatabase, type Database } from "../../src/store/database.js";
import { startFakeUpstream, type FakeUpstream } from "../fakes/upstream.js";
import { freshStore, type StoreKind, type TestStore } from "./stores.js";

/**
 * Shared setup for the routes-as-data end-to-end tests (routes-admin, routes-policy, routes-sync and
 * fallback-report): gateway instances over a store they do not own, chat calls through the official
 * SDK, the admin API over raw HTTP, and a per-test suite of three providers, each with its own fake
 * upstream, so which upstream received a request says which model served it.
 */

export const BOOTSTRAP_ADMIN_ID = "key_bootstrap_admin";

/**
 * The kill switch for tests that send a thousand calls at once: such a burst on a busy two-core machine
 * can hold an instance's event loop past the switch's 900 ms confirmation window, and the switch then
 * fails closed (503), as designed and tested in kill-switch.e2e.test.ts. Here the window is wide, so
 * that only the guard under test decides.
 */
export const BURST_KILL_SWITCH = { pollIntervalMs: 450, staleAfterMs: 30_000 };

/** One gateway over a store it does not own: closing it leaves the store open for the next instance. */
export interface Instance {
  url: string;
  adminKey: string;
  plane: ControlPlane;
  client(key?: string): OpenAI;
  close(): Promise<void>;
}

interface Served {
  /** `x-airlock-model` */
  model: string | null;
  /** `x-airlock-attempts` */
  attempts: number;
  /** The body's `model` */
  bodyModel: string;
  requestId: string;
}

interface Refusal {
  status: number | undefined;
  code: unknown;
  message: string;
  requestId: string;
}

interface CallOptions {
  operation?: string;
  session?: string;
  key?: string;
}

interface ApiResult {
  status: number;
  body: any;
}

interface LogCapture {
  logger: Logger;
  lines: Array<Record<string, any>>;
  text(): string;
}

export function captureLogs(): LogCapture {
  const lines: Array<Record<string, any>> = [];
  let text = "";
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      const s = chunk.toString();
      text += s;
      for (const line of s.split("\n")) if (line.trim()) lines.push(JSON.parse(line) as Record<string, any>);
      done();
    },
  });
  return { logger: createLogger({ level: "info", destination }), lines, text: () => text };
}

let requestCounter = 0;
function newRequestId(): string {
  return `rt-${Date.now().toString(36)}-${++requestCounter}`;
}

async function startInstance(database: Database, config: AirlockConfigInput, adminKey: string, logger?: Logger): Promise<Instance> {
  const plane = await ControlPlane.create({ config: resolveConfig(config, "test"), database, adminKey, logger });
  const gateway = createGateway({ plane, logger: plane.logger });
  const { url } = await gateway.listen(0, "127.0.0.1");
  let closed: Promise<void> | undefined;
  return {
    url,
    adminKey,
    plane,
    client: (key = adminKey) => new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0 }),
    close: () =>
      (closed ??= (async () => {
        await gateway.close(1_000);
        await plane.close();
      })()),
  };
}

export async function api(inst: Pick<Instance, "url" | "adminKey">, method: string, path: string, body?: unknown, key: string | null = inst.adminKey): Promise<ApiResult> {
  const res = await fetch(inst.url + path, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

function chatHeaders(requestId: string, options: CallOptions): Record<string, string> {
  return {
    "x-request-id": requestId,
    ...(options.operation ? { "x-airlock-operation": options.operation } : {}),
    ...(options.session ? { "x-airlock-session": options.session } : {}),
  };
}

/**
 * A chat call over raw HTTP asking for at most 100 tokens, whatever its outcome: status, parsed body
 * and headers. `extra` overrides body fields (`model`, `max_tokens`…).
 */
export async function rawChat(inst: Pick<Instance, "url">, key: string, extra: Record<string, unknown> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${inst.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "p1/m1", max_tokens: 100, messages: [{ role: "user", content: "Explain budgets" }], ...extra }),
  });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** A chat call through the official SDK that must succeed; `model` undefined sends no model at all. */
export async function ask(inst: Instance, model: string | undefined, options: CallOptions = {}): Promise<Served> {
  const requestId = newRequestId();
  const { data, response } = await inst
    .client(options.key)
    .chat.completions.create({ model: model as string, messages: [{ role: "user", content: "hello from the routes test" }] }, { headers: chatHeaders(requestId, options) })
    .withResponse();
  return { model: response.headers.get("x-airlock-model"), attempts: Number(response.headers.get("x-airlock-attempts")), bodyModel: data.model, requestId };
}

/** A chat call that must fail: its status, code and message as the SDK saw them. */
export async function refusal(inst: Instance, model: string | undefined, options: CallOptions = {}): Promise<Refusal> {
  const requestId = newRequestId();
  try {
    await inst
      .client(options.key)
      .chat.completions.create({ model: model as string, messages: [{ role: "user", content: "hello from the routes test" }] }, { headers: chatHeaders(requestId, options) });
  } catch (err) {
    if (!(err instanceof OpenAI.APIError)) throw err;
    return { status: err.status, code: err.code, message: err.message, requestId };
  }
  throw new Error(`expected the call to ${model ?? options.operation ?? "(no model)"} to fail, and it succeeded`);
}

export async function rowOf(inst: Instance, requestId: string) {
  const rows = await inst.plane.reports.recentCalls(200);
  const row = rows.find((r) => r.requestId === requestId);
  if (!row) throw new Error(`no ledger row for request ${requestId}`);
  return row;
}

/** The per-test setup of one `describe.each(STORE_KINDS)` block; register it once, at the top of the block. */
export interface RoutesSuite {
  /** Run after each test, last registered first. */
  cleanups: Array<() => Promise<void>>;
  /** Three providers, each with its own fake upstream and one model: p1/m1, p2/m2, p3/m3. */
  config(extra?: Partial<AirlockConfigInput>): AirlockConfigInput;
  /** A fresh store of the block's kind, closed after the test. */
  store(): Promise<TestStore>;
  /** A gateway over `database`, closed after the test. */
  instance(database: Database, cfg: AirlockConfigInput, adminKey?: string, logger?: Logger): Promise<Instance>;
  /** A gateway over a fresh store, both closed after the test. */
  gateway(cfg: AirlockConfigInput, logger?: Logger): Promise<Instance>;
  /**
   * Two gateways on one fresh store with one admin key, as two processes would share it: on PostgreSQL
   * the second has a connection pool of its own and hears of changes through LISTEN/NOTIFY; the
   * embedded store allows one process, so there both share it in this one. `databaseB` serves more
   * instances like the second.
   */
  pair(cfg: AirlockConfigInput): Promise<{ a: Instance; b: Instance; databaseB: Database; adminKey: string }>;
  /** How many requests each fake upstream has received: [p1, p2, p3]. */
  sent(): number[];
}

/**
 * Registers the block's hooks: before each test, three fresh fake upstreams (handed to `onUpstreams`,
 * so the tests can script them); after each test, the cleanups, last registered first, then the upstreams.
 */
export function routesSuite(kind: StoreKind, onUpstreams?: (upstreams: [FakeUpstream, FakeUpstream, FakeUpstream]) => void): RoutesSuite {
  let u1: FakeUpstream;
  let u2: FakeUpstream;
  let u3: FakeUpstream;
  const cleanups: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    [u1, u2, u3] = await Promise.all([startFakeUpstream("openai"), startFakeUpstream("openai"), startFakeUpstream("openai")]);
    onUpstreams?.([u1, u2, u3]);
  });

  afterEach(async () => {
    const pending = cleanups.splice(0).reverse();
    for (const cleanup of pending) await cleanup().catch(() => undefined);
    await Promise.all([u1?.close(), u2?.close(), u3?.close()]);
  });

  /** Three providers, each with its own fake upstream and one model: p1/m1, p2/m2, p3/m3. */
  function config(extra: Partial<AirlockConfigInput> = {}): AirlockConfigInput {
    return {
      retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 2 },
      // Breakers must not skip a target in these tests: every failure here is deliberate and counted.
      breaker: { failureThreshold: 1_000, minRequests: 1_000 },
      providers: {
        p1: { type: "openai-compatible", baseUrl: u1.url, apiKey: "sk-upstream-1" },
        p2: { type: "openai-compatible", baseUrl: u2.url, apiKey: "sk-upstream-2" },
        p3: { type: "openai-compatible", baseUrl: u3.url, apiKey: "sk-upstream-3" },
      },
      models: [
        { id: "p1/m1", price: { input: "1", output: "2", per: "1M" } },
        { id: "p2/m2", price: { input: "1", output: "2", per: "1M" } },
        { id: "p3/m3", price: { input: "1", output: "2", per: "1M" } },
      ],
      ...extra,
    };
  }

  async function store(): Promise<TestStore> {
    const made = await freshStore(kind);
    cleanups.push(() => made.cleanup());
    return made;
  }

  async function instance(database: Database, cfg: AirlockConfigInput, adminKey = `sk-test-admin-${Math.random().toString(36).slice(2)}`, logger?: Logger): Promise<Instance> {
    const inst = await startInstance(database, cfg, adminKey, logger);
    cleanups.push(() => inst.close());
    return inst;
  }

  async function gateway(cfg: AirlockConfigInput, logger?: Logger): Promise<Instance> {
    const s = await store();
    return instance(s.database, cfg, undefined, logger);
  }

  async function pair(cfg: AirlockConfigInput): Promise<{ a: Instance; b: Instance; databaseB: Database; adminKey: string }> {
    const shared = await store();
    const adminKey = `sk-test-admin-${Math.random().toString(36).slice(2)}`;
    const a = await instance(shared.database, cfg, adminKey);
    const databaseB = shared.url ? await openDatabase({ url: shared.url, maxConnections: 4 }) : shared.database;
    if (databaseB !== shared.database) cleanups.push(() => databaseB.close());
    const b = await instance(databaseB, cfg, adminKey);
    return { a, b, databaseB, adminKey };
  }

  const sent = () => [u1.requests.length, u2.requests.length, u3.requests.length];

  return { cleanups, config, store, instance, gateway, pair, sent };
}
