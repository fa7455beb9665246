import { describe, expect, it } from "vitest";
import { ConfigError, resolveConfig } from "../src/config/load.js";
import { allRoutes } from "../src/store/queries/routes.js";
import type { FakeUpstream } from "./fakes/upstream.js";
import { api, ask, BOOTSTRAP_ADMIN_ID, captureLogs, refusal, rowOf, routesSuite } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * Routes as data, end to end: the admin routes API over real HTTP, validation on save, seeding from
 * the config across restarts, and a stored route the config no longer supports, with routes in a real
 * store (PGlite and PostgreSQL). Each provider has its own fake upstream, so which upstream received
 * a request says which model served it.
 */

describe.each(STORE_KINDS)("routes on %s", (kind) => {
  let u1: FakeUpstream;
  let u2: FakeUpstream;
  const { config, store, instance, gateway, sent } = routesSuite(kind, (upstreams) => ([u1, u2] = upstreams));

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
