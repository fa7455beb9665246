import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AirlockError, ConfigError, createAirlock, StoreInUseError, type StreamPart } from "../src/index.js";
import { openDatabase } from "../src/store/database.js";
import { recentLedgerRows } from "../src/store/queries/ledger.js";
import { fixtureJson, startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";

describe("createAirlock (in process)", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(): Promise<{ dataDir: string; upstream: FakeUpstream }> {
    const dataDir = await mkdtemp(path.join(tmpdir(), "airlock-lib-"));
    const upstream = await startFakeUpstream("openai");
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }), () => upstream.close());
    return { dataDir, upstream };
  }

  const config = (baseUrl: string) => ({
    providers: { oai: { type: "openai-compatible" as const, baseUrl, apiKey: "k" } },
    models: [
      { id: "oai/o4-mini", price: { input: "1.10", output: "4.40", cachedInput: "0.275", per: "1M" as const } },
      { id: "oai/text-embedding-3-small", kind: "embedding" as const, price: { input: "0.02", per: "1M" as const } },
    ],
    operations: { chat_message: { model: "oai/o4-mini" }, embed_docs: { model: "oai/text-embedding-3-small" } },
  });

  it("answers isEnabled and enforce for feature toggles in process", async () => {
    const { upstream } = await setup();
    const airlock = createAirlock({ config: config(upstream.url), inMemory: true });
    cleanups.push(() => airlock.close());
    expect(await airlock.isEnabled("helix_can_recommend_optimizations")).toBe(false);
    expect(await airlock.isEnabled("no_such_toggle")).toBe(false);
    await expect(airlock.enforce("helix_can_change_models")).rejects.toMatchObject({ code: "disabled", message: 'feature toggle "helix_can_change_models" is off and locked' });
    await expect(airlock.enforce("helix_can_change_models")).rejects.toBeInstanceOf(AirlockError);
  });

  it("flips the kill switch in process, audited as the library, and stops calls until it is off", async () => {
    const { upstream } = await setup();
    const airlock = createAirlock({ config: config(upstream.url), inMemory: true });
    cleanups.push(() => airlock.close());
    const status = await airlock.setKillSwitch({ active: true, reason: "nightly batch ran away" });
    expect(status).toMatchObject({ global: { active: true, reason: "nightly batch ran away", updatedBy: "library" }, confirmed: true });
    const before = upstream.requests.length;
    await expect(airlock.chat({ operation: "chat_message", messages: [{ role: "user", content: "hi" }] })).rejects.toMatchObject({ code: "kill_switch_active", status: 503 });
    expect(upstream.requests.length).toBe(before);
    await airlock.setKillSwitch({ active: false, reason: "fixed" });
    expect((await airlock.killSwitchStatus()).global).toMatchObject({ active: false });
    expect((await airlock.chat({ operation: "chat_message", messages: [{ role: "user", content: "hi" }] })).model).toBe("oai/o4-mini");
  });

  it("transcribes and speaks in process, billed by the second and by the character", async () => {
    const { upstream } = await setup();
    const airlock = createAirlock({
      config: {
        providers: { openai: { type: "openai-compatible" as const, baseUrl: upstream.url, apiKey: "k" } },
        models: [
          { id: "openai/whisper-1", kind: "transcription" as const, price: { input: "0", audioMinute: "0.006", per: "1M" as const } },
          { id: "openai/tts-1", kind: "speech" as const, price: { input: "0", characters: "15", per: "1M" as const } },
        ],
      },
      inMemory: true,
    });
    cleanups.push(() => airlock.close());
    const heard = await airlock.transcribe({ model: "openai/whisper-1", file: new File([new Uint8Array([1, 2, 3])], "clip.mp3", { type: "audio/mpeg" }), fields: { language: "en" } });
    expect(JSON.parse(new TextDecoder().decode(heard.body)).text).toBe(fixtureJson("openai/transcription").text);
    // 61.5 s reported: 0.006 × 61.5 / 60
    expect(heard).toMatchObject({ model: "openai/whisper-1", cost: "0.00615", contentType: "application/json" });
    expect(heard.usage.audioSeconds).toBe(61.5);
    expect(upstream.requests.at(-1)!.body).toMatchObject({ model: "whisper-1", language: "en", file: { name: "clip.mp3", size: 3 } });

    const spoken = await airlock.speak({ model: "openai/tts-1", input: "Hello", voice: "alloy", params: { speed: 1.25 } });
    expect(spoken).toMatchObject({ cost: "0.000075", contentType: "audio/mpeg" });
    expect(spoken.usage.characters).toBe(5);
    expect(upstream.requests.at(-1)!.body).toEqual({ model: "tts-1", input: "Hello", voice: "alloy", speed: 1.25 });
  });

  it("chats, streams and embeds with cost and attempts, keeps a second instance off its store, and close() flushes every call to the ledger", async () => {
    const { dataDir, upstream } = await setup();
    const airlock = createAirlock({ config: config(upstream.url), dataDir });

    const reply = await airlock.chat({ operation: "chat_message", user: "alice", messages: [{ role: "user", content: "capital of France?" }] });
    expect(reply.content).toBe(fixtureJson("openai/chat").choices[0].message.content);
    expect(reply).toMatchObject({ model: "oai/o4-mini", provider: "oai", cost: "0.0016357", finishReason: "stop" });
    expect(reply.usage).toMatchObject({ inputTokens: 1843, cachedInputTokens: 1536, outputTokens: 199, reasoningTokens: 192 });
    expect(reply.attempts).toHaveLength(1);

    const parts: StreamPart[] = [];
    for await (const part of airlock.stream({ operation: "chat_message", messages: [{ role: "user", content: "again" }] })) parts.push(part);
    const last = parts.at(-1)!;
    expect(last.type).toBe("done");
    expect(parts.slice(0, -1).every((p) => p.type === "text")).toBe(true);
    expect(parts.map((p) => (p.type === "text" ? p.text : "")).join("")).toBe(reply.content);
    expect(last.type === "done" && last.cost).toBe(reply.cost);

    const embedded = await airlock.embed({ operation: "embed_docs", input: ["one", "two"] });
    expect(embedded.embeddings.length).toBe(fixtureJson("openai/embeddings").data.length);
    expect(embedded.model).toBe("oai/text-embedding-3-small");

    // A second instance on the same directory would be a second Postgres on the same files: it is refused.
    const second = createAirlock({ config: config(upstream.url), dataDir });
    await expect(second.chat({ operation: "chat_message", messages: [{ role: "user", content: "hi" }] })).rejects.toSatisfy((err) => err instanceof StoreInUseError && err.holderPid === process.pid);
    await expect(second.chat({ operation: "chat_message", messages: [{ role: "user", content: "hi" }] })).rejects.toThrow(`is already open in this process (pid ${process.pid}), by another Airlock instance`);
    await second.close();
    await expect(airlock.chat({ operation: "chat_message", messages: [{ role: "user", content: "still here?" }] })).resolves.toMatchObject({ cost: expect.any(String) });

    await airlock.close();
    const database = await openDatabase({ dataDir: path.join(dataDir, "pgdata") });
    try {
      const rows = await recentLedgerRows(database.db, 10);
      expect(rows.map((r) => [r.endpoint, r.stream, r.operation, r.outcome]).sort()).toEqual([
        ["chat", false, "chat_message", "success"],
        ["chat", false, "chat_message", "success"],
        ["chat", true, "chat_message", "success"],
        ["embeddings", false, "embed_docs", "success"],
      ]);
      expect(rows.find((r) => r.endUser === "alice")).toBeDefined();
    } finally {
      await database.close();
    }
  });

  it("lets a stream run past the per-attempt timeout once its first event has arrived", async () => {
    const airlock = createAirlock({
      config: {
        providers: { m: { type: "mock", chunkDelayMs: 40, reply: "one two three four five six seven eight nine ten" } },
        models: [{ id: "m/slow", price: { input: "1", output: "1" } }],
        operations: { slow: { model: "m/slow", timeoutMs: 150 } },
      },
      inMemory: true,
    });
    cleanups.push(() => airlock.close());
    let text = "";
    let done = false;
    for await (const part of airlock.stream({ operation: "slow", messages: [{ role: "user", content: "go" }] })) {
      if (part.type === "text") text += part.text;
      else done = true;
    }
    expect(text).toBe("one two three four five six seven eight nine ten");
    expect(done).toBe(true);
  });

  it("rejects an invalid config where it is written, naming the field", () => {
    expect(() => createAirlock({ config: { providers: {}, models: [{ id: "x/y", price: { input: "free" } }] } as never, inMemory: true })).toThrow(/models\.0\.price\.input/);
  });

  it("refuses an unknown option where it is written, rather than ignore it", () => {
    const create = createAirlock as (options?: unknown) => unknown;
    // A typo must not leave a store on disk in the working directory.
    expect(() => create({ config: { providers: {}, models: [] }, inMemry: true })).toThrow(ConfigError);
    expect(() => create({ config: { providers: {}, models: [] }, inMemry: true })).toThrow('createAirlock(): unknown option "inMemry"');
    // A configuration without `providers` reads as options: it must not be served the demo instead.
    expect(() => create({ models: [], operations: {} })).toThrow('createAirlock(): unknown options "models", "operations"');
    expect(() => create(null)).toThrow(ConfigError);
    // One `instanceof AirlockError` check sees it too: misconfigured, which no retry mends.
    expect(() => create(null)).toThrow(expect.objectContaining({ name: "ConfigError", code: "misconfigured", status: 500, isRetryable: false }));
    expect(() => create(null)).toThrow(AirlockError);
    expect(() => create("airlock.config.yaml")).toThrow(/for a file, pass \{ config: "path\/to\/airlock.config.yaml" \}/);
  });

  it("throws typed errors from the taxonomy", async () => {
    const { upstream } = await setup();
    const airlock = createAirlock({ config: config(upstream.url), inMemory: true });
    cleanups.push(() => airlock.close());
    const error = await airlock.chat({ model: "oai/unknown", messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AirlockError);
    expect(error).toMatchObject({ code: "not_found", status: 404 });
  });

  it("names the failed call's ledger row in the error's requestId, as the gateway's x-request-id does", async () => {
    const { dataDir, upstream } = await setup();
    const airlock = createAirlock({ config: config(upstream.url), dataDir });
    const failures: AirlockError[] = [];
    const keep = (err: unknown) => failures.push(err as AirlockError);
    await airlock.chat({ operation: "chat_message", messages: [{ role: "robot", content: "x" }] as never }).catch(keep);
    upstream.push({ kind: "error", status: 400 });
    await airlock.chat({ operation: "chat_message", messages: [{ role: "user", content: "x" }] }).catch(keep);
    upstream.push({ kind: "error", status: 400 });
    await (async () => {
      for await (const part of airlock.stream({ operation: "chat_message", messages: [{ role: "user", content: "x" }] })) void part;
    })().catch(keep);
    await airlock.embed({ model: "oai/no-such-model", input: "x" }).catch(keep);
    expect(failures.map((err) => [err instanceof AirlockError, err.code])).toEqual([
      [true, "invalid_request"],
      [true, "invalid_request"],
      [true, "invalid_request"],
      [true, "not_found"],
    ]);
    await airlock.close();
    const database = await openDatabase({ dataDir: path.join(dataDir, "pgdata") });
    try {
      const rows = await recentLedgerRows(database.db, 10);
      expect(rows).toHaveLength(4);
      for (const err of failures) {
        expect(err.requestId).toMatch(/^req_/);
        expect(rows.find((row) => row.requestId === err.requestId)).toMatchObject({ errorCode: err.code });
      }
      expect(new Set(failures.map((err) => err.requestId)).size).toBe(4);
    } finally {
      await database.close();
    }
  });
});
