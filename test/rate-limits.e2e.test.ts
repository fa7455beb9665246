import { describe, expect, it } from "vitest";
import type { FakeUpstream } from "./fakes/upstream.js";
import { inputTokenBound } from "../src/policy/budgets.js";
import { api, rawChat, routesSuite, rowOf } from "./support/routing.js";
import { awayFromMinuteEnd } from "./support/minute.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * Rate limits on one instance: requests and tokens per fixed minute, per key, user, operation or
 * overall, refused with 429 `rate_limited` and a Retry-After that runs to the minute's end.
 */

const call = rawChat;

describe.each(STORE_KINDS)("rate limits on %s", (kind) => {
  let upstreams: [FakeUpstream, FakeUpstream, FakeUpstream];
  const { config, gateway, instance, store, sent } = routesSuite(kind, (made) => {
    upstreams = made;
  });

  it("gives every key its own requests per minute, and refuses the next with 429 and the seconds to the minute's end", async () => {
    const gw = await gateway(config({ rateLimits: [{ name: "per-key", scope: "key", requestsPerMinute: 3 }] }));
    const a = (await api(gw, "POST", "/admin/keys", { name: "a", kind: "service" })).body.key as string;
    const b = (await api(gw, "POST", "/admin/keys", { name: "b", kind: "service" })).body.key as string;
    await awayFromMinuteEnd();
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await call(gw, a)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const before = sent();
    const refused = await call(gw, a);
    const nextMinute = Math.ceil(Date.now() / 60_000) * 60_000;
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: "rate_limited", type: "rate_limit_error", rate_limit: "per-key", scope: "key", unit: "requests", limit: 3, resets_at: new Date(nextMinute).toISOString() });
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(Math.abs(retryAfter - (nextMinute - Date.now()) / 1000)).toBeLessThanOrEqual(1.5);
    // A wait within the minute ends it: clients may retry after it.
    expect(refused.headers.get("x-should-retry")).toBeNull();
    expect(sent()).toEqual(before);
    expect(await rowOf(gw, refused.headers.get("x-request-id")!)).toMatchObject({ outcome: "refused", errorCode: "rate_limited", httpStatus: 429, attemptCount: 0 });
    // Another key has its own three.
    for (let i = 0; i < 3; i++) expect((await call(gw, b)).status).toBe(200);
  });

  it("counts tokens per minute by each call's worst case, gives back what it did not use, and never admits past the limit", async () => {
    const gw = await gateway(config({ operations: { summarize: { model: "p1/m1" } }, rateLimits: [{ name: "summaries", scope: "operation", target: "summarize", tokensPerMinute: 500 }] }));
    for (let i = 0; i < 10; i++) upstreams[0].push({ kind: "ok", fixture: "openai/chat-length" });
    await awayFromMinuteEnd();
    let last: { status: number; body: any } = { status: 200, body: undefined };
    let admitted = 0;
    while (last.status === 200 && admitted < 10) {
      last = await call(gw, gw.adminKey, { model: "summarize" });
      if (last.status === 200) admitted++;
    }
    expect(last.status).toBe(429);
    expect(last.body.error).toMatchObject({ code: "rate_limited", unit: "tokens", limit: 500, scope: "operation" });
    const rows = (await gw.plane.reports.recentCalls(20)).filter((r) => r.outcome === "success");
    const used = rows.reduce((sum, r) => sum + r.inputTokens + r.outputTokens, 0);
    // Each call reserved its bound (prompt bytes + framing + max_tokens) and gave back what it did not
    // use: the refused call's bound no longer fit in what the minute had left.
    const bound = inputTokenBound([{ role: "user", content: "Explain budgets" }], undefined) + 100;
    console.log(`[${kind}] 500 tokens/minute, calls reserving ${bound} and using ${rows[0]?.inputTokens}+${rows[0]?.outputTokens}: admitted ${admitted}, ${used} tokens used`);
    expect(rows).toHaveLength(admitted);
    expect(admitted).toBeGreaterThanOrEqual(3);
    expect(used).toBeLessThanOrEqual(500);
    expect(500 - used).toBeLessThan(bound);
    // Calls outside the operation are not counted.
    expect((await call(gw, gw.adminKey)).status).toBe(200);
  });

  it("refuses a call that could use more tokens than a whole minute allows without a Retry-After, saying what to lower, and admits smaller ones", async () => {
    // A call with no max_tokens is sent with budgeting.defaultMaxTokens (4096): more than this limit allows in a minute.
    const gw = await gateway(config({ rateLimits: [{ name: "small", scope: "key", tokensPerMinute: 2_000 }] }));
    await awayFromMinuteEnd();
    const before = sent();
    const refused = await call(gw, gw.adminKey, { max_tokens: undefined });
    expect(refused.status).toBe(429);
    const requested = inputTokenBound([{ role: "user", content: "Explain budgets" }], undefined) + 4_096;
    expect(refused.body.error).toMatchObject({ code: "rate_limited", rate_limit: "small", unit: "tokens", limit: 2_000, requested });
    expect(refused.body.error.message).toContain("lower max_tokens");
    // No wait lets it through, so none is promised: the official SDKs would otherwise wait out the minute, twice.
    expect(refused.headers.get("retry-after")).toBeNull();
    expect(refused.headers.get("x-should-retry")).toBe("false");
    expect(sent()).toEqual(before);
    expect(await rowOf(gw, refused.headers.get("x-request-id")!)).toMatchObject({ outcome: "refused", errorCode: "rate_limited", httpStatus: 429 });
    // The minute was not used up by it.
    expect((await call(gw, gw.adminKey, { max_tokens: 1_000 })).status).toBe(200);
  });

  it("counts the tokens a call used beyond its bound before admitting another", async () => {
    const gw = await gateway(config({ operations: { summarize: { model: "p1/m1" } }, rateLimits: [{ name: "summaries", scope: "operation", target: "summarize", tokensPerMinute: 5_000 }] }));
    // The recorded answer reports 1,843 prompt tokens: far more than the few bytes this prompt is bounded by.
    for (let i = 0; i < 10; i++) upstreams[0].push({ kind: "ok", fixture: "openai/chat" });
    await awayFromMinuteEnd();
    const statuses: number[] = [];
    while (statuses.at(-1) !== 429 && statuses.length < 10) statuses.push((await call(gw, gw.adminKey, { model: "summarize", max_tokens: 5 })).status);
    const rows = (await gw.plane.reports.recentCalls(20)).filter((r) => r.outcome === "success");
    const perCall = rows[0]!.inputTokens + rows[0]!.outputTokens;
    expect(perCall).toBe(2_042);
    expect(statuses).toEqual([200, 200, 200, 429]);
    // Only the last call admitted could pass the limit: every earlier one's use was counted before the next.
    expect(rows.length * perCall - perCall).toBeLessThan(5_000);
  });

  it("counts a user limit against the key's user and a named end user both", async () => {
    const gw = await gateway(config({ rateLimits: [{ name: "per-user", scope: "user", requestsPerMinute: 2 }] }));
    const key = (await api(gw, "POST", "/admin/keys", { name: "app", kind: "service", user: "app-user" })).body.key as string;
    await awayFromMinuteEnd();
    const asUser = (user: string) =>
      fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "x-airlock-user": user },
        body: JSON.stringify({ model: "p1/m1", messages: [{ role: "user", content: "hi" }] }),
      }).then((r) => r.status);
    expect([await asUser("alice"), await asUser("bob")]).toEqual([200, 200]);
    // The key's own user has used its two, whichever end user was named.
    expect(await asUser("carol")).toBe(429);
  });

  it("takes a limit an admin sets or deletes at once, on every instance, audited, and keeps the admin's over a restart", async () => {
    const shared = await store();
    const cfg = config({ rateLimits: [{ name: "per-key", scope: "key", requestsPerMinute: 2 }] });
    const one = await instance(shared.database, cfg);
    const two = await instance(shared.database, cfg, one.adminKey);
    const key = (await api(one, "POST", "/admin/keys", { name: "a", kind: "service" })).body.key as string;
    await awayFromMinuteEnd(15_000);
    expect([(await call(one, key)).status, (await call(one, key)).status, (await call(one, key)).status]).toEqual([200, 200, 429]);

    const refused = await api(one, "PUT", "/admin/rate-limits/per-key", { scope: "key" });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: "invalid_request", message: expect.stringContaining("set requestsPerMinute, tokensPerMinute or both") });
    const app = (await api(one, "POST", "/admin/keys", { name: "app", kind: "service" })).body.key as string;
    expect((await api(one, "PUT", "/admin/rate-limits/per-key", { scope: "key", requestsPerMinute: 9 }, app)).status).toBe(403);

    const raised = await api(one, "PUT", "/admin/rate-limits/per-key", { scope: "key", requestsPerMinute: 5 });
    expect(raised.status).toBe(200);
    expect(raised.body).toMatchObject({ name: "per-key", scope: "key", requestsPerMinute: 5, source: "admin", updatedBy: expect.stringMatching(/^key_/) });
    // The other instance hears of it, and the minute's shared counter still holds the two already made.
    await expect.poll(async () => (await api(two, "GET", "/admin/rate-limits")).body.data[0]?.requestsPerMinute, { timeout: 5_000 }).toBe(5);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await call(two, key)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const audit = (await api(one, "GET", "/admin/audit?action=rate_limit.set")).body.data;
    expect(audit[0]).toMatchObject({ action: "rate_limit.set", target: "per-key", outcome: "applied", details: { requestsPerMinute: 5 } });

    // A restart with the same file keeps the admin's limit; the file's version does not overwrite it.
    const three = await instance(shared.database, cfg, one.adminKey);
    expect((await api(three, "GET", "/admin/rate-limits")).body.data).toEqual([expect.objectContaining({ name: "per-key", requestsPerMinute: 5, source: "admin" })]);

    expect((await api(two, "DELETE", "/admin/rate-limits/per-key")).body).toEqual({ name: "per-key", deleted: true });
    expect((await api(two, "DELETE", "/admin/rate-limits/per-key")).status).toBe(404);
    // A name no limit could have is refused as bad input, the same way as for budgets and toggles.
    for (const method of ["PUT", "DELETE"] as const) {
      const bad = await api(two, method, "/admin/rate-limits/per%20key", method === "PUT" ? { scope: "key", requestsPerMinute: 3 } : undefined);
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatchObject({ code: "invalid_request", param: "name" });
    }
    await expect.poll(async () => (await api(one, "GET", "/admin/rate-limits")).body.data.length, { timeout: 5_000 }).toBe(0);
    expect([(await call(one, key)).status, (await call(three, key)).status]).toEqual([200, 200]);
    // Deleted stays deleted over a restart, though the file still has the limit; set again, it is back.
    const four = await instance(shared.database, cfg, one.adminKey);
    expect((await api(four, "GET", "/admin/rate-limits")).body.data).toEqual([]);
    expect((await api(four, "PUT", "/admin/rate-limits/per-key", { scope: "key", requestsPerMinute: 7 })).body).toMatchObject({ requestsPerMinute: 7, source: "admin" });
    await expect.poll(async () => (await api(one, "GET", "/admin/rate-limits")).body.data[0]?.requestsPerMinute, { timeout: 5_000 }).toBe(7);
  });
});
