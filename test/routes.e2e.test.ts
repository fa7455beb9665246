import { Writable } from "node:stream";
import OpenAI from "openai";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, resolveConfig } from "../src/config/load.js";
import type { AirlockConfigInput } from "../src/config/schema.js";
import { ControlPlane } from "../src/control-plane.js";
import { createLogger, type Logger } from "../src/core/logger.js";
import { createGateway } from "../src/gateway/server.js";
import { openDatabase, type Database } from "../src/store/database.js";
import { allRoutes } from "../src/store/queries/routes.js";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { isolatedEnv, removeTempDirs, runCli, workspace } from "./support/process.js";
import { freshStore, STORE_KINDS, type TestStore } from "./support/stores.js";

/**
 * Routes as data, end to end: the admin routes API over real HTTP, routes in a real store (PGlite and
 * PostgreSQL), seeding from the config across restarts, org policy, session pins, the fallback report
 * (admin API and CLI), and a change made on one instance reaching another through LISTEN/NOTIFY.
 * Each provider has its own fake upstream, so which upstream received a request says which model served it.
 */

const BOOTSTRAP_ADMIN_ID = "key_bootstrap_admin";

/** One gateway over a store it does not own: closing it leaves the store open for the next instance. */
interface Instance {
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

function captureLogs(): LogCapture {
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

async function api(inst: Pick<Instance, "url" | "adminKey">, method: string, path: string, body?: unknown, key: string | null = inst.adminKey): Promise<ApiResult> {
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

/** A chat call through the official SDK that must succeed; `model` undefined sends no model at all. */
async function ask(inst: Instance, model: string | undefined, options: CallOptions = {}): Promise<Served> {
  const requestId = newRequestId();
  const { data, response } = await inst
    .client(options.key)
    .chat.completions.create({ model: model as string, messages: [{ role: "user", content: "hello from the routes test" }] }, { headers: chatHeaders(requestId, options) })
    .withResponse();
  return { model: response.headers.get("x-airlock-model"), attempts: Number(response.headers.get("x-airlock-attempts")), bodyModel: data.model, requestId };
}

/** A chat call that must fail: its status, code and message as the SDK saw them. */
async function refusal(inst: Instance, model: string | undefined, options: CallOptions = {}): Promise<Refusal> {
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

async function rowOf(inst: Instance, requestId: string) {
  const rows = await inst.plane.recentCalls(200);
  const row = rows.find((r) => r.requestId === requestId);
  if (!row) throw new Error(`no ledger row for request ${requestId}`);
  return row;
}

/** Polls `probe` until it returns true; resolves with the milliseconds it took from `since`. */
async function msUntil(probe: () => Promise<boolean>, since: number, giveUpMs = 5_000): Promise<number> {
  for (;;) {
    if (await probe()) return performance.now() - since;
    if (performance.now() - since > giveUpMs) throw new Error(`the change did not show within ${giveUpMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.each(STORE_KINDS)("routes on %s", (kind) => {
  let u1: FakeUpstream;
  let u2: FakeUpstream;
  let u3: FakeUpstream;
  /** Run after each test, last registered first. */
  let cleanups: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    [u1, u2, u3] = await Promise.all([startFakeUpstream("openai"), startFakeUpstream("openai"), startFakeUpstream("openai")]);
  });

  afterEach(async () => {
    const pending = cleanups.reverse();
    cleanups = [];
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

  const sent = () => [u1.requests.length, u2.requests.length, u3.requests.length];

  it("admin routes API: lists config routes, creates, disables and re-enables at once, swaps the primary, deletes and restores; admin keys only", async () => {
    const gw = await gateway(
      config({
        tiers: { mid: "p2/m2", cheap: "p3/m3" },
        operations: {
          base_op: { model: "mid", fallbacks: ["cheap"] },
          top_op: { model: "p1/m1", fallbacks: ["base_op"] },
          summarize: { model: "p1/m1" },
        },
      }),
    );

    // The config's routes, seeded into the store, with tiers and nested operations expanded.
    const listed = await api(gw, "GET", "/admin/routes");
    expect(listed.status).toBe(200);
    const byName = new Map<string, any>(listed.body.data.map((r: any) => [r.name, r]));
    expect([...byName.keys()].sort()).toEqual(["base_op", "summarize", "top_op"]);
    expect(byName.get("top_op")).toMatchObject({
      name: "top_op",
      source: "config",
      updatedBy: null,
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      definition: { model: "p1/m1", fallbacks: ["base_op"], enabled: true },
      candidates: ["p1/m1", "p2/m2", "p3/m3"],
    });
    expect(byName.get("base_op")).toMatchObject({ source: "config", definition: { model: "mid", fallbacks: ["cheap"] }, candidates: ["p2/m2", "p3/m3"] });
    expect(byName.get("summarize")).toMatchObject({ source: "config", candidates: ["p1/m1"] });
    for (const route of byName.values()) expect(route).not.toHaveProperty("problem");

    // A second admin key, so that "who changed it" is visibly that key.
    const opsKey = await api(gw, "POST", "/admin/keys", { name: "route-admin", kind: "admin" });
    expect(opsKey.status).toBe(201);
    const opsAdmin = { url: gw.url, adminKey: opsKey.body.key as string };

    // PUT creates: 201, source admin, updatedBy the key that made it.
    const created = await api(opsAdmin, "PUT", "/admin/routes/new_op", { model: "p3/m3", fallbacks: ["summarize"] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: "new_op",
      source: "admin",
      updatedBy: opsKey.body.id,
      definition: { model: "p3/m3", fallbacks: ["summarize"], enabled: true },
      candidates: ["p3/m3", "p1/m1"],
    });
    expect((await api(gw, "GET", "/admin/routes/new_op")).body).toMatchObject({ name: "new_op", source: "admin", updatedBy: opsKey.body.id });
    let before = sent();
    expect((await ask(gw, "new_op")).model).toBe("p3/m3");
    expect(sent()).toEqual([before[0], before[1], before[2]! + 1]);

    // PATCH enabled:false takes effect on the very next call, with no restart.
    const disabled = await api(gw, "PATCH", "/admin/routes/new_op", { enabled: false });
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ source: "admin", definition: { model: "p3/m3", fallbacks: ["summarize"], enabled: false } });
    before = sent();
    const refused = await refusal(gw, "new_op");
    expect(refused).toMatchObject({ status: 503, code: "disabled" });
    expect(refused.message).toContain("new_op");
    expect(await refusal(gw, undefined, { operation: "new_op" })).toMatchObject({ status: 503, code: "disabled" });
    expect(sent()).toEqual(before);
    const refusedRow = await rowOf(gw, refused.requestId);
    expect(refusedRow).toMatchObject({ outcome: "refused", errorCode: "disabled", httpStatus: 503, requestedModel: "new_op" });
    // docs/ledger-and-costs.md: `operation` is "the operation, if there was one (also recorded on refusals)".
    expect(refusedRow.operation, "ledger row of a refused call to an operation named in `model`").toBe("new_op");

    // And back.
    const enabled = await api(gw, "PATCH", "/admin/routes/new_op", { enabled: true });
    expect(enabled.status).toBe(200);
    expect(enabled.body.definition.enabled).toBe(true);
    expect((await ask(gw, "new_op")).model).toBe("p3/m3");

    // PUT over a config route: the new primary receives the next call; routes that nest it follow.
    before = sent();
    expect((await ask(gw, "summarize")).model).toBe("p1/m1");
    expect(sent()).toEqual([before[0]! + 1, before[1], before[2]]);
    const replaced = await api(opsAdmin, "PUT", "/admin/routes/summarize", { model: "p2/m2" });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ name: "summarize", source: "admin", updatedBy: opsKey.body.id, definition: { model: "p2/m2", fallbacks: [] }, candidates: ["p2/m2"] });
    before = sent();
    const afterSwap = await ask(gw, "summarize");
    expect(afterSwap).toMatchObject({ model: "p2/m2", bodyModel: "p2/m2", attempts: 1 });
    expect(sent()).toEqual([before[0], before[1]! + 1, before[2]]);
    expect(u2.requests.at(-1)!.body.model).toBe("m2");
    expect((await api(gw, "GET", "/admin/routes/new_op")).body.candidates).toEqual(["p3/m3", "p2/m2"]);

    // DELETE of an admin version over a config route: the config's version comes back.
    const restored = await api(gw, "DELETE", "/admin/routes/summarize");
    expect(restored.status).toBe(200);
    expect(restored.body).toMatchObject({ deleted: false, restored: { name: "summarize", source: "config", updatedBy: null, definition: { model: "p1/m1" }, candidates: ["p1/m1"] } });
    expect((await api(gw, "GET", "/admin/routes/summarize")).body).toMatchObject({ source: "config", updatedBy: null, definition: { model: "p1/m1" } });
    before = sent();
    expect((await ask(gw, "summarize")).model).toBe("p1/m1");
    expect(sent()).toEqual([before[0]! + 1, before[1], before[2]]);

    // DELETE of an admin-only route: it goes, and its calls are not_found.
    const deleted = await api(gw, "DELETE", "/admin/routes/new_op");
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ deleted: true, name: "new_op" });
    expect(await refusal(gw, "new_op")).toMatchObject({ status: 404, code: "not_found" });
    expect(await refusal(gw, "p1/m1", { operation: "new_op" })).toMatchObject({ status: 404, code: "not_found" });
    const gone = await api(gw, "GET", "/admin/routes/new_op");
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe("not_found");
    expect((await api(gw, "DELETE", "/admin/routes/new_op")).status).toBe(404);
    expect((await api(gw, "PATCH", "/admin/routes/new_op", { enabled: false })).status).toBe(404);

    // A key that is not an admin key may call models, never read or change routes.
    const userKey = await api(gw, "POST", "/admin/keys", { name: "app", kind: "service" });
    expect(userKey.status).toBe(201);
    const user = userKey.body.key as string;
    const attempts: Array<[string, string, unknown]> = [
      ["GET", "/admin/routes", undefined],
      ["GET", "/admin/routes/summarize", undefined],
      ["PUT", "/admin/routes/summarize", { model: "p3/m3" }],
      ["PUT", "/admin/routes/sneaky", { model: "p3/m3" }],
      ["PATCH", "/admin/routes/summarize", { enabled: false }],
      ["DELETE", "/admin/routes/top_op", undefined],
      ["GET", "/admin/reports/fallbacks?since=1h", undefined],
    ];
    for (const [method, path, body] of attempts) {
      const res = await api(gw, method, path, body, user);
      expect({ method, path, status: res.status, code: res.body?.error?.code }).toEqual({ method, path, status: 403, code: "forbidden" });
    }
    expect((await api(gw, "GET", "/admin/routes", undefined, null)).status).toBe(401);
    expect((await ask(gw, "summarize", { key: user })).model).toBe("p1/m1");
    const after = await api(gw, "GET", "/admin/routes");
    expect(after.body.data.map((r: any) => [r.name, r.source, r.definition.enabled])).toEqual([
      ["base_op", "config", true],
      ["summarize", "config", true],
      ["top_op", "config", true],
    ]);
  });

  it("validation on save: cycles, unknown models and deleting a route others fall back to are refused, and nothing is written", async () => {
    const gw = await gateway(
      config({
        operations: {
          alpha: { model: "p1/m1", fallbacks: ["beta"] },
          beta: { model: "p2/m2" },
        },
      }),
    );
    const storedBeta = async () => (await allRoutes(gw.plane.database.db)).find((r) => r.name === "beta");
    const betaBefore = await api(gw, "GET", "/admin/routes/beta");
    expect(betaBefore.body).toMatchObject({ source: "config", definition: { model: "p2/m2", fallbacks: [] } });

    // alpha → beta → alpha, through the whole-definition PUT and through PATCH.
    const cycle = await api(gw, "PUT", "/admin/routes/beta", { model: "p2/m2", fallbacks: ["alpha"] });
    expect(cycle.status).toBe(400);
    expect(cycle.body.error.code).toBe("invalid_request");
    expect(cycle.body.error.message).toContain("cycle");
    expect(cycle.body.error.message).toMatch(/alpha → beta → alpha|beta → alpha → beta/);
    const patchedCycle = await api(gw, "PATCH", "/admin/routes/beta", { fallbacks: ["alpha"] });
    expect(patchedCycle.status).toBe(400);
    expect(patchedCycle.body.error).toMatchObject({ code: "invalid_request", message: expect.stringContaining("cycle") });
    const selfCycle = await api(gw, "PATCH", "/admin/routes/beta", { fallbacks: ["beta"] });
    expect(selfCycle.status).toBe(400);
    expect(selfCycle.body.error).toMatchObject({ code: "invalid_request", message: expect.stringContaining("cycle") });
    // A new route that closes a loop is refused the same way.
    const newCycle = await api(gw, "PUT", "/admin/routes/gamma", { model: "alpha" });
    expect(newCycle.status).toBe(201);
    const loop = await api(gw, "PATCH", "/admin/routes/alpha", { fallbacks: ["gamma"] });
    expect(loop.status).toBe(400);
    expect(loop.body.error.message).toMatch(/cycle: (alpha → gamma → alpha|gamma → alpha → gamma)/);

    // Nothing was written: the API, the store and the calls all still see the old versions.
    expect((await api(gw, "GET", "/admin/routes/beta")).body).toEqual(betaBefore.body);
    expect(await storedBeta()).toMatchObject({ source: "config", definition: { model: "p2/m2", fallbacks: [] }, updatedBy: null });
    expect((await api(gw, "GET", "/admin/routes/alpha")).body).toMatchObject({ source: "config", definition: { fallbacks: ["beta"] }, candidates: ["p1/m1", "p2/m2"] });
    u1.push({ kind: "error", status: 503 });
    expect(await ask(gw, "alpha")).toMatchObject({ model: "p2/m2", attempts: 2 });

    // Unknown targets.
    const unknownModel = await api(gw, "PUT", "/admin/routes/delta", { model: "p9/nope" });
    expect(unknownModel.status).toBe(400);
    expect(unknownModel.body.error.code).toBe("invalid_request");
    expect(unknownModel.body.error.message).toContain("p9/nope");
    const unknownFallback = await api(gw, "PUT", "/admin/routes/delta", { model: "p1/m1", fallbacks: ["p2/m2", "p4/ghost"] });
    expect(unknownFallback.status).toBe(400);
    expect(unknownFallback.body.error.message).toContain("p4/ghost");
    const unmappedTier = await api(gw, "PUT", "/admin/routes/delta", { model: "strong" });
    expect(unmappedTier.status).toBe(400);
    expect(unmappedTier.body.error.code).toBe("invalid_request");
    expect((await api(gw, "GET", "/admin/routes/delta")).status).toBe(404);
    expect((await allRoutes(gw.plane.database.db)).map((r) => r.name).sort()).toEqual(["alpha", "beta", "gamma"]);

    // A config file with a cycle never loads.
    const cyclic = config({ operations: { a: { model: "p1/m1", fallbacks: ["b"] }, b: { model: "p2/m2", fallbacks: ["a"] } } });
    let loadError: unknown;
    try {
      resolveConfig(cyclic, "cyclic.yaml");
    } catch (err) {
      loadError = err;
    }
    expect(loadError).toBeInstanceOf(ConfigError);
    expect((loadError as Error).message).toContain("cycle");
    expect((loadError as Error).message).toMatch(/a → b → a|b → a → b/);

    // A route another route falls back to cannot be deleted out from under it.
    expect((await api(gw, "PUT", "/admin/routes/helper_op", { model: "p3/m3" })).status).toBe(201);
    expect((await api(gw, "PUT", "/admin/routes/uses_helper", { model: "p1/m1", fallbacks: ["helper_op"] })).status).toBe(201);
    const refusedDelete = await api(gw, "DELETE", "/admin/routes/helper_op");
    expect(refusedDelete.status).toBe(400);
    expect(refusedDelete.body.error.code).toBe("invalid_request");
    expect(refusedDelete.body.error.message).toContain("helper_op");
    expect((await api(gw, "GET", "/admin/routes/helper_op")).body).toMatchObject({ source: "admin", definition: { model: "p3/m3" } });
    expect((await allRoutes(gw.plane.database.db)).some((r) => r.name === "helper_op")).toBe(true);
    u1.push({ kind: "error", status: 503 });
    expect((await ask(gw, "uses_helper")).model).toBe("p3/m3");
    // Once nothing depends on it, it goes.
    expect((await api(gw, "DELETE", "/admin/routes/uses_helper")).body).toEqual({ deleted: true, name: "uses_helper" });
    expect((await api(gw, "DELETE", "/admin/routes/helper_op")).body).toEqual({ deleted: true, name: "helper_op" });
  });

  if (kind === "postgres") {
    it("a change made on one instance reaches another on the same database within 1 s, and so does a key revocation", async () => {
      const shared = await store();
      const adminKey = `sk-test-admin-${Math.random().toString(36).slice(2)}`;
      const cfg = config({ operations: { shared_op: { model: "p1/m1", fallbacks: ["p3/m3"] } } });
      const a = await instance(shared.database, cfg, adminKey);
      const databaseB = await openDatabase({ url: shared.url!, maxConnections: 4 });
      cleanups.push(() => databaseB.close());
      const b = await instance(databaseB, cfg, adminKey);

      expect((await ask(b, "shared_op")).model).toBe("p1/m1");

      // Disabled on A: B refuses within a second.
      const patched = await api(a, "PATCH", "/admin/routes/shared_op", { enabled: false });
      const patchedAt = performance.now();
      expect(patched.status).toBe(200);
      const disableMs = await msUntil(async () => (await refusal(b, "shared_op").catch(() => undefined))?.code === "disabled", patchedAt);
      expect(disableMs).toBeLessThan(1_000);
      expect((await api(b, "GET", "/admin/routes/shared_op")).body).toMatchObject({ source: "admin", updatedBy: BOOTSTRAP_ADMIN_ID, definition: { enabled: false } });

      // Enabled again on A: B serves within a second.
      const reEnabled = await api(a, "PATCH", "/admin/routes/shared_op", { enabled: true });
      const reEnabledAt = performance.now();
      expect(reEnabled.status).toBe(200);
      const enableMs = await msUntil(async () => (await ask(b, "shared_op").catch(() => undefined))?.model === "p1/m1", reEnabledAt);
      expect(enableMs).toBeLessThan(1_000);

      // A new primary on A: B's next calls go to the new upstream within a second.
      const swapped = await api(a, "PUT", "/admin/routes/shared_op", { model: "p2/m2", fallbacks: ["p3/m3"] });
      const swappedAt = performance.now();
      expect(swapped.status).toBe(200);
      const swapMs = await msUntil(async () => (await ask(b, "shared_op")).model === "p2/m2", swappedAt);
      expect(swapMs).toBeLessThan(1_000);
      expect((await api(b, "GET", "/admin/routes/shared_op")).body.candidates).toEqual(["p2/m2", "p3/m3"]);

      // A route created on A can be called on B; deleted on A, it is gone on B.
      const made = await api(a, "PUT", "/admin/routes/fresh_op", { model: "p3/m3" });
      const madeAt = performance.now();
      expect(made.status).toBe(201);
      expect(await msUntil(async () => (await ask(b, "fresh_op").catch(() => undefined))?.model === "p3/m3", madeAt)).toBeLessThan(1_000);
      expect((await api(a, "DELETE", "/admin/routes/fresh_op")).status).toBe(200);
      const deletedAt = performance.now();
      expect(await msUntil(async () => (await refusal(b, "fresh_op").catch(() => undefined))?.code === "not_found", deletedAt)).toBeLessThan(1_000);

      // A key made on A works on B; revoked on A, it stops working on B within a second.
      const key = await api(a, "POST", "/admin/keys", { name: "roaming", kind: "service" });
      expect(key.status).toBe(201);
      const secret = key.body.key as string;
      const modelsOnB = () => fetch(`${b.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } }).then((r) => r.status);
      await msUntil(async () => (await modelsOnB()) === 200, performance.now());
      expect((await ask(b, "shared_op", { key: secret })).model).toBe("p2/m2");
      const revoked = await api(a, "DELETE", `/admin/keys/${key.body.id}`);
      const revokedAt = performance.now();
      expect(revoked.status).toBe(200);
      const revokeMs = await msUntil(async () => (await modelsOnB()) === 401, revokedAt);
      expect(revokeMs).toBeLessThan(1_000);
      expect(await refusal(b, "shared_op", { key: secret })).toMatchObject({ status: 401, code: "unauthorized" });
    });
  }

  it("seeding: a config change reaches config routes, admin changes survive a restart with another config, dropped config routes go", async () => {
    const s = await store();
    const adminKey = `sk-test-admin-${Math.random().toString(36).slice(2)}`;
    const first = await instance(
      s.database,
      config({
        operations: {
          kept: { model: "p1/m1" },
          changed: { model: "p1/m1" },
          dropped: { model: "p1/m1" },
          tuned: { model: "p1/m1" },
          orphan: { model: "p1/m1" },
        },
      }),
      adminKey,
    );
    const keptBefore = (await api(first, "GET", "/admin/routes/kept")).body;
    expect((await api(first, "PUT", "/admin/routes/tuned", { model: "p2/m2" })).status).toBe(200);
    expect((await api(first, "PUT", "/admin/routes/extra", { model: "p3/m3" })).status).toBe(201);
    expect((await api(first, "PATCH", "/admin/routes/orphan", { fallbacks: ["p3/m3"] })).status).toBe(200);
    await first.close();

    // Restart on the same store with a different file.
    const second = await instance(
      s.database,
      config({
        operations: {
          kept: { model: "p1/m1" },
          changed: { model: "p2/m2", fallbacks: ["p3/m3"] },
          tuned: { model: "p3/m3" },
        },
      }),
      adminKey,
    );
    const listed = await api(second, "GET", "/admin/routes");
    const byName = new Map<string, any>(listed.body.data.map((r: any) => [r.name, r]));
    expect([...byName.keys()].sort()).toEqual(["changed", "extra", "kept", "orphan", "tuned"]);

    // The file's change to a config route is applied.
    expect(byName.get("changed")).toMatchObject({ source: "config", updatedBy: null, definition: { model: "p2/m2", fallbacks: ["p3/m3"] }, candidates: ["p2/m2", "p3/m3"] });
    expect((await ask(second, "changed")).model).toBe("p2/m2");
    // An unchanged config route is left as it was, last-changed time included.
    expect(byName.get("kept")).toMatchObject({ source: "config", definition: { model: "p1/m1" }, updatedAt: keptBefore.updatedAt });
    // The admin's version outlives the restart, even though the file now says something else.
    expect(byName.get("tuned")).toMatchObject({ source: "admin", updatedBy: BOOTSTRAP_ADMIN_ID, definition: { model: "p2/m2" }, candidates: ["p2/m2"] });
    let before = sent();
    expect((await ask(second, "tuned")).model).toBe("p2/m2");
    expect(sent()).toEqual([before[0], before[1]! + 1, before[2]]);
    // So does an admin-only route.
    expect(byName.get("extra")).toMatchObject({ source: "admin", definition: { model: "p3/m3" } });
    expect((await ask(second, "extra")).model).toBe("p3/m3");
    // A route the file dropped but an admin changed stays as changed, until it is deleted there.
    expect(byName.get("orphan")).toMatchObject({ source: "admin", definition: { model: "p1/m1", fallbacks: ["p3/m3"] }, candidates: ["p1/m1", "p3/m3"] });
    expect((await ask(second, "orphan")).model).toBe("p1/m1");
    // The route the file dropped is gone: from the store, the API and the call path.
    expect((await allRoutes(s.database.db)).map((r) => r.name).sort()).toEqual(["changed", "extra", "kept", "orphan", "tuned"]);
    expect((await api(second, "GET", "/admin/routes/dropped")).status).toBe(404);
    expect(await refusal(second, "dropped")).toMatchObject({ status: 404, code: "not_found" });

    // Deleting the admin version brings back the file as it is now, not as it was.
    const restored = await api(second, "DELETE", "/admin/routes/tuned");
    expect(restored.body).toMatchObject({ deleted: false, restored: { source: "config", updatedBy: null, definition: { model: "p3/m3" }, candidates: ["p3/m3"] } });
    before = sent();
    expect((await ask(second, "tuned")).model).toBe("p3/m3");
    expect(sent()).toEqual([before[0], before[1], before[2]! + 1]);
    // With no version in the file, deleting the admin version removes the route.
    expect((await api(second, "DELETE", "/admin/routes/orphan")).body).toEqual({ deleted: true, name: "orphan" });
    expect(await refusal(second, "orphan")).toMatchObject({ status: 404, code: "not_found" });
    expect((await allRoutes(s.database.db)).map((r) => r.name).sort()).toEqual(["changed", "extra", "kept", "tuned"]);
  });

  it("org policy: a disallowed model is served by the default (or refused), no model means the default, and chains lose disallowed models", async () => {
    const logs = captureLogs();
    const org = { defaultModel: "p1/m1", enabledModels: ["p1/m1", "p2/m2"] };
    const s = await store();
    const gw = await instance(s.database, config({ org: { ...org, onDisallowedModel: "default" }, operations: { chain_op: { model: "p3/m3", fallbacks: ["p2/m2"] } } }), undefined, logs.logger);

    // A named model outside the list: served by the default, recorded as such.
    let before = sent();
    const substituted = await ask(gw, "p3/m3");
    expect(substituted).toMatchObject({ model: "p1/m1", bodyModel: "p1/m1", attempts: 1 });
    expect(sent()).toEqual([before[0]! + 1, before[1], before[2]]);
    expect(await rowOf(gw, substituted.requestId)).toMatchObject({ outcome: "success", routeReason: "model_not_allowed", requestedModel: "p3/m3", model: "p1/m1" });
    const logged = logs.lines.find((l) => l.msg === "model not allowed; serving the org default");
    expect(logged).toMatchObject({ requestId: substituted.requestId, requested: "p3/m3", served: "p1/m1" });
    expect(logs.text()).not.toContain("hello from the routes test");
    // By its alias too.
    const byAlias = await ask(gw, "m3");
    expect(byAlias.model).toBe("p1/m1");
    expect(await rowOf(gw, byAlias.requestId)).toMatchObject({ routeReason: "model_not_allowed", requestedModel: "m3" });

    // No model and no operation: the org default.
    const noModel = await ask(gw, undefined);
    expect(noModel.model).toBe("p1/m1");
    expect(await rowOf(gw, noModel.requestId)).toMatchObject({ outcome: "success", routeReason: "org_default", model: "p1/m1", operation: null });

    // An allowed model is served as asked.
    const allowed = await ask(gw, "p2/m2");
    expect(allowed.model).toBe("p2/m2");
    expect((await rowOf(gw, allowed.requestId)).routeReason).toBeNull();

    // An operation's chain loses the models outside the list: p3/m3 is never tried.
    before = sent();
    const chained = await ask(gw, "chain_op");
    expect(chained).toMatchObject({ model: "p2/m2", attempts: 1 });
    expect(sent()).toEqual([before[0], before[1]! + 1, before[2]]);
    const chainRow = await rowOf(gw, chained.requestId);
    expect(chainRow.attempts.map((a) => a.model)).toEqual(["p2/m2"]);
    expect(chainRow).toMatchObject({ operation: "chain_op", model: "p2/m2", fallbacks: 0 });
    expect(u3.requests).toHaveLength(0);

    // onDisallowedModel: refuse turns the substitution into 403 forbidden.
    await gw.close();
    const strict = await instance(s.database, config({ org: { ...org, onDisallowedModel: "refuse" }, operations: { chain_op: { model: "p3/m3", fallbacks: ["p2/m2"] } } }));
    before = sent();
    const forbidden = await refusal(strict, "p3/m3");
    expect(forbidden).toMatchObject({ status: 403, code: "forbidden" });
    expect(forbidden.message).toContain("p3/m3");
    expect(sent()).toEqual(before);
    expect(await rowOf(strict, forbidden.requestId)).toMatchObject({ outcome: "refused", errorCode: "forbidden", httpStatus: 403, requestedModel: "p3/m3" });
    expect((await ask(strict, undefined)).model).toBe("p1/m1");
    expect((await ask(strict, "chain_op")).model).toBe("p2/m2");
    expect(u3.requests).toHaveLength(0);
  });

  it("session pinning: a session stays on the model that first answered until that model leaves the route", async () => {
    const gw = await gateway(config({ retry: { maxAttempts: 1 }, operations: { chat_op: { model: "p1/m1", fallbacks: ["p2/m2"] } } }));

    // s1's first call: P fails, F answers, and F is pinned.
    u1.push({ kind: "error", status: 503 });
    const first = await ask(gw, "chat_op", { session: "s1" });
    expect(first).toMatchObject({ model: "p2/m2", attempts: 2 });
    expect(await rowOf(gw, first.requestId)).toMatchObject({ sessionId: "s1", fallbacks: 1, routeReason: null, model: "p2/m2" });

    // P is healthy again, but s1 keeps going to F first.
    let before = sent();
    for (let i = 0; i < 2; i++) {
      const pinned = await ask(gw, "chat_op", { session: "s1" });
      expect(pinned).toMatchObject({ model: "p2/m2", attempts: 1 });
      expect(await rowOf(gw, pinned.requestId)).toMatchObject({ routeReason: "session_pinned", sessionId: "s1", model: "p2/m2", operation: "chat_op" });
    }
    expect(sent()).toEqual([before[0], before[1]! + 2, before[2]]);
    // The same route named by header is the same pin.
    expect((await ask(gw, undefined, { operation: "chat_op", session: "s1" })).model).toBe("p2/m2");

    // Another session, or the same session id from another key, follows the route.
    const other = await ask(gw, "chat_op", { session: "s2" });
    expect(other.model).toBe("p1/m1");
    expect((await rowOf(gw, other.requestId)).routeReason).toBeNull();
    const userKey = (await api(gw, "POST", "/admin/keys", { name: "other-app", kind: "service" })).body.key as string;
    expect((await ask(gw, "chat_op", { session: "s1", key: userKey })).model).toBe("p1/m1");
    // No session, no pin.
    expect((await ask(gw, "chat_op")).model).toBe("p1/m1");

    // The rest of the chain stands behind the pin, and the pin holds.
    u2.push({ kind: "error", status: 503 });
    const pinFailed = await ask(gw, "chat_op", { session: "s1" });
    expect(pinFailed).toMatchObject({ model: "p1/m1", attempts: 2 });
    expect((await rowOf(gw, pinFailed.requestId)).attempts.map((a) => [a.model, a.outcome])).toEqual([
      ["p2/m2", "error"],
      ["p1/m1", "success"],
    ]);
    expect((await ask(gw, "chat_op", { session: "s1" })).model).toBe("p2/m2");

    // F leaves the route: the pin is dropped and s1 goes to P, which it then keeps.
    expect((await api(gw, "PATCH", "/admin/routes/chat_op", { fallbacks: [] })).status).toBe(200);
    const unpinned = await ask(gw, "chat_op", { session: "s1" });
    expect(unpinned.model).toBe("p1/m1");
    expect((await rowOf(gw, unpinned.requestId)).routeReason).toBeNull();
    expect((await api(gw, "PATCH", "/admin/routes/chat_op", { fallbacks: ["p2/m2"] })).status).toBe(200);
    before = sent();
    const repinned = await ask(gw, "chat_op", { session: "s1" });
    expect(repinned.model).toBe("p1/m1");
    expect(await rowOf(gw, repinned.requestId)).toMatchObject({ routeReason: "session_pinned", model: "p1/m1" });
    expect(sent()).toEqual([before[0]! + 1, before[1], before[2]]);
  });

  it("fallback report: exact per-operation, per-model counts from the admin API and the CLI", async () => {
    const gw = await gateway(config({ retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 }, operations: { report_op: { model: "p1/m1", fallbacks: ["p2/m2"] } } }));

    // A: two clean calls on the primary.
    expect((await ask(gw, "report_op")).model).toBe("p1/m1");
    expect((await ask(gw, "report_op")).model).toBe("p1/m1");
    // B: the primary fails twice, the fallback answers.
    u1.push({ kind: "error", status: 503 }, { kind: "error", status: 503 });
    expect(await ask(gw, "report_op")).toMatchObject({ model: "p2/m2", attempts: 3 });
    // C: one retry on the primary, then it answers.
    u1.push({ kind: "error", status: 503 });
    expect(await ask(gw, "report_op")).toMatchObject({ model: "p1/m1", attempts: 2 });
    // D: everything fails; the row's model is the last one tried.
    u1.push({ kind: "error", status: 503 }, { kind: "error", status: 503 });
    u2.push({ kind: "error", status: 503 }, { kind: "error", status: 503 });
    expect(await refusal(gw, "report_op")).toMatchObject({ status: 502, code: "provider_error" });
    // F: the primary rejects the request itself: no retry, no fallback.
    u1.push({ kind: "error", status: 400 });
    expect(await refusal(gw, "report_op")).toMatchObject({ status: 400, code: "invalid_request" });
    // G: a direct model call, outside any operation.
    expect((await ask(gw, "p2/m2")).model).toBe("p2/m2");
    // Refused before any provider: not in the report.
    expect(await refusal(gw, "nope/never", { operation: "report_op" })).toMatchObject({ status: 404 });
    expect((await api(gw, "PATCH", "/admin/routes/report_op", { enabled: false })).status).toBe(200);
    expect(await refusal(gw, "report_op")).toMatchObject({ status: 503, code: "disabled" });

    const res = await api(gw, "GET", "/admin/reports/fallbacks?since=1h");
    expect(res.status).toBe(200);
    const report = res.body;
    const line = (operation: string, model: string) => report.lines.find((l: any) => l.operation === operation && l.model === model);
    expect(report.lines).toHaveLength(3);
    expect(line("report_op", "p1/m1")).toEqual({
      operation: "report_op",
      model: "p1/m1",
      calls: 4, // A A C F
      fellBack: 0,
      fallbackRate: 0,
      errors: 1, // F
      errorRate: 0.25,
      retries: 1, // C
      reasons: { server_error: 1, client_error: 1 },
    });
    expect(line("report_op", "p2/m2")).toEqual({
      operation: "report_op",
      model: "p2/m2",
      calls: 2, // B D
      fellBack: 2,
      fallbackRate: 1,
      errors: 1, // D
      errorRate: 0.5,
      retries: 3, // B: 1 on p1; D: 1 on p1 and 1 on p2
      reasons: { server_error: 6 },
    });
    expect(line("(none)", "p2/m2")).toEqual({ operation: "(none)", model: "p2/m2", calls: 1, fellBack: 0, fallbackRate: 0, errors: 0, errorRate: 0, retries: 0, reasons: {} });
    expect(report).toMatchObject({ calls: 7, fallbackRate: 0.2857, errorRate: 0.2857, since: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(Date.now() - Date.parse(report.since)).toBeGreaterThanOrEqual(3_600_000);
    expect(Date.now() - Date.parse(report.since)).toBeLessThan(3_600_000 + 60_000);
    const badSince = await api(gw, "GET", "/admin/reports/fallbacks?since=yesterday-ish");
    expect(badSince.status).toBe(400);
    expect(badSince.body.error).toMatchObject({ code: "invalid_request", param: "since" });

    // The CLI against the running gateway: the same figures as JSON, and a table for people.
    const { cwd } = await workspace();
    cleanups.push(removeTempDirs);
    const env = isolatedEnv();
    const connection = ["--url", gw.url, "--admin-key", gw.adminKey];
    const [asJson, asTable] = await Promise.all([
      runCli(["report", "fallbacks", "--since", "24h", "--json", ...connection], { cwd, env }),
      runCli(["report", "fallbacks", "--since", "24h", ...connection], { cwd, env }),
    ]);
    expect(asJson.stderr).toBe("");
    expect(asJson.code).toBe(0);
    const fromCli = JSON.parse(asJson.stdout);
    const sortLines = (lines: any[]) => [...lines].sort((x, y) => `${x.operation}/${x.model}`.localeCompare(`${y.operation}/${y.model}`));
    expect(sortLines(fromCli.lines)).toEqual(sortLines(report.lines));
    expect(fromCli).toMatchObject({ calls: 7, fallbackRate: 0.2857, errorRate: 0.2857 });

    expect(asTable.stderr).toBe("");
    expect(asTable.code).toBe(0);
    expect(asTable.stdout).toContain("report_op");
    expect(asTable.stdout).toMatch(/\d+\.\d%/);
    expect(asTable.stdout).toMatch(/report_op\s+p2\/m2\s+2\s+100\.0%\s+50\.0%\s+3\s+server_error 6/);
    expect(asTable.stdout).toMatch(/report_op\s+p1\/m1\s+4\s+0\.0%\s+25\.0%\s+1\s+/);
    expect(asTable.stdout).toContain("All: 7 calls, fallback rate 28.6%, error rate 28.6%");
  });

  it("a stored route whose model left the config is refused as misconfigured, says why, and can be fixed through the API", async () => {
    const s = await store();
    const adminKey = `sk-test-admin-${Math.random().toString(36).slice(2)}`;
    const first = await instance(s.database, config({ operations: { steady: { model: "p1/m1" } } }), adminKey);
    expect((await api(first, "PUT", "/admin/routes/x_op", { model: "p2/m2", fallbacks: ["p3/m3"] })).status).toBe(201);
    expect((await ask(first, "x_op")).model).toBe("p2/m2");
    await first.close();

    // Restart with a file that no longer has p2/m2.
    const logs = captureLogs();
    const narrowed = config({ operations: { steady: { model: "p1/m1" } } });
    narrowed.models = (narrowed.models ?? []).filter((m) => m.id !== "p2/m2");
    const second = await instance(s.database, narrowed, adminKey, logs.logger);

    const before = sent();
    const refused = await refusal(second, "x_op");
    expect(refused).toMatchObject({ status: 500, code: "misconfigured" });
    expect(refused.message).toContain("x_op");
    expect(refused.message).toContain("p2/m2");
    expect(await refusal(second, undefined, { operation: "x_op" })).toMatchObject({ status: 500, code: "misconfigured" });
    expect(sent()).toEqual(before);
    const refusedRow = await rowOf(second, refused.requestId);
    expect(refusedRow).toMatchObject({ errorCode: "misconfigured", httpStatus: 500, requestedModel: "x_op" });
    expect(refusedRow.operation, "ledger row of a refused call to an operation named in `model`").toBe("x_op");

    const described = await api(second, "GET", "/admin/routes/x_op");
    expect(described.status).toBe(200);
    expect(described.body).toMatchObject({ name: "x_op", source: "admin", definition: { model: "p2/m2" }, problem: expect.stringContaining("p2/m2") });
    const listed = await api(second, "GET", "/admin/routes");
    expect(listed.body.data.find((r: any) => r.name === "x_op")).toMatchObject({ problem: expect.stringContaining("p2/m2") });
    expect(listed.body.data.find((r: any) => r.name === "steady")).not.toHaveProperty("problem");
    // Logged at start, naming the route and the problem.
    expect(logs.lines.find((l) => l.operation === "x_op" && l.level >= 50)).toMatchObject({ problem: expect.stringContaining("p2/m2") });

    // The broken route blocks neither the others nor new saves, and a fixed version serves at once.
    expect((await ask(second, "steady")).model).toBe("p1/m1");
    expect((await api(second, "PUT", "/admin/routes/other_op", { model: "p3/m3" })).status).toBe(201);
    const fixed = await api(second, "PATCH", "/admin/routes/x_op", { model: "p1/m1" });
    expect(fixed.status).toBe(200);
    expect(fixed.body).not.toHaveProperty("problem");
    expect(fixed.body.candidates).toEqual(["p1/m1", "p3/m3"]);
    expect((await ask(second, "x_op")).model).toBe("p1/m1");
  });
});
