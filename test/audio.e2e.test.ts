import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUDIO_MEASURE_MS } from "../src/calls/audio.js";
import { SPEECH_BYTES } from "./fakes/audio.js";
import { fixtureJson, startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { startTestGateway, type TestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * Transcription and speech through the gateway with the official SDK: the bytes pass through both
 * ways, and the ledger bills the units these models are priced in (bundled catalog: whisper-1 at
 * $0.006 a minute, tts-1 at $15 per 1M characters).
 */

/** A real WAV file: 16-bit mono PCM at 8 kHz, `seconds` long, so its header states its length. */
function wav(seconds: number): Buffer {
  const rate = 8000;
  const data = Buffer.alloc(Math.round(seconds * rate) * 2);
  for (let i = 0; i < data.length / 2; i++) data.writeInt16LE(Math.round(8000 * Math.sin((i / rate) * 2 * Math.PI * 440)), i * 2);
  const header = Buffer.alloc(44);
  header.write("RIFF", 0, "latin1");
  header.writeUInt32LE(36 + data.length, 4);
  header.write("WAVEfmt ", 8, "latin1");
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36, "latin1");
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

const trim = (cost: string) => cost.replace(/0+$/, "").replace(/\.$/, "");

describe.each(STORE_KINDS)("audio on %s", (kind) => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  const audio = wav(2.5);

  beforeAll(async () => {
    upstream = await startFakeUpstream("openai");
    gw = await startTestGateway(kind, {
      providers: {
        openai: { type: "openai-compatible", baseUrl: upstream.url, apiKey: "sk-upstream" },
        anth: { type: "anthropic", baseUrl: "http://127.0.0.1:9" },
      },
      models: [
        { id: "openai/whisper-1", kind: "transcription" },
        { id: "openai/gpt-4o-transcribe", kind: "transcription", price: { input: "2.5", audioInput: "6", output: "10", per: "1M" } },
        { id: "openai/gpt-4o-mini-transcribe", kind: "transcription" }, // the bundled catalog's price
        { id: "openai/tts-1", kind: "speech" },
        { id: "openai/gpt-4.1-mini", price: { input: "0.4", output: "1.6", per: "1M" } },
        { id: "anth/claude-voice", kind: "transcription", price: { input: "1", per: "1M" } },
      ],
      operations: { dictation: { model: "anth/claude-voice", fallbacks: ["openai/whisper-1"] } },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  async function rowFor(requestId: string | null) {
    const row = (await gw.plane.reports.recentCalls(50)).find((r) => r.requestId === requestId);
    if (!row) throw new Error(`no ledger row for ${requestId}`);
    return row;
  }

  it("transcribes, forwards the file and fields untouched, and bills the reported seconds", async () => {
    const { data, response } = await gw
      .client()
      .audio.transcriptions.create({ model: "openai/whisper-1", file: await toFile(audio, "note.wav", { type: "audio/wav" }), language: "en" })
      .withResponse();
    expect(data.text).toBe(fixtureJson("openai/transcription").text);
    // 61.5 s at $0.006 a minute: 0.006 × 61.5 / 60 = 0.00615
    expect(response.headers.get("x-airlock-cost")).toBe("0.00615");
    const sent = upstream.requests.at(-1)!;
    expect(sent.path).toBe("/v1/audio/transcriptions");
    expect(sent.headers.authorization).toBe("Bearer sk-upstream");
    expect(sent.body).toMatchObject({ model: "whisper-1", language: "en", file: { name: "note.wav", size: audio.length } });
    expect(Buffer.from(sent.body.file.bytes).equals(audio)).toBe(true);
    const row = await rowFor(response.headers.get("x-request-id"));
    expect(row).toMatchObject({ endpoint: "transcriptions", model: "openai/whisper-1", outcome: "success", audioSeconds: "61.500", usageEstimated: false, priceMissing: false });
    expect(trim(row.cost)).toBe("0.00615");
  });

  it("bills the duration of a verbose_json answer", async () => {
    const { data, response } = await gw
      .client()
      .audio.transcriptions.create({ model: "openai/whisper-1", file: await toFile(audio, "note.wav"), response_format: "verbose_json" })
      .withResponse();
    expect(data.duration).toBe(7.25);
    // 0.006 × 7.25 / 60 = 0.000725
    expect(trim((await rowFor(response.headers.get("x-request-id"))).cost)).toBe("0.000725");
  });

  it("reads the audio's length from the file when the answer is plain text, and flags the row", async () => {
    const { data, response } = await gw
      .client()
      .audio.transcriptions.create({ model: "openai/whisper-1", file: await toFile(audio, "note.wav"), response_format: "text" })
      .withResponse();
    expect(String(data).trim()).toBe(fixtureJson("openai/transcription").text);
    const row = await rowFor(response.headers.get("x-request-id"));
    // The WAV header says 2.5 s: 0.006 × 2.5 / 60 = 0.00025
    expect(row).toMatchObject({ audioSeconds: "2.500", usageEstimated: true });
    expect(trim(row.cost)).toBe("0.00025");
  });

  it("takes a file it cannot read as 128 kbit/s audio, never as a short one", async () => {
    const noise = Buffer.alloc(32_000, 7); // no container header: 32,000 bytes at 16,000 a second
    const { response } = await gw.client().audio.transcriptions.create({ model: "openai/whisper-1", file: await toFile(noise, "noise.bin"), response_format: "text" }).withResponse();
    const row = await rowFor(response.headers.get("x-request-id"));
    // 2 s at $0.006 a minute
    expect(row).toMatchObject({ audioSeconds: "2.000", usageEstimated: true });
    expect(trim(row.cost)).toBe("0.0002");
  });

  it("gives up reading a length that takes too long, bills the size figure, and keeps answering other calls meanwhile", async () => {
    // 0xFF bytes look like endless MP3 frame headers: music-metadata searches them at seconds per 100 KB.
    const junk = Buffer.alloc(1_000_000, 0xff);
    const started = Date.now();
    const upload = gw.client().audio.transcriptions.create({ model: "openai/whisper-1", file: await toFile(junk, "a.mp3"), response_format: "text" }).withResponse();
    // The timer itself fires only if the parse lets the event loop turn.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await gw.client().chat.completions.create({ model: "openai/gpt-4.1-mini", messages: [{ role: "user", content: "hi" }] });
    expect(Date.now() - started).toBeLessThan(2_000);
    const { response } = await upload;
    expect(Date.now() - started).toBeLessThan(AUDIO_MEASURE_MS + 5_000);
    // 1,000,000 bytes at 16,000 a second, rounded up
    expect(await rowFor(response.headers.get("x-request-id"))).toMatchObject({ audioSeconds: "63.000", usageEstimated: true });
  });

  it("charges the missing price for audio seconds a token-priced model has no price for, and flags it", async () => {
    const { response } = await gw.client().audio.transcriptions.create({ model: "openai/gpt-4o-transcribe", file: await toFile(audio, "note.wav"), response_format: "text" }).withResponse();
    const row = await rowFor(response.headers.get("x-request-id"));
    // pricing.missingPrice.audioMinute is $0.05: 0.05 × 2.5 / 60 = 0.0020833…, kept to 12 places
    expect(row).toMatchObject({ audioSeconds: "2.500", usageEstimated: true, priceMissing: true });
    expect(trim(row.cost)).toBe("0.002083333333");
  });

  it("bills token-priced transcription models by their reported tokens, audio in at its own rate", async () => {
    upstream.push({ kind: "ok", fixture: "openai/transcription-tokens" });
    const { response } = await gw.client().audio.transcriptions.create({ model: "openai/gpt-4o-transcribe", file: await toFile(audio, "note.wav") }).withResponse();
    const row = await rowFor(response.headers.get("x-request-id"));
    // 1024 audio input × 6 + 15 output × 10 = 6294 per 1M
    expect(row).toMatchObject({ inputTokens: 1024, audioInputTokens: 1024, outputTokens: 15, audioSeconds: null });
    expect(trim(row.cost)).toBe("0.006294");
    expect(response.headers.get("x-airlock-cost")).toBe("0.006294");
  });

  it("bills a transcription's prompt tokens at the text rate and its audio tokens at the audio rate, from the bundled catalog too", async () => {
    upstream.push({ kind: "ok", fixture: "openai/transcription-tokens-prompt" }, { kind: "ok", fixture: "openai/transcription-tokens-prompt" });
    const file = async () => toFile(audio, "note.wav");
    const own = await gw.client().audio.transcriptions.create({ model: "openai/gpt-4o-transcribe", file: await file(), prompt: "Airlock, ledger" }).withResponse();
    // 76 text × 2.5 + 1024 audio × 6 + 15 × 10 = 190 + 6144 + 150 = 6484 per 1M
    expect(trim((await rowFor(own.response.headers.get("x-request-id"))).cost)).toBe("0.006484");
    const bundled = await gw.client().audio.transcriptions.create({ model: "openai/gpt-4o-mini-transcribe", file: await file(), prompt: "Airlock, ledger" }).withResponse();
    const row = await rowFor(bundled.response.headers.get("x-request-id"));
    // 76 text × 1.25 + 1024 audio × 3 + 15 × 5 = 95 + 3072 + 75 = 3242 per 1M
    expect(row).toMatchObject({ inputTokens: 1100, audioInputTokens: 1024, outputTokens: 15, priceMissing: false });
    expect(trim(row.cost)).toBe("0.003242");
  });

  it("speaks: the audio bytes come back as they left the upstream, billed by the character", async () => {
    const input = "Hello from Airlock. 👋";
    const response = await gw.client().audio.speech.create({ model: "openai/tts-1", voice: "alloy", input });
    expect(response.headers.get("content-type")).toBe("audio/mpeg");
    expect(Buffer.from(await response.arrayBuffer()).equals(SPEECH_BYTES)).toBe(true);
    expect(upstream.requests.at(-1)!.body).toEqual({ model: "tts-1", voice: "alloy", input });
    const row = await rowFor(response.headers.get("x-request-id"));
    // 21 characters (the wave is one): 21 × 15 / 1e6 = 0.000315
    expect(row).toMatchObject({ endpoint: "speech", characters: 21, usageEstimated: false });
    expect(trim(row.cost)).toBe("0.000315");
  });

  it("lists audio models after chat models, each kind together", async () => {
    const ids = (await gw.client().models.list()).data.map((m) => m.id);
    expect(ids.slice(0, 6)).toEqual(["openai/gpt-4.1-mini", "openai/whisper-1", "openai/gpt-4o-transcribe", "openai/gpt-4o-mini-transcribe", "anth/claude-voice", "openai/tts-1"]);
  });

  it("moves past a provider whose adapter has no audio endpoint, without calling it", async () => {
    const { response } = await gw.client().audio.transcriptions.create({ model: "dictation", file: await toFile(audio, "note.wav") }).withResponse();
    const row = await rowFor(response.headers.get("x-request-id"));
    expect(row).toMatchObject({ operation: "dictation", model: "openai/whisper-1", outcome: "success", fallbacks: 1 });
    expect(row.attempts.map((a) => [a.model, a.outcome])).toEqual([
      ["anth/claude-voice", "error"],
      ["openai/whisper-1", "success"],
    ]);
  });

  it("refuses bad audio requests with a clear error, and records them", async () => {
    const noFile = await fetch(`${gw.url}/v1/audio/transcriptions`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.adminKey}` },
      body: (() => {
        const form = new FormData();
        form.append("model", "openai/whisper-1");
        return form;
      })(),
    });
    expect(noFile.status).toBe(400);
    expect(await noFile.json()).toMatchObject({ error: { code: "invalid_request", param: "file" } });
    expect(await rowFor(noFile.headers.get("x-request-id"))).toMatchObject({ endpoint: "transcriptions", outcome: "refused" });

    const twoFiles = await fetch(`${gw.url}/v1/audio/transcriptions`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.adminKey}` },
      body: (() => {
        const form = new FormData();
        form.append("model", "openai/whisper-1");
        form.append("file", new Blob([audio]), "first.wav");
        form.append("file", new Blob([audio]), "second.wav");
        return form;
      })(),
    });
    expect(twoFiles.status).toBe(400);
    expect(await twoFiles.json()).toMatchObject({ error: { code: "invalid_request", param: "file" } });
    expect(await rowFor(twoFiles.headers.get("x-request-id"))).toMatchObject({ endpoint: "transcriptions", outcome: "refused" });

    const manyParts = new FormData();
    manyParts.append("model", "openai/whisper-1");
    manyParts.append("file", new Blob([audio]), "speech.wav");
    for (let i = 0; i < 5_000; i++) manyParts.append("language", "en");
    const flooded = await fetch(`${gw.url}/v1/audio/transcriptions`, { method: "POST", headers: { authorization: `Bearer ${gw.adminKey}` }, body: manyParts });
    expect(flooded.status).toBe(400);
    expect(await flooded.json()).toMatchObject({ error: { code: "invalid_request", message: expect.stringContaining("more than 100 parts") } });
    expect(await rowFor(flooded.headers.get("x-request-id"))).toMatchObject({ endpoint: "transcriptions", outcome: "refused" });

    const chatModel = gw.client().audio.speech.create({ model: "openai/gpt-4.1-mini", voice: "alloy", input: "hi" });
    await expect(chatModel).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(chatModel).rejects.toMatchObject({ code: "invalid_request", message: expect.stringContaining("cannot serve speech") });

    const noInput = await fetch(`${gw.url}/v1/audio/speech`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "openai/tts-1", voice: "alloy" }),
    });
    expect(noInput.status).toBe(400);
    expect(await noInput.json()).toMatchObject({ error: { code: "invalid_request", param: "input" } });
  });
});

