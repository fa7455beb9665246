import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, inject, it } from "vitest";
import { createAirlock, type AirlockOptions, type StreamPart } from "../src/index.js";
import { openDatabase } from "../src/store/database.js";
import { recentLedgerRows } from "../src/store/queries/ledger.js";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { scratchDatabaseForTest, STORE_KINDS, type StoreKind } from "./support/stores.js";

const config = (baseUrl: string) => ({
  providers: { oai: { type: "openai-compatible" as const, baseUrl, apiKey: "k" } },
  models: [{ id: "oai/o4-mini", price: { input: "1.10", output: "4.40", cachedInput: "0.275", per: "1M" as const } }],
  operations: { chat_message: { model: "oai/o4-mini" } },
});

const messages = [{ role: "user" as const, content: "capital of France?" }];

describe("closing a library instance", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function upstream(options: Parameters<typeof startFakeUpstream>[1] = {}): Promise<FakeUpstream> {
    const fake = await startFakeUpstream("openai", options);
    cleanups.push(() => fake.close());
    return fake;
  }

  /** Options for an instance on the store kind, and how to read its ledger once it is closed. */
  async function store(kind: StoreKind): Promise<{ options: Partial<AirlockOptions>; ledger: () => ReturnType<typeof recentLedgerRows> }> {
    const dataDir = await mkdtemp(path.join(tmpdir(), "airlock-close-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const url = kind === "postgres" ? (await scratchDatabaseForTest()).href : undefined;
    const read = async () => {
      const database = await openDatabase(url ? { url } : { dataDir: path.join(dataDir, "pgdata") });
      try {
        return await recentLedgerRows(database.db, 20);
      } finally {
        await database.close();
      }
    };
    return { options: { dataDir, ...(url ? { databaseUrl: url } : {}) }, ledger: read };
  }

  it("lets two close() calls at once both resolve, closing the store once", async () => {
    const fake = await upstream();
    const airlock = createAirlock({ config: config(fake.url), inMemory: true });
    await airlock.chat({ operation: "chat_message", messages });
    await expect(Promise.all([airlock.close(), airlock.close()])).resolves.toEqual([undefined, undefined]);
    await expect(airlock.close()).resolves.toBeUndefined();
  });

  it("refuses calls after close() as unavailable, without reaching the upstream or the closed store", async () => {
    const fake = await upstream();
    const airlock = createAirlock({ config: config(fake.url), inMemory: true });
    await airlock.chat({ operation: "chat_message", messages });
    await airlock.close();
    const before = fake.requests.length;
    // Not retryable: the same call on a closed instance can never succeed, however long a retry loop waits.
    const closed = { code: "unavailable", status: 503, message: "this Airlock instance is closed: create a new one to make calls", isRetryable: false };
    await expect(airlock.chat({ operation: "chat_message", messages })).rejects.toMatchObject(closed);
    await expect(
      (async () => {
        for await (const _part of airlock.stream({ operation: "chat_message", messages }));
      })(),
    ).rejects.toMatchObject(closed);
    await expect(airlock.budgets()).rejects.toMatchObject(closed);
    await expect(airlock.setKillSwitch({ active: true, reason: "late" })).rejects.toMatchObject(closed);
    await expect(airlock.memory.executionSummaries(5)).rejects.toMatchObject(closed);
    expect(fake.requests.length).toBe(before);
  });

  /**
   * Runs a script in a Node process of its own, as an application would, and answers its exit code; a
   * process still running after `boundMs` is killed, and answered as "still running". The script loads
   * the library as the run bundled it from src/ (test/support/global-setup.ts).
   */
  async function runScript(lines: string[], boundMs = 20_000): Promise<number | string | null> {
    const script = [`const { createAirlock } = await import(${JSON.stringify(pathToFileURL(inject("libraryBundle")).href)});`, ...lines].join("\n");
    // A file, not `-e`: the embedded store's thread would inherit `--input-type`, which Node refuses for a file.
    const file = path.join(await mkdtemp(path.join(tmpdir(), "airlock-exit-")), "script.mjs");
    cleanups.push(() => rm(path.dirname(file), { recursive: true, force: true }));
    await writeFile(file, script);
    const child = spawn(process.execPath, [file], { stdio: ["ignore", "ignore", "inherit"] });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`still running after ${boundMs} ms`), boundMs)));
    const outcome = await Promise.race([exited, bound]);
    clearTimeout(timer);
    if (typeof outcome === "string") {
      child.kill("SIGKILL");
      await exited;
    }
    return outcome;
  }

  describe.each(STORE_KINDS)("on %s", (kind) => {
    it("ends a script that made its calls and never called close() by itself, with every call's row in the store", async () => {
      const fake = await upstream();
      const { options, ledger } = await store(kind);
      // The openai package's way: the script's last call returns and the process ends. A budget too, so
      // that its background sync on the store is part of what must not hold the process open.
      const budgeted = { ...config(fake.url), budgets: [{ name: "daily", scope: "global", limit: "5" }] };
      const code = await runScript([
        `const airlock = createAirlock({ config: ${JSON.stringify(budgeted)}, ...${JSON.stringify(options)} });`,
        `for (const user of ["one", "two"]) await airlock.chat({ operation: "chat_message", user, messages: ${JSON.stringify(messages)} });`,
        `for await (const _part of airlock.stream({ operation: "chat_message", user: "streamed", messages: ${JSON.stringify(messages)} }));`,
      ]);
      expect(code).toBe(0);
      // Read from the store as it is, without another instance's start writing a spool first.
      const rows = await ledger();
      expect(rows.map((r) => [r.endUser, r.outcome, r.cost]).sort()).toEqual([
        ["one", "success", "0.001635700000"],
        ["streamed", "success", "0.001635700000"],
        ["two", "success", "0.001635700000"],
      ]);
    });

    // Two instances on one store at once: only PostgreSQL is shared by processes.
    if (kind === "postgres") {
      it("gives a budget's leased headroom back when a script ends without close(), for another instance to spend at once", async () => {
        const fake = await upstream();
        const { options } = await store(kind);
        // Leases far longer than the test, and no sync round in it: only the script's own return frees its lease.
        const budgeted = { ...config(fake.url), budgets: [{ name: "shared", scope: "global" as const, limit: "5" }], budgeting: { syncIntervalMs: 60_000, leaseTtlMs: 600_000 } };
        const code = await runScript([
          `const airlock = createAirlock({ config: ${JSON.stringify(budgeted)}, ...${JSON.stringify(options)} });`,
          `await airlock.chat({ operation: "chat_message", user: "script", messages: ${JSON.stringify(messages)} });`,
        ]);
        expect(code).toBe(0);
        const other = createAirlock({ config: budgeted, ...options });
        cleanups.push(() => other.close());
        const [shared] = await other.budgets();
        // Only what the script's call cost is gone from the window: nothing is leased any more.
        expect(shared!.current).toMatchObject({ spent: "0.0016357", reserved: "0", remaining: "4.9983643" });
      });

      it("ends a script that never called close() whose store went down, though its leases could not be given back", async () => {
        const fake = await upstream();
        const { options } = await store(kind);
        const budgeted = { ...config(fake.url), budgets: [{ name: "shared", scope: "global" as const, limit: "5" }], budgeting: { syncIntervalMs: 60_000, leaseTtlMs: 600_000 } };
        // The script reaches the store through a proxy of its own, which it shuts after its call: every
        // connection cut and every new one refused, as a server that stopped.
        const code = await runScript([
          `const net = await import("node:net");`,
          `const target = new URL(${JSON.stringify(options.databaseUrl)});`,
          `const sockets = new Set();`,
          `const proxy = net.createServer((client) => { const up = net.connect(Number(target.port || 5432), target.hostname); sockets.add(client); sockets.add(up); client.pipe(up).pipe(client); client.on("error", () => {}); up.on("error", () => {}); });`,
          `await new Promise((resolve) => proxy.listen(0, "127.0.0.1", resolve));`,
          `const url = new URL(target.href); url.hostname = "127.0.0.1"; url.port = String(proxy.address().port);`,
          `const airlock = createAirlock({ config: ${JSON.stringify(budgeted)}, ...${JSON.stringify(options)}, databaseUrl: url.href });`,
          `await airlock.chat({ operation: "chat_message", user: "script", messages: ${JSON.stringify(messages)} });`,
          `proxy.close();`,
          `for (const socket of sockets) socket.destroy();`,
        ]);
        expect(code).toBe(0);
        const other = createAirlock({ config: budgeted, ...options });
        cleanups.push(() => other.close());
        const [shared] = await other.budgets();
        // The lease is still held, until its TTL runs out or another instance's sync frees it.
        expect(Number(shared!.current!.reserved)).toBeGreaterThan(0);
      });
    }

    it("keeps the rows of a process that exits without close(): they are spooled at exit and written by the next start", async () => {
      const fake = await upstream();
      const { options, ledger } = await store(kind);
      // A script that makes its calls and exits at once, as many do, never closing the instance.
      const code = await runScript([
        `const airlock = createAirlock({ config: ${JSON.stringify(config(fake.url))}, ...${JSON.stringify(options)} });`,
        `for (const user of ["one", "two", "three"]) await airlock.chat({ operation: "chat_message", user, messages: ${JSON.stringify(messages)} });`,
        `process.exit(0);`,
      ]);
      expect(code).toBe(0);
      const next = createAirlock({ config: config(fake.url), ...options });
      await next.chat({ operation: "chat_message", user: "next", messages });
      await next.close();
      const rows = await ledger();
      expect(rows.map((r) => [r.endUser, r.outcome]).sort()).toEqual([
        ["next", "success"],
        ["one", "success"],
        ["three", "success"],
        ["two", "success"],
      ]);
    });

    it("waits for calls still running at close() and records them on the ledger", async () => {
      const fake = await upstream({ latencyMs: 300, chunkDelayMs: 20 });
      const { options, ledger } = await store(kind);
      const airlock = createAirlock({ config: config(fake.url), ...options });
      await airlock.chat({ operation: "chat_message", user: "warm", messages });
      const streamed = (async () => {
        const parts: StreamPart[] = [];
        for await (const part of airlock.stream({ operation: "chat_message", user: "streaming", messages })) parts.push(part);
        return parts.at(-1);
      })();
      const chatted = airlock.chat({ operation: "chat_message", user: "chatting", messages });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await airlock.close();
      const [last, reply] = await Promise.all([streamed, chatted]);
      expect(last).toMatchObject({ type: "done", cost: "0.0016357" });
      expect(reply.cost).toBe("0.0016357");
      const rows = await ledger();
      expect(rows.map((r) => [r.endUser, r.outcome, r.cost]).sort()).toEqual([
        ["chatting", "success", "0.001635700000"],
        ["streaming", "success", "0.001635700000"],
        ["warm", "success", "0.001635700000"],
      ]);
    });

    it("ends calls that outlive the grace, a stream nobody reads any more too, and records them as unavailable", async () => {
      const fake = await upstream({ chunkDelayMs: 20 });
      const { options, ledger } = await store(kind);
      const airlock = createAirlock({ config: config(fake.url), ...options, closeGraceMs: 200 });
      await airlock.chat({ operation: "chat_message", user: "warm", messages });
      fake.push({ kind: "hang" });
      const hanging = airlock.chat({ operation: "chat_message", user: "hanging", messages }).catch((err: unknown) => err);
      // A consumer that read one part and went quiet, neither reading nor leaving.
      const quiet = airlock.stream({ operation: "chat_message", user: "quiet", messages })[Symbol.asyncIterator]();
      expect((await quiet.next()).value).toMatchObject({ type: "text" });
      await airlock.close();
      expect(await hanging).toMatchObject({ code: "unavailable", message: "this Airlock instance was closed before the call finished" });
      expect(await quiet.next()).toEqual({ done: true, value: undefined });
      const rows = await ledger();
      expect(rows.map((r) => [r.endUser, r.outcome, r.errorCode]).sort()).toEqual([
        ["hanging", "error", "unavailable"],
        ["quiet", "error", "unavailable"],
        ["warm", "success", null],
      ]);
    });
  });
});
