import { describe, expect, it } from "vitest";
import { characterCount, speechResult, transcriptionForm, transcriptionResult } from "./audio.js";

const bytes = (value: unknown) => new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));

describe("openai-compatible audio", () => {
  it("reads the seconds of a duration usage, the tokens of a token usage, and a verbose answer's duration", () => {
    expect(transcriptionResult("application/json", bytes({ text: "x", usage: { type: "duration", seconds: 9 } }))).toMatchObject({ usageReported: true, usage: { audioSeconds: 9, inputTokens: 0 } });
    expect(transcriptionResult("application/json", bytes({ text: "x", usage: { type: "tokens", input_tokens: 14, output_tokens: 45, total_tokens: 59 } }))).toMatchObject({
      usageReported: true,
      usage: { inputTokens: 14, outputTokens: 45 },
    });
    expect(transcriptionResult("application/json; charset=utf-8", bytes({ text: "x", duration: 7.25, segments: [] })).usage.audioSeconds).toBe(7.25);
    // A float duration is kept to the millisecond, as the ledger stores it, so the row reproduces its cost.
    expect(transcriptionResult("application/json", bytes({ text: "x", duration: 8.470000267028809 })).usage.audioSeconds).toBe(8.47);
  });

  it("says usage is unknown for plain text, for JSON without it, and for a body that is not JSON, and keeps the bytes", () => {
    for (const [type, body] of [
      ["text/plain", bytes("hello\n")],
      ["application/json", bytes({ text: "x" })],
      ["application/json", bytes("{not json")],
      ["application/json", bytes({ text: "x", usage: { type: "duration", seconds: -1 } })],
    ] as const) {
      const result = transcriptionResult(type, body);
      expect(result.usageReported).toBe(false);
      expect(result.body).toBe(body);
    }
  });

  it("counts speech characters as code points", () => {
    expect(characterCount("héllo")).toBe(5);
    expect(characterCount("👋🏽")).toBe(2); // a wave and its skin-tone modifier: two code points, four UTF-16 units
    expect(speechResult({ model: "tts-1", input: "Hi 👋", voice: "alloy" }, "audio/mpeg", new Uint8Array(1)).usage.characters).toBe(4);
  });

  it("sends the model first, the caller's fields in order, then the file", async () => {
    const form = transcriptionForm({ model: "whisper-1", file: new Blob([new Uint8Array([1, 2])], { type: "audio/wav" }), filename: "a.wav", fields: [["language", "en"], ["response_format", "text"]] });
    expect([...form.keys()]).toEqual(["model", "language", "response_format", "file"]);
    const file = form.get("file") as File;
    expect([file.name, file.size]).toEqual(["a.wav", 2]);
  });
});