describe("a missingPrice written for tokens alone", () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    upstream = await startFakeUpstream("openai");
    gw = await startTestGateway("pglite", {
      // As examples/airlock.config.yaml writes it: no characters, no audioMinute.
      pricing: { missingPrice: { input: "10", output: "30", per: "1M" } },
      providers: { openai: { type: "openai-compatible", baseUrl: upstream.url } },
      models: [
        { id: "openai/house-whisper", kind: "transcription" },
        { id: "openai/house-tts", kind: "speech" },
      ],
    });
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it("still charges unpriced audio seconds and characters at the default's unit prices, never $0", async () => {
    const heard = await gw.client().audio.transcriptions.create({ model: "openai/house-whisper", file: await toFile(wav(2.5), "note.wav"), response_format: "text" }).withResponse();
    const spoken = await gw.client().audio.speech.create({ model: "openai/house-tts", voice: "alloy", input: "Hello from Airlock. 👋" }).withResponse();
    const rows = await gw.plane.reports.recentCalls(10);
    const row = (res: Response) => rows.find((r) => r.requestId === res.headers.get("x-request-id"));
    // $0.05 a minute: 0.05 × 2.5 / 60; $30 per 1M characters: 21 × 30 / 1e6
    expect(row(heard.response)).toMatchObject({ audioSeconds: "2.500", priceMissing: true });
    expect(trim(row(heard.response)!.cost)).toBe("0.002083333333");
    expect(row(spoken.response)).toMatchObject({ characters: 21, priceMissing: true });
    expect(trim(row(spoken.response)!.cost)).toBe("0.00063");
  });
});
