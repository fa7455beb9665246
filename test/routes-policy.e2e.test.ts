import { describe, expect, it } from "vitest";
import type { FakeUpstream } from "./fakes/upstream.js";
import { api, ask, captureLogs, refusal, rowOf, routesSuite } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * Routes as data, end to end: org policy (allowed models, the org default, refusing instead) and
 * session pins, through real HTTP over a real store (PGlite and PostgreSQL). Each provider has its own
 * fake upstream, so which upstream received a request says which model served it.
 */

describe.each(STORE_KINDS)("routes on %s", (kind) => {
  let u1: FakeUpstream;
  let u2: FakeUpstream;
  let u3: FakeUpstream;
  const { config, store, instance, gateway, sent } = routesSuite(kind, (upstreams) => ([u1, u2, u3] = upstreams));

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
});
