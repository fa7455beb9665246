import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { rawChat, routesSuite } from "./support/routing.js";
import { databaseBehindProxy } from "./support/tcp-proxy.js";
import { chatStatus, startCluster } from "./support/cluster.js";
import { killAll, removeTempDirs } from "./support/process.js";
import { STORE_KINDS } from "./support/stores.js";
import { awayFromMinuteEnd } from "./support/minute.js";

/**
 * A rate limit across three gateway processes sharing one PostgreSQL: the instances lease permits
 * from one counter per minute, so together they accept no more than the limit. And a lease whose
 * answer was lost hands nothing out twice.
 */
afterEach(killAll);
afterAll(removeTempDirs);

if (STORE_KINDS.includes("postgres")) {
  describe("rate limits across gateway processes on one PostgreSQL", () => {
    it("accepts at most 60 of 150 concurrent calls from one key across three instances, with a limit of 60 a minute", async () => {
      const upstream = await startFakeUpstream("openai");
      const cluster = await startCluster(
        `
providers:
  oai: { type: openai-compatible, baseUrl: "${upstream.url}", apiKey: sk-upstream }
models:
  - { id: oai/gpt-4o-mini, price: { input: "0.15", output: "0.60", per: 1M } }
rateLimits:
  - { name: per-key, scope: key, requestsPerMinute: 60 }
`,
        ["a", "b", "c"],
      );
      try {
        await awayFromMinuteEnd(15_000);
        const { gateways, adminKey } = cluster;
        const statuses = await Promise.all(Array.from({ length: 150 }, (_, i) => chatStatus(gateways[i % 3]!.url, adminKey)));
        const accepted = statuses.filter((s) => s === 200).length;
        const perInstance = [0, 1, 2].map((g) => statuses.filter((s, i) => i % 3 === g && s === 200).length);
        console.log(`3 instances, 150 concurrent calls, 60 per minute: accepted ${accepted} (a/b/c ${perInstance.join("/")}), refused ${statuses.filter((s) => s === 429).length}`);
        expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
        expect(accepted).toBeLessThanOrEqual(60);
        // Permits leased to an instance and not used stay with it until the minute ends: a few at most.
        expect(accepted).toBeGreaterThanOrEqual(54);
        expect(upstream.requests.length).toBe(accepted);
      } finally {
        await cluster.close();
        await upstream.close();
      }
    });
  });
}

if (STORE_KINDS.includes("postgres")) {
  describe("a rate-limit lease whose answer is lost", () => {
    let upstreams: [FakeUpstream, FakeUpstream, FakeUpstream];
    const { config, store, instance } = routesSuite("postgres", (made) => {
      upstreams = made;
    });

    it("does not spend again the leftover it handed back: its next call leases anew", async () => {
      const shared = await store();
      const { database, proxy, close: closeProxied } = await databaseBehindProxy(shared.url!);
      const gw = await instance(database, config({ rateLimits: [{ name: "tokens", scope: "global", tokensPerMinute: 10_000 }] }));
      const checker = new pg.Client({ connectionString: shared.url! });
      await checker.connect();
      const granted = async () => Number((await checker.query<{ granted: string }>("select sum(granted)::text as granted from rate_windows")).rows[0]!.granted);
      try {
        await awayFromMinuteEnd();
        // 100 completion tokens each, within the bound the call reserves: the lease leaves a leftover.
        for (let i = 0; i < 3; i++) upstreams[0].push({ kind: "ok", fixture: "openai/chat-length" });
        expect((await rawChat(gw, gw.adminKey)).status).toBe(200);
        // A call bounded by more than the leftover asks for more, handing the leftover back in the same
        // statement. The store does both; its answer never arrives.
        proxy.dropAnswerTo("rate_windows");
        expect(await rawChat(gw, gw.adminKey, { max_tokens: 1_000 })).toMatchObject({ status: 503, body: { error: { code: "unavailable" } } });
        const afterLost = await granted();
        // The leftover may be back in the counter: it is not spent. The next call leases from the counter.
        expect((await rawChat(gw, gw.adminKey)).status).toBe(200);
        expect(await granted()).toBeGreaterThan(afterLost);
      } finally {
        await checker.end();
        await gw.close();
        await closeProxied();
      }
    });
  });
}
