import { afterAll, afterEach, describe, expect, it } from "vitest";
import { startFakeUpstream } from "./fakes/upstream.js";
import { chatStatus, startCluster } from "./support/cluster.js";
import { killAll, removeTempDirs } from "./support/process.js";
import { STORE_KINDS } from "./support/stores.js";
import { awayFromMinuteEnd } from "./support/minute.js";

/**
 * A rate limit across three gateway processes sharing one PostgreSQL: the instances lease permits
 * from one counter per minute, so together they accept no more than the limit.
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
