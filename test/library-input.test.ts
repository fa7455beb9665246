import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AirlockError, createAirlock, type Airlock } from "../src/index.js";
import { openDatabase } from "../src/store/database.js";
import { recentLedgerRows } from "../src/store/queries/ledger.js";
import { startFakeUpstream } from "./fakes/upstream.js";

/**
 * A library caller's mistakes are refused as the gateway refuses a malformed body: `invalid_request`
 * naming the field, before any upstream is asked, and on the ledger. Not every caller is typed.
 */
describe("library calls with malformed arguments", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("refuses them with invalid_request naming the field, reaches no upstream, and records each refusal", async () => {
    const anthropic = await startFakeUpstream("anthropic");
    const dataDir = await mkdtemp(path.join(tmpdir(), "airlock-input-"));
    cleanups.push(() => anthropic.close(), () => rm(dataDir, { recursive: true, force: true }));
    const airlock = createAirlock({
      config: {
        providers: { an: { type: "anthropic" as const, baseUrl: anthropic.url, apiKey: "k" } },
        models: [{ id: "an/claude", price: { input: "3", output: "15", per: "1M" as const } }],
        operations: { chat_message: { model: "an/claude" } },
      },
      dataDir,
    });
    const loose = airlock as unknown as Record<keyof Airlock, (options?: unknown) => Promise<unknown>>;
    const user = { role: "user", content: "hi" };
    const cases: Array<[string, () => Promise<unknown>, string | null, string]> = [
      ["no options", () => loose.chat(), null, "chat() takes an options object"],
      ["a null message", () => loose.chat({ operation: "chat_message", messages: [null] }), "messages[0].role", "messages[0] needs a role (system, developer, user, assistant or tool)"],
      ["content that is a number", () => loose.chat({ operation: "chat_message", messages: [{ role: "user", content: 5 }] }), "messages[0].content", "messages[0].content must be a string or an array of parts"],
      ["a model that is a number", () => loose.chat({ model: 5, messages: [user] }), "model", "model must be a string"],
      ["a user that is an object", () => loose.chat({ operation: "chat_message", user: { id: 1 }, messages: [user] }), "user", "user must be a string"],
      ["a signal that is not one", () => loose.chat({ operation: "chat_message", signal: {}, messages: [user] }), "signal", "signal must be an AbortSignal"],
      ["params that are not an object", () => loose.chat({ operation: "chat_message", params: "x", messages: [user] }), "params", "params must be an object of OpenAI chat fields"],
      ["a stream with no options", async () => { for await (const _part of (airlock.stream as (o?: unknown) => AsyncIterable<unknown>)()); }, null, "stream() takes an options object"],
      ["an embed with no options", () => loose.embed(), null, "embed() takes an options object"],
      ["a transcription without a file", () => loose.transcribe({ model: "an/claude" }), "file", "file must be a Blob or File with the audio"],
      ["speech without input", () => loose.speak({ model: "an/claude", voice: "alloy" }), "input", "input must be the text to speak"],
    ];
    for (const [what, call, param, message] of cases) {
      const error = await call().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error, what).toBeInstanceOf(AirlockError);
      expect(error, what).toMatchObject({ code: "invalid_request", status: 400, param, message });
    }
    expect(anthropic.requests).toHaveLength(0);
    await airlock.close();

    const database = await openDatabase({ dataDir: path.join(dataDir, "pgdata") });
    try {
      const rows = await recentLedgerRows(database.db, 50);
      expect(rows).toHaveLength(cases.length);
      expect(rows.every((row) => row.outcome === "refused" && row.errorCode === "invalid_request" && row.cost === "0.000000000000")).toBe(true);
    } finally {
      await database.close();
    }
  });
});

describe("a library call to an unknown operation", () => {
  it("is refused with not_found naming the operation option, not the gateway's header", async () => {
    const airlock = createAirlock({
      config: { providers: { m: { type: "mock" as const } }, models: [{ id: "m/x", price: { input: "1", output: "1", per: "1M" as const } }], operations: { chat_message: { model: "m/x" } } },
      inMemory: true,
    });
    try {
      const error = await airlock.chat({ operation: "chat_mesage", messages: [{ role: "user", content: "hi" }] }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(AirlockError);
      expect(error).toMatchObject({ code: "not_found", status: 404, param: "operation", message: 'unknown operation "chat_mesage"' });
    } finally {
      await airlock.close();
    }
  });
});

describe("setKillSwitch with malformed input", () => {
  it("refuses it with invalid_request and leaves the switch as it was", async () => {
    const airlock = createAirlock({ config: { providers: { m: { type: "mock" as const } }, models: [{ id: "m/a", price: { input: "1", output: "1" } }] }, inMemory: true });
    try {
      const flip = airlock.setKillSwitch as (input?: unknown) => Promise<unknown>;
      await expect(flip({})).rejects.toMatchObject({ code: "invalid_request", param: "active" });
      await expect(flip()).rejects.toMatchObject({ code: "invalid_request" });
      // A string is not a boolean: "no" must not be read as anything, least of all as on.
      await expect(flip({ active: "no", reason: "typed from a form" })).rejects.toMatchObject({ code: "invalid_request", param: "active" });
      await expect(flip({ active: true, reason: "  " })).rejects.toMatchObject({ code: "invalid_request", param: "reason" });
      expect((await airlock.killSwitchStatus()).global).toBeNull();
    } finally {
      await airlock.close();
    }
  });
});
