import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AirlockError, ConfigError, createAirlock, StoreInUseError, StoreOpenError } from "../src/index.js";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { scratchDatabaseForTest, STORE_KINDS } from "./support/stores.js";
import { startTcpProxy } from "./support/tcp-proxy.js";

const config = (baseUrl: string) => ({
  providers: { oai: { type: "openai-compatible" as const, baseUrl, apiKey: "k" } },
  models: [{ id: "oai/o4-mini", price: { input: "1.10", output: "4.40", cachedInput: "0.275", per: "1M" as const } }],
  operations: { chat_message: { model: "oai/o4-mini" } },
});

const messages = [{ role: "user" as const, content: "capital of France?" }];

/**
 * A library instance whose store could not be opened (its PostgreSQL restarting, its embedded store
 * still held by an instance that is closing) must open it on a later call once it can: an application
 * server that embeds Airlock keeps running, and would otherwise fail every AI call until restarted.
 */
describe("a library instance whose store could not be opened", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function upstream(): Promise<FakeUpstream> {
    const fake = await startFakeUpstream("openai");
    cleanups.push(() => fake.close());
    return fake;
  }

  it("opens its embedded store on a later call, once the instance that held it has closed", async () => {
    const fake = await upstream();
    const dataDir = await mkdtemp(path.join(tmpdir(), "airlock-reopen-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const first = createAirlock({ config: config(fake.url), dataDir });
    cleanups.push(() => first.close());
    await first.chat({ operation: "chat_message", user: "first", messages });
    const second = createAirlock({ config: config(fake.url), dataDir });
    cleanups.push(() => second.close());
    const inUse = await second.chat({ operation: "chat_message", user: "second", messages }).catch((err: unknown) => err);
    expect(inUse).toBeInstanceOf(StoreInUseError);
    // One `instanceof AirlockError` check sees it, with the taxonomy's fields: a retry loop gives up at once.
    expect(inUse).toBeInstanceOf(AirlockError);
    expect(inUse).toMatchObject({ name: "StoreInUseError", code: "unavailable", status: 503, isRetryable: false });
    expect((inUse as AirlockError).toJSON().error).toMatchObject({ type: "service_unavailable", code: "unavailable" });
    await first.close();
    const reply = await second.chat({ operation: "chat_message", user: "second", messages });
    expect(reply.content).toBe("The capital of France is Paris.");
  });

  // Only PostgreSQL has a server to be down at start.
  if (STORE_KINDS.includes("postgres")) {
    it("opens its PostgreSQL store on a later call, once the server answers", async () => {
      const fake = await upstream();
      const url = await scratchDatabaseForTest();
      const proxy = await startTcpProxy(url.hostname, Number(url.port || 5432));
      cleanups.push(() => proxy.close());
      proxy.cut();
      const through = new URL(url.href);
      through.hostname = "127.0.0.1";
      through.port = String(proxy.port);
      const airlock = createAirlock({ config: config(fake.url), databaseUrl: through.href });
      cleanups.push(() => airlock.close());
      const unreachable = await airlock.chat({ operation: "chat_message", messages }).catch((err: unknown) => err);
      expect(unreachable).toBeInstanceOf(StoreOpenError);
      // A server out of reach is worth another try, as a later call shows.
      expect(unreachable).toBeInstanceOf(AirlockError);
      expect(unreachable).toMatchObject({ name: "StoreOpenError", code: "unavailable", status: 503, isRetryable: true });
      proxy.restore();
      const reply = await airlock.chat({ operation: "chat_message", messages });
      expect(reply.content).toBe("The capital of France is Paris.");
      await expect(airlock.budgets()).resolves.toEqual([]);
    });
  }

  it("reports an invalid configuration file from every call, without opening the store again", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "airlock-badconfig-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(path.join(dir, "airlock.config.yaml"), "providers:\n  a: { type: mock, colour: red }\nmodels: [{ id: a/x }]\n");
    const airlock = createAirlock({ config: path.join(dir, "airlock.config.yaml"), inMemory: true });
    cleanups.push(() => airlock.close());
    for (let call = 0; call < 2; call++) {
      const invalid = await airlock.chat({ model: "a/x", messages }).catch((err: unknown) => err);
      expect(invalid).toBeInstanceOf(ConfigError);
      expect(invalid).toBeInstanceOf(AirlockError);
      expect(invalid).toMatchObject({ name: "ConfigError", code: "misconfigured", status: 500, isRetryable: false });
      expect((invalid as AirlockError).toJSON().error).toMatchObject({ type: "server_error", code: "misconfigured" });
    }
  });
});
