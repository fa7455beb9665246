import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { AirlockError, createAirlock, type Airlock } from "../src/index.js";
import { openDatabase } from "../src/store/database.js";
import { recentLedgerRows } from "../src/store/queries/ledger.js";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { removeTempDirs, seedDataDir } from "./support/process.js";

const messages = [{ role: "user" as const, content: "capital of France?" }];

/**
 * A library caller's signal ends a call two ways, and the caller, the error and the ledger must tell
 * them apart as fetch and the Vercel AI SDK do: `AbortSignal.timeout()` firing is a deadline (a
 * `TimeoutError`, code `timeout`), `controller.abort()` is the caller leaving (an `AbortError`, code
 * `client_closed`). MDN's own example for AbortSignal.timeout branches on `err.name === "TimeoutError"`.
 */
describe("a library call ended by the caller's signal", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  // The seed directory that seedDataDir made for this process, should this be its last file.
  afterAll(removeTempDirs);

  async function setup(): Promise<{ upstream: FakeUpstream; airlock: Airlock; rows: () => Promise<Awaited<ReturnType<typeof recentLedgerRows>>> }> {
    const dataDir = await mkdtemp(path.join(tmpdir(), "airlock-signal-"));
    await seedDataDir(dataDir);
    // Ten events, 150 ms apart: a stream read to its end takes over a second.
    const upstream = await startFakeUpstream("openai", { chunkDelayMs: 150 });
    const airlock = createAirlock({
      config: {
        providers: { oai: { type: "openai-compatible" as const, baseUrl: upstream.url, apiKey: "k" } },
        models: [{ id: "oai/o4-mini", price: { input: "1.10", output: "4.40", per: "1M" as const } }],
        operations: { chat_message: { model: "oai/o4-mini" } },
      },
      dataDir,
    });
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }), () => upstream.close(), () => airlock.close());
    // Opened before the signals start: the deadlines below are for the calls, not for opening the store.
    await airlock.isEnabled("warm");
    const rows = async () => {
      await airlock.close();
      const database = await openDatabase({ dataDir: path.join(dataDir, "pgdata") });
      try {
        return await recentLedgerRows(database.db, 10);
      } finally {
        await database.close();
      }
    };
    return { upstream, airlock, rows };
  }

  it("answers a caller's AbortSignal.timeout as a TimeoutError with code timeout, and records timeout", async () => {
    const { upstream, airlock, rows } = await setup();
    upstream.push({ kind: "hang" });
    const err = await airlock.chat({ operation: "chat_message", messages, signal: AbortSignal.timeout(300) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AirlockError);
    expect(err).toMatchObject({ name: "TimeoutError", code: "timeout", status: 504, isRetryable: false });
    const [row] = await rows();
    expect(row).toMatchObject({ outcome: "error", errorCode: "timeout", httpStatus: 504, requestId: (err as AirlockError).requestId });
    expect(row!.attempts).toEqual([expect.objectContaining({ outcome: "error", reason: "timeout" })]);
  });

  it("answers a caller's AbortSignal.timeout that fires mid-stream as a TimeoutError, billed for what was delivered", async () => {
    const { airlock, rows } = await setup();
    let texts = 0;
    const read = (async () => {
      for await (const part of airlock.stream({ operation: "chat_message", messages, signal: AbortSignal.timeout(500) })) if (part.type === "text") texts++;
    })();
    const err = await read.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(texts).toBeGreaterThan(0);
    expect(err).toBeInstanceOf(AirlockError);
    expect(err).toMatchObject({ name: "TimeoutError", code: "timeout", status: 504 });
    const [row] = await rows();
    expect(row).toMatchObject({ stream: true, outcome: "error", errorCode: "timeout", httpStatus: 504 });
    expect(row!.outputTokens).toBeGreaterThan(0);
    expect(row!.attempts).toEqual([expect.objectContaining({ outcome: "error", reason: "timeout" })]);
  });

  it("answers a caller's own abort as an AbortError with code client_closed, and its cut attempt as client_closed, not as a timeout", async () => {
    const { upstream, airlock, rows } = await setup();
    upstream.push({ kind: "hang" });
    const leaving = new AbortController();
    const call = airlock.chat({ operation: "chat_message", messages, signal: leaving.signal });
    await expect.poll(() => upstream.requests.length, { timeout: 10_000 }).toBe(1);
    leaving.abort();
    await expect(call).rejects.toMatchObject({ name: "AbortError", code: "client_closed", status: 499 });
    const [row] = await rows();
    expect(row).toMatchObject({ outcome: "error", errorCode: "client_closed", httpStatus: 499 });
    // The provider did nothing wrong: the attempt the caller cut is no upstream timeout.
    expect(row!.attempts).toEqual([expect.objectContaining({ outcome: "error", reason: "client_closed" })]);
  });
});
