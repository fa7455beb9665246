import { describe, expect, it } from "vitest";
import { openDatabase } from "../src/store/database.js";
import { api, ask, BOOTSTRAP_ADMIN_ID, refusal, routesSuite } from "./support/routing.js";
import { unreachableUrl } from "./fakes/upstream.js";
import { isolatedEnv, removeTempDirs, runCli, workspace } from "./support/process.js";
import { STORE_KINDS } from "./support/stores.js";
import { databaseBehindProxy } from "./support/tcp-proxy.js";

/**
 * Routes as data, end to end: a change made on one instance reaches another on the same store, and so
 * does a key revocation. On PostgreSQL the second instance has its own connection pool and hears of the
 * change through LISTEN/NOTIFY; the embedded store allows one process, so there the two instances share
 * it in one process, as a library and a gateway would.
 */

/** Polls `probe` until it returns true; resolves with the milliseconds it took from `since`. */
async function msUntil(probe: () => Promise<boolean>, since: number, giveUpMs = 5_000): Promise<number> {
  for (;;) {
    if (await probe()) return performance.now() - since;
    if (performance.now() - since > giveUpMs) throw new Error(`the change did not show within ${giveUpMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.each(STORE_KINDS)("routes on %s", (kind) => {
  const { cleanups, config, store, instance } = routesSuite(kind);

  it("a change made on one instance reaches another on the same database within 1 s, and so does a key revocation", async () => {
    const shared = await store();
    const adminKey = `sk-test-admin-${Math.random().toString(36).slice(2)}`;
    const cfg = config({ operations: { shared_op: { model: "p1/m1", fallbacks: ["p3/m3"] } } });
    const a = await instance(shared.database, cfg, adminKey);
    const databaseB = shared.url ? await openDatabase({ url: shared.url, maxConnections: 4 }) : shared.database;
    if (databaseB !== shared.database) cleanups.push(() => databaseB.close());
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

  if (kind === "postgres") {
    it("a key revoked by the CLI on the store itself, with no gateway to talk to, stops working on a running instance within 1 s", async () => {
      const shared = await store();
      const gateway = await instance(shared.database, config({ operations: { shared_op: { model: "p1/m1" } } }));
      const key = await api(gateway, "POST", "/admin/keys", { name: "cli-revoked", kind: "service" });
      expect(key.status).toBe(201);
      const secret = key.body.key as string;
      const models = () => fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } }).then((r) => r.status);
      expect(await models()).toBe(200);

      // Nothing answers at --url, so the CLI opens PostgreSQL itself and announces the change there.
      const { cwd } = await workspace();
      cleanups.push(() => removeTempDirs());
      const nobody = await unreachableUrl("openai");
      const result = await runCli(["keys", "revoke", key.body.id as string, "--json", "--url", new URL(nobody).origin], { cwd, env: isolatedEnv({ DATABASE_URL: shared.url }) });
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      const revokedAt = performance.now();
      expect(await msUntil(async () => (await models()) === 401, revokedAt)).toBeLessThan(1_000);
    });

    it("an instance whose listening connection went silent, neither answering nor closed, finds out and hears a key revoked meanwhile within a few seconds", async () => {
      const shared = await store();
      const adminKey = `sk-test-admin-${Math.random().toString(36).slice(2)}`;
      const cfg = config({ operations: { shared_op: { model: "p1/m1" } } });
      const a = await instance(shared.database, cfg, adminKey);
      const { database, proxy, close } = await databaseBehindProxy(shared.url!);
      cleanups.push(close);
      const b = await instance(database, cfg, adminKey);
      // First of all: B's stalled queries would hold its pool, and its closing, open for ever.
      cleanups.push(() => proxy.close());
      const key = await api(a, "POST", "/admin/keys", { name: "silenced", kind: "service" });
      const secret = key.body.key as string;
      const modelsOnB = () => fetch(`${b.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } }).then((r) => r.status);
      await msUntil(async () => (await modelsOnB()) === 200, performance.now());

      // B's connections to the store go silent, as after a failover that sent no reset; new ones work.
      proxy.stall();
      expect((await api(a, "DELETE", `/admin/keys/${key.body.id}`)).status).toBe(200);
      const revokedAt = performance.now();
      const ms = await msUntil(async () => (await modelsOnB()) === 401, revokedAt, 10_000);
      console.log(`silent listening connection: the revocation reached the other instance after ${Math.round(ms)} ms`);
      expect(ms).toBeLessThan(5_000);
    });
  }
});
