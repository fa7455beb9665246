import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { readFixture } from "./upstream.js";

/**
 * OpenAI's audio endpoints, as the fake upstream serves them: `POST /v1/audio/transcriptions`
 * (multipart in; JSON, verbose JSON, or plain text out, as `response_format` asks) and
 * `POST /v1/audio/speech` (JSON in, audio bytes out).
 */

export type AudioRoute = "transcriptions" | "speech";

export function audioRouteOf(method: string | undefined, path: string): AudioRoute | undefined {
  if (method !== "POST") return undefined;
  if (path === "/v1/audio/transcriptions") return "transcriptions";
  if (path === "/v1/audio/speech") return "speech";
  return undefined;
}

/** What the fake records of a multipart request: every text field, and the file's name, type and size. */
export async function readMultipart(req: IncomingMessage, raw: Buffer): Promise<Record<string, unknown>> {
  const form = await new Response(raw, { headers: { "content-type": req.headers["content-type"] ?? "" } }).formData();
  const fields: Record<string, unknown> = {};
  for (const [name, value] of form.entries()) {
    fields[name] = typeof value === "string" ? value : { name: value.name, type: value.type, size: value.size, bytes: new Uint8Array(await value.arrayBuffer()) };
  }
  return fields;
}

/** A stand-in for MP3 bytes: an ID3 header and a recognisable body, enough to check they pass through untouched. */
export const SPEECH_BYTES = Buffer.concat([Buffer.from("ID3\u0004\u0000\u0000\u0000\u0000\u0000\u0000", "latin1"), Buffer.alloc(2048, 0x5a)]);

export function answerAudio(route: AudioRoute, body: Record<string, unknown>, fixture: string | undefined, res: ServerResponse, headers: OutgoingHttpHeaders): void {
  if (route === "speech") {
    const format = typeof body.response_format === "string" ? body.response_format : "mp3";
    res.writeHead(200, { ...headers, "content-type": format === "mp3" ? "audio/mpeg" : `audio/${format}`, "content-length": SPEECH_BYTES.length });
    res.end(SPEECH_BYTES);
    return;
  }
  const format = typeof body.response_format === "string" ? body.response_format : "json";
  const payload = JSON.parse(readFixture(fixture ?? (format === "verbose_json" ? "openai/transcription-verbose" : "openai/transcription"), "json"));
  if (format === "text") {
    // Plain text carries no usage at all: the caller has to work the duration out itself.
    res.writeHead(200, { ...headers, "content-type": "text/plain; charset=utf-8" });
    res.end(`${payload.text}\n`);
    return;
  }
  res.writeHead(200, { ...headers, "content-type": "application/json" });
  res.end(JSON.stringify(payload));
}
