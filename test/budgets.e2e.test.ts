import OpenAI, { toFile } from "openai";
import pg from "pg";
import { describe, expect, it } from "vitest";
import type { FakeUpstream } from "./fakes/upstream.js";
import { api, BOOTSTRAP_ADMIN_ID, captureLogs, routesSuite, rowOf } from "./support/routing.js";
import { CENT, CENT_MODEL, centCall, FAST_BUDGETING } from "./support/cent-calls.js";
import { STORE_KINDS } from "./support/stores.js";
import { waitFor } from "./support/wait.js";

/**
 * Budgets on one instance: every call reserves its worst case before any upstream is touched and
 * settles to its exact cost, so concurrent calls cannot pass the limit together; the ledger and the
 * budget's counter agree to the last digit. A thousand such calls at once: budgets.burst.e2e.test.ts.
 * "$0.01 calls": test/support/cent-calls.ts.
 */

describe.each(STORE_KINDS)("budgets on %s", (kind) => {
  let upstreams: [FakeUpstream, FakeUpstream, FakeUpstream];
  const { config, gateway, instance, store, sent } = routesSuite(kind, (made) => {
    upstreams = made;
  });

  it("admits calls until the limit, then refuses with 429 budget_exceeded and a Retry-After at the window's end", async () => {
    const gw = await gateway(config({ models: [CENT_MODEL], budgets: [{ name: "daily-cap", scope: "global", limit: "0.05" }], budgeting: FAST_BUDGETING }));
    for (let i = 0; i < 8; i++) upstreams[0].push({ kind: "ok", ...CENT });
    const results = [];
    for (let i = 0; i < 7; i++) results.push(await centCall(gw));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(sent()[0]).toBe(5);

    const refused = results[5]!;
    expect(refused.body.error).toMatchObject({ code: "budget_exceeded", type: "insufficient_quota", budget: "daily-cap", scope: "global", limit: "0.05" });
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    expect(refused.body.error.resets_at).toBe(midnight.toISOString());
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(Math.abs(retryAfter - (midnight.getTime() - Date.now()) / 1000)).toBeLessThan(5);
    expect(await rowOf(gw, refused.headers.get("x-request-id")!)).toMatchObject({ outcome: "refused", errorCode: "budget_exceeded", httpStatus: 429, attemptCount: 0, cost: "0.000000000000" });
    // Hours away is no wait for a client to sleep through: the official SDK, which retries 429s and sleeps out
    // any Retry-After, is told not to retry, and fails at once, having asked once.
    expect(refused.headers.get("x-should-retry")).toBe("false");
    const sdk = new OpenAI({ apiKey: gw.adminKey, baseURL: `${gw.url}/v1` });
    const refusedRows = async () => (await gw.plane.reports.recentCalls(50)).filter((r) => r.errorCode === "budget_exceeded").length;
    const before = await refusedRows();
    await expect(sdk.chat.completions.create({ model: "p1/m1", max_tokens: 100, messages: [{ role: "user", content: "hi" }] })).rejects.toMatchObject({ status: 429, code: "budget_exceeded" });
    expect(await refusedRows()).toBe(before + 1);

    const [budget] = (await api(gw, "GET", "/admin/budgets")).body.data;
    expect(budget).toMatchObject({ name: "daily-cap", scope: "global", window: "daily", timezone: "UTC", limit: "0.05", warnAt: "0.04", source: "config" });
    expect(budget.current).toMatchObject({ spent: "0.05", remaining: "0", exhausted: true });
    const rows = await gw.plane.reports.recentCalls(50);
    const ledgerTotal = rows.reduce((sum, row) => sum + Math.round(Number(row.cost) * 1e12), 0);
    expect(ledgerTotal).toBe(5 * 1e10);
    expect(rows.filter((r) => r.outcome === "success").map((r) => r.budgetCharges)).toEqual(Array(5).fill([expect.objectContaining({ budget: "daily-cap", spent: "0.01", released: "0.01" })]));
  });

  it("names a small limit in a budget_exceeded refusal as the plain decimal it was set to, never in exponent form", async () => {
    const gw = await gateway(config({ models: [CENT_MODEL], budgets: [{ name: "tiny", scope: "global", limit: "0.0000001" }], budgeting: FAST_BUDGETING }));
    const refused = await centCall(gw);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: "budget_exceeded", budget: "tiny", limit: "0.0000001" });
    expect(refused.body.error.message).toBe('budget "tiny" (global, daily $0.0000001) has no room for this call');
    expect(sent()[0]).toBe(0);
  });

  it("caps a budgeted call that sets no max_tokens at the configured default, and settles a stream to its exact cost", async () => {
    const gw = await gateway(config({ budgets: [{ name: "team", scope: "global", limit: "10" }], budgeting: { ...FAST_BUDGETING, defaultMaxTokens: 321 } }));
    const client = gw.client();
    const answer = await client.chat.completions.create({ model: "p1/m1", messages: [{ role: "user", content: "hi" }] });
    expect(answer.usage?.completion_tokens).toBe(199);
    expect(upstreams[0].requests.at(-1)!.body.max_tokens).toBe(321);
    // The caller's own limit goes upstream unchanged.
    await client.chat.completions.create({ model: "p1/m1", max_completion_tokens: 500, messages: [{ role: "user", content: "hi" }] });
    expect(upstreams[0].requests.at(-1)!.body).toMatchObject({ max_completion_tokens: 500 });
    expect(upstreams[0].requests.at(-1)!.body.max_tokens).toBeUndefined();

    const stream = await client.chat.completions.create({ model: "p1/m1", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "hi" }] });
    for await (const _chunk of stream) void _chunk;
    const [budget] = (await api(gw, "GET", "/admin/budgets")).body.data;
    const rows = await gw.plane.reports.recentCalls(10);
    const total = rows.reduce((sum, row) => sum + Math.round(Number(row.cost) * 1e12), 0);
    expect(rows).toHaveLength(3);
    expect(total).toBeGreaterThan(0);
    expect(Math.round(Number(budget.current.spent) * 1e12)).toBe(total);
    // Every reservation was settled: nothing is held but this instance's unreserved allowance.
    expect(Number(budget.current.reserved)).toBeGreaterThanOrEqual(0);
  });

  it("refuses a call to an unpriced model on a budgeted key as misconfigured, before any upstream is touched", async () => {
    const models = [{ id: "p1/m1" }, { id: "p2/m2", price: { input: "1", output: "2", per: "1M" as const } }];
    const gw = await gateway(config({ models, budgets: [], budgeting: FAST_BUDGETING }));
    const budgeted = (await api(gw, "POST", "/admin/keys", { name: "capped", kind: "service", user: "u-capped" })).body;
    const free = (await api(gw, "POST", "/admin/keys", { name: "uncapped", kind: "service" })).body;
    expect((await api(gw, "PUT", "/admin/budgets/capped-user", { scope: "user", target: "u-capped", limit: "5" })).status).toBe(200);

    const before = sent();
    const refused = await centCall(gw, budgeted.key, { model: "p1/m1" });
    expect(refused.status).toBe(500);
    expect(refused.body.error).toMatchObject({ code: "misconfigured", model: "p1/m1", budget: "capped-user" });
    expect(refused.body.error.message).toContain('model "p1/m1" has no price');
    expect(sent()).toEqual(before);
    // Priced models pass on the budgeted key, and the unpriced one still serves keys without a budget (charged the missing price, flagged).
    expect((await centCall(gw, budgeted.key, { model: "p2/m2" })).status).toBe(200);
    const unbudgeted = await centCall(gw, free.key, { model: "p1/m1" });
    expect(unbudgeted.status).toBe(200);
    expect(await rowOf(gw, unbudgeted.headers.get("x-request-id")!)).toMatchObject({ priceMissing: true, budgetCharges: null });
  });

  it("refuses a budgeted call whose max_tokens or n is not a whole number as invalid_request, before any upstream is touched", async () => {
    const gw = await gateway(config({ models: [CENT_MODEL], budgets: [{ name: "daily-cap", scope: "global", limit: "5" }], budgeting: FAST_BUDGETING }));
    const before = sent();
    // 1e400 is valid JSON that reads as Infinity: sent as text, since JSON.stringify cannot write it.
    for (const [field, value] of [["max_tokens", "1e400"], ["max_tokens", '"many"'], ["max_completion_tokens", "12.5"], ["n", "1e400"]] as const) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
        body: `{"model":"p1/m1","messages":[{"role":"user","content":"hi"}],"${field}":${value}}`,
      });
      const body = (await res.json()) as { error: Record<string, unknown> };
      expect(res.status, `${field}: ${value}`).toBe(400);
      expect(body.error, `${field}: ${value}`).toMatchObject({ code: "invalid_request", param: field });
      expect(await rowOf(gw, res.headers.get("x-request-id")!)).toMatchObject({ outcome: "refused", errorCode: "invalid_request", httpStatus: 400 });
    }
    expect(sent()).toEqual(before);
    // Nothing was reserved: the day's window was never even opened.
    const [budget] = (await api(gw, "GET", "/admin/budgets")).body.data;
    expect(budget.current).toBeNull();
  });

  it("serves a model priced at zero under a budget, charging nothing", async () => {
    const free = { id: "p1/m1", price: { input: "0", output: "0", per: "1M" as const } };
    const gw = await gateway(config({ models: [free], budgets: [{ name: "daily-cap", scope: "global", limit: "0.05" }], budgeting: FAST_BUDGETING }));
    for (let i = 0; i < 3; i++) upstreams[0].push({ kind: "ok", ...CENT });
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await centCall(gw));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(results.map((r) => r.headers.get("x-airlock-cost"))).toEqual(["0", "0", "0"]);
    const [budget] = (await api(gw, "GET", "/admin/budgets")).body.data;
    expect(budget.current).toMatchObject({ spent: "0", exhausted: false });
  });

  it("holds a key, user, team, org and operation budget only against their own calls", async () => {
    const gw = await gateway(config({ models: [CENT_MODEL], operations: { summarize: { model: "p1/m1" } }, budgeting: FAST_BUDGETING }));
    const key = async (body: Record<string, unknown>) => (await api(gw, "POST", "/admin/keys", { kind: "service", ...body })).body;
    const teamKey = await key({ name: "team-a", team: "team-a" });
    const otherKey = await key({ name: "team-b", team: "team-b" });
    const orgKey = await key({ name: "org", org: "org-1" });
    for (let i = 0; i < 20; i++) upstreams[0].push({ kind: "ok", ...CENT });
    await api(gw, "PUT", "/admin/budgets/team-a", { scope: "team", target: "team-a", limit: "0.01" });
    await api(gw, "PUT", "/admin/budgets/org-1", { scope: "org", target: "org-1", limit: "0.01" });
    await api(gw, "PUT", "/admin/budgets/key-b", { scope: "key", target: otherKey.id, limit: "0.02" });
    await api(gw, "PUT", "/admin/budgets/summaries", { scope: "operation", target: "summarize", limit: "0.01", window: "monthly" });

    expect((await centCall(gw, teamKey.key)).status).toBe(200);
    expect((await centCall(gw, teamKey.key)).status).toBe(429);
    expect((await centCall(gw, orgKey.key)).status).toBe(200);
    expect((await centCall(gw, orgKey.key)).status).toBe(429);
    expect((await centCall(gw, otherKey.key)).status).toBe(200);
    expect((await centCall(gw, otherKey.key)).status).toBe(200);
    expect((await centCall(gw, otherKey.key)).status).toBe(429);
    expect((await centCall(gw, gw.adminKey, { model: "summarize" })).status).toBe(200);
    const overOperation = await centCall(gw, gw.adminKey, { model: "summarize" });
    expect(overOperation.body.error).toMatchObject({ code: "budget_exceeded", budget: "summaries", period: "monthly" });
    // The admin key is under no budget but the operation's.
    expect((await centCall(gw, gw.adminKey)).status).toBe(200);
  });

  it("raises one warning per window past the threshold: a log line, a metric and the hook", async () => {
    const logs = captureLogs();
    const gw = await gateway(config({ models: [CENT_MODEL], budgets: [{ name: "warned", scope: "global", limit: "1", warnAt: "0.02" }], budgeting: FAST_BUDGETING }), logs.logger);
    for (let i = 0; i < 5; i++) upstreams[0].push({ kind: "ok", ...CENT });
    for (let i = 0; i < 5; i++) expect((await centCall(gw)).status).toBe(200);
    await gw.plane.reports.recentCalls(1); // flushes the ledger, which moves the counter
    await gw.plane.budgets.sync();
    await gw.plane.budgets.sync();
    const warnings = logs.lines.filter((line) => line.msg === "budget.warning");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ budget: "warned", limit: "1", spent: expect.stringMatching(/^0\.0[2-5]/) });
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toContain('airlock_budget_events_total{budget="warned",event="budget.warning"} 1');
    const [budget] = (await api(gw, "GET", "/admin/budgets")).body.data;
    expect(budget.current).toMatchObject({ warned: true, exhausted: false, spent: "0.05" });
  });

  it("raises the warning in a sync round whose lease renewal fails: the warning read does not wait on the renewal", async () => {
    const logs = captureLogs();
    const shared = await store();
    // Rounds only when the test runs one, so that none raises the warning before the renewal is broken.
    const slow = { syncIntervalMs: 60_000, leaseTtlMs: 180_000 };
    const gw = await instance(shared.database, config({ models: [CENT_MODEL], budgets: [{ name: "warned", scope: "global", limit: "1", warnAt: "0.02" }], budgeting: slow }), undefined, logs.logger);
    for (let i = 0; i < 3; i++) upstreams[0].push({ kind: "ok", ...CENT });
    for (let i = 0; i < 3; i++) expect((await centCall(gw)).status).toBe(200);
    await gw.plane.reports.recentCalls(1); // the ledger write moves the counter past the warning amount
    await shared.database.execute("alter table budget_leases rename to budget_leases_gone");
    try {
      await gw.plane.budgets.sync();
    } finally {
      await shared.database.execute("alter table budget_leases_gone rename to budget_leases");
    }
    expect(logs.lines.filter((line) => line.msg === "budget sync failed; allowances lapse unless renewed")).toHaveLength(1);
    expect(logs.lines.filter((line) => line.msg === "budget.warning")).toMatchObject([{ budget: "warned", spent: expect.stringMatching(/^0\.030*$/) }]);
    const [budget] = (await api(gw, "GET", "/admin/budgets")).body.data;
    expect(budget.current).toMatchObject({ warned: true, spent: "0.03" });
  });

  // Needs a second connection to hold a row lock while the round is out: the embedded store has one.
  if (kind === "postgres") {
    it("sync() runs a round that starts after it is called: a round already out, whose warning read missed the latest spend, is not the answer", async () => {
      const logs = captureLogs();
      const shared = await store();
      const slow = { syncIntervalMs: 60_000, leaseTtlMs: 180_000 };
      const cfg = config({ models: [CENT_MODEL], budgets: [{ name: "warned", scope: "global", limit: "1", warnAt: "0.02" }], budgeting: slow });
      const watcher = await instance(shared.database, cfg, undefined, logs.logger);
      const spender = await instance(shared.database, cfg);
      for (let i = 0; i < 3; i++) upstreams[0].push({ kind: "ok", ...CENT });
      expect((await centCall(spender)).status).toBe(200);
      await spender.plane.reports.recentCalls(1);
      // A dead holder's lease, locked by another session, holds the watcher's renewal (which frees dead leases) out.
      const locker = new pg.Client({ connectionString: shared.url });
      // Another session watches: inside the locker's transaction pg_stat_activity would answer its first snapshot throughout.
      const watching = new pg.Client({ connectionString: shared.url });
      await locker.connect();
      await watching.connect();
      try {
        await locker.query("insert into budget_leases (budget_name, window_start, holder, amount, expires_at) select budget_name, start, 'gone', 0, now() - interval '1 hour' from budget_windows");
        await locker.query("begin");
        await locker.query("select 1 from budget_leases where holder = 'gone' for update");
        const first = watcher.plane.budgets.sync();
        // Out: the renewal waits on the lock, and nothing else runs (its warning read has answered, before the spend below).
        const active = "select count(*)::int as n, count(*) filter (where wait_event_type = 'Lock')::int as waiting from pg_stat_activity where datname = current_database() and state = 'active' and pid <> pg_backend_pid()";
        await waitFor(async () => (await watching.query(active)).rows[0], (row) => row.n === 1 && row.waiting === 1, 5_000);
        for (let i = 0; i < 2; i++) expect((await centCall(spender)).status).toBe(200);
        await spender.plane.reports.recentCalls(1); // the counter passes the warning amount
        const second = watcher.plane.budgets.sync();
        await locker.query("rollback");
        await Promise.all([first, second]);
      } finally {
        await locker.end();
        await watching.end();
      }
      expect(logs.lines.filter((line) => line.msg === "budget.warning")).toMatchObject([{ budget: "warned", spent: expect.stringMatching(/^0\.030*$/) }]);
    });

    it("refuses a call whose lease waited on the store while the kill switch went on: its upstream is never touched", async () => {
      const shared = await store();
      const cfg = config({ models: [CENT_MODEL], budgets: [{ name: "held", scope: "global", limit: "1.00" }], budgeting: FAST_BUDGETING });
      const gw = await instance(shared.database, cfg);
      upstreams[0].push({ kind: "ok", ...CENT });
      expect((await centCall(gw)).status).toBe(200); // opens the window and this instance's lease
      const before = sent();
      const locker = new pg.Client({ connectionString: shared.url });
      const watching = new pg.Client({ connectionString: shared.url });
      await locker.connect();
      await watching.connect();
      // The lease statement itself (its CTE is named grant_): the sync round and the ledger's insert may wait on the lock too.
      const waiting = "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%grant_ as (%'";
      try {
        await locker.query("begin");
        await locker.query("select 1 from budget_windows for update");
        // Worth $0.20, more than the lease holds: the call asks the store for more, and waits on the lock.
        const call = centCall(gw, gw.adminKey, { max_tokens: 2_000 });
        // The flip must land within the lease's 1.5 s deadline, after which the call is refused as
        // `unavailable` instead: both clients are connected beforehand, so only the flip itself is timed.
        await waitFor(async () => (await watching.query(waiting)).rows[0].n, (n) => n === 1, 5_000);
        expect((await api(gw, "POST", "/admin/kill-switch", { active: true, reason: "while a lease waits" })).status).toBe(200);
        await locker.query("rollback");
        const refused = await call;
        expect(refused.status).toBe(503);
        expect(refused.body.error).toMatchObject({ code: "kill_switch_active" });
      } finally {
        await locker.end();
        await watching.end();
      }
      expect(sent()).toEqual(before);
    });
  }

  it("steps a LOW-criticality operation down to the cheap tier once its budget passes the warning amount, and never a HIGH one", async () => {
    const cheap = { id: "p2/m2", price: { input: "0", output: "1", per: "1M" as const } };
    const embedder = { id: "p3/embed", kind: "embedding" as const, price: { input: "0.02", per: "1M" as const } };
    const whisper = { id: "p3/whisper", kind: "transcription" as const, price: { input: "0", output: "0", audioMinute: "0.006", per: "1M" as const } };
    const gw = await gateway(
      config({
        models: [CENT_MODEL, cheap, embedder, whisper],
        tiers: { cheap: "p2/m2" },
        operations: {
          digest: { model: "p1/m1", criticality: "LOW" },
          billing: { model: "p1/m1", criticality: "HIGH" },
          recall: { model: "p3/embed", criticality: "LOW" },
          notes: { model: "p3/whisper", criticality: "LOW" },
        },
        budgets: [{ name: "monthly", scope: "global", window: "monthly", limit: "10", warnAt: "0.02" }],
        budgeting: { ...FAST_BUDGETING, stepDownLowCriticality: true },
      }),
    );
    for (let i = 0; i < 5; i++) upstreams[0].push({ kind: "ok", ...CENT });
    for (let i = 0; i < 3; i++) expect((await centCall(gw, gw.adminKey, { model: "digest" })).headers.get("x-airlock-model")).toBe("p1/m1");
    await gw.plane.reports.recentCalls(1); // the spend reaches the counter with the ledger write
    await gw.plane.budgets.sync();

    const stepped = await centCall(gw, gw.adminKey, { model: "digest" });
    expect(stepped.headers.get("x-airlock-model")).toBe("p2/m2");
    expect(await rowOf(gw, stepped.headers.get("x-request-id")!)).toMatchObject({ model: "p2/m2", routeReason: "budget_step_down", operation: "digest" });
    // An admin who raises the warning amount past the spend ends the step-down.
    expect((await api(gw, "PUT", "/admin/budgets/monthly", { scope: "global", window: "monthly", limit: "10", warnAt: "5" })).body.current).toMatchObject({ warned: false });
    await gw.plane.budgets.sync();
    expect((await centCall(gw, gw.adminKey, { model: "digest" })).headers.get("x-airlock-model")).toBe("p1/m1");
    await api(gw, "PUT", "/admin/budgets/monthly", { scope: "global", window: "monthly", limit: "10", warnAt: "0.02" });
    await gw.plane.budgets.sync();
    // The cheap tier is a chat model: embeddings and audio under the same budget stay on their own models.
    const recall = await gw.client().embeddings.create({ model: "recall", input: "hello", encoding_format: "float" }).withResponse();
    expect(recall.response.headers.get("x-airlock-model")).toBe("p3/embed");
    expect(await rowOf(gw, recall.response.headers.get("x-request-id")!)).toMatchObject({ model: "p3/embed", routeReason: null, operation: "recall" });
    const notes = await gw.client().audio.transcriptions.create({ model: "notes", file: await toFile(Buffer.from("RIFF"), "note.wav") }).withResponse();
    expect(notes.response.headers.get("x-airlock-model")).toBe("p3/whisper");
    expect(upstreams[1].requests.map((r) => r.path)).not.toContain("/v1/audio/transcriptions");
    expect(upstreams[1].requests.map((r) => r.path)).not.toContain("/v1/embeddings");
    // A HIGH operation runs under an approval grant (see grants.e2e.test.ts).
    expect((await api(gw, "POST", "/admin/grants", { keyId: BOOTSTRAP_ADMIN_ID, operation: "billing", maxCalls: 5 })).status).toBe(201);
    const high = await centCall(gw, gw.adminKey, { model: "billing" });
    expect(high.headers.get("x-airlock-model")).toBe("p1/m1");
    expect((await rowOf(gw, high.headers.get("x-request-id")!)).routeReason).toBeNull();
  });
});
