import type { IncomingMessage, ServerResponse } from "node:http";
import type { AudioOutcome } from "../../calls/audio.js";
import { AirlockError } from "../../core/errors.js";
import type { SpeechRequest, TranscriptionRequest } from "../../providers/spec.js";
import { requirePrincipal } from "../auth.js";
import type { GatewayContext, Handler, RequestScope } from "../context.js";
import { isObject, readBody } from "../http.js";
import { airlockHeaders, callContext, checkModelName, readValid } from "./openai.js";

/** `POST /v1/audio/transcriptions`: OpenAI's multipart upload, answered in the format the client asked for. */
export function transcriptions(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    const principal = await requirePrincipal(gw.plane, req, scope);
    const ctx = callContext(req, scope, principal);
    let request: TranscriptionRequest;
    try {
      request = await readTranscription(req, gw.audioBodyLimitBytes, gw.bodyTimeoutMs);
    } catch (err) {
      throw gw.plane.refuse(ctx, "transcriptions", undefined, err);
    }
    scope.log.model = request.model;
    sendAudio(res, scope, await gw.plane.transcribe(request, ctx));
  };
}

/** `POST /v1/audio/speech`: JSON in, the upstream's audio bytes out. */
export function speech(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    const principal = await requirePrincipal(gw.plane, req, scope);
    const ctx = callContext(req, scope, principal);
    const request = await readValid(gw, ctx, "speech", req, validateSpeech);
    scope.log.model = request.model;
    sendAudio(res, scope, await gw.plane.speak(request, ctx));
  };
}


/**
 * The most parts a transcription form may have: OpenAI's has about a dozen fields. The form is parsed in
 * one go on the event loop, and a 26 MiB upload of 500,000 one-byte fields held every other request for
 * seconds while it was.
 */
export const MAX_FORM_PARTS = 100;

/** Whether a multipart body holds more than `max` parts, counted by its boundary before anything is parsed. */
function formPartsOver(body: Buffer, type: string, max: number): boolean {
  const boundary = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(type);
  const text = boundary?.[1] ?? boundary?.[2];
  if (!text) return false; // no boundary: the parse refuses it
  const delimiter = Buffer.from(`--${text}`);
  // One delimiter before each part and one closing the form.
  let delimiters = 0;
  for (let at = body.indexOf(delimiter); at >= 0; at = body.indexOf(delimiter, at + delimiter.length)) {
    if (++delimiters > max + 1) return true;
  }
  return false;
}

async function readTranscription(req: IncomingMessage, limitBytes: number, timeoutMs: number): Promise<TranscriptionRequest> {
  const type = req.headers["content-type"] ?? "";
  if (!type.toLowerCase().startsWith("multipart/form-data")) {
    throw new AirlockError("invalid_request", "the body must be multipart/form-data with the audio in a `file` field");
  }
  const body = await readBody(req, limitBytes, timeoutMs);
  if (formPartsOver(body, type, MAX_FORM_PARTS)) {
    throw new AirlockError("invalid_request", `the multipart body has more than ${MAX_FORM_PARTS} parts; a transcription needs its file and a few fields`);
  }
  let form: FormData;
  try {
    form = await new Response(body, { headers: { "content-type": type } }).formData();
  } catch {
    throw new AirlockError("invalid_request", "the multipart body could not be read");
  }
  const file = form.get("file");
  if (file === null || typeof file === "string") throw new AirlockError("invalid_request", "a `file` field with the audio is required", { param: "file" });
  // Only one goes upstream and is billed: a second would be dropped without a word.
  if (form.getAll("file").length > 1) throw new AirlockError("invalid_request", "send one audio file per request; this one has several `file` fields", { param: "file" });
  const model = form.get("model");
  if (model !== null && typeof model !== "string") throw new AirlockError("invalid_request", "model must be text", { param: "model" });
  checkModelName(model ?? undefined);
  if (form.get("stream") === "true") throw new AirlockError("invalid_request", "streamed transcriptions are not supported; leave `stream` unset", { param: "stream" });
  const fields: Array<[string, string]> = [];
  for (const [name, value] of form.entries()) {
    if (name === "file" || name === "model") continue;
    if (typeof value !== "string") throw new AirlockError("invalid_request", `only \`file\` may be a file; \`${name}\` is one too`, { param: name });
    fields.push([name, value]);
  }
  return { model: model ?? "", file, filename: file.name || "audio", fields };
}

function validateSpeech(body: unknown): SpeechRequest {
  if (!isObject(body)) throw new AirlockError("invalid_request", "the body must be a JSON object");
  if (body.model !== undefined && typeof body.model !== "string") throw new AirlockError("invalid_request", "model must be a string", { param: "model" });
  if (typeof body.input !== "string" || body.input.length === 0) throw new AirlockError("invalid_request", "input must be the text to speak", { param: "input" });
  return { ...body, model: body.model ?? "", input: body.input } as SpeechRequest;
}

function sendAudio(res: ServerResponse, scope: RequestScope, outcome: AudioOutcome): void {
  const bytes = outcome.result.body;
  res.writeHead(200, {
    "content-type": outcome.result.contentType,
    "content-length": bytes.byteLength,
    ...airlockHeaders(scope, outcome.model, outcome.provider, outcome.attempts.length),
    "x-airlock-cost": outcome.cost,
  });
  res.end(bytes);
}
