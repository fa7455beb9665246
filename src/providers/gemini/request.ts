import { AirlockError } from "../../core/errors.js";
import { ProviderError } from "../errors.js";
import type { ChatMessage, ChatRequest, ContentPart, EmbedRequest, ToolCall } from "../spec.js";
import { refuseUntranslated } from "../untranslated.js";
import { imageUrl, isObject, messageText, text } from "../wire.js";
import { thinkingConfig } from "./thinking.js";
import type {
  GeminiContent,
  GeminiEmbedRequest,
  GeminiFunctionDeclaration,
  GeminiGenerationConfig,
  GeminiPart,
  GeminiRequest,
  GeminiToolConfig,
} from "./wire.js";

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

/**
 * Google's documented stand-in for a thought signature the caller cannot supply. OpenAI-shaped history
 * has nowhere to keep the signature Gemini returned with a function call, and Gemini 3 refuses a replayed
 * function call without one (400); 2.5 models accept it too.
 */
export const SKIP_THOUGHT_SIGNATURE = "skip_thought_signature_validator";

/**
 * Translates an OpenAI chat request into a generateContent body. The model travels in the URL, not
 * the body. reasoning_effort becomes a thinking budget or level (thinking.ts). Fields that change nothing
 * in the answer (user, store, metadata, service_tier, prediction) are dropped, as docs/providers.md
 * says; penalties, logit_bias, logprobs, parallel_tool_calls false, audio output and the deprecated
 * function calling, which would be answered without what they ask for, are refused (untranslated.ts).
 */
export function toGeminiRequest(request: ChatRequest, provider: string): GeminiRequest {
  refuseUntranslated(request, provider, "gemini", ["parallel_tool_calls"]);
  const system: string[] = [];
  const contents: GeminiContent[] = [];
  // Filled as the assistant turns go by, so that a result is named after the call just before it: ids
  // repeat across turns (this adapter numbers each answer's calls from call_0).
  const toolNames = new Map<string, string>();
  for (const message of request.messages) {
    switch (message.role) {
      case "system":
      case "developer":
        system.push(messageText(message.content));
        break;
      case "user":
        append(contents, "user", userParts(message.content, provider));
        break;
      case "assistant":
        append(contents, "model", modelParts(message));
        for (const call of message.tool_calls ?? []) toolNames.set(call.id, call.function.name);
        break;
      case "tool":
        append(contents, "user", [functionResponse(message, toolNames)]);
        break;
    }
  }

  const out: GeminiRequest = { contents };
  if (system.length > 0) out.systemInstruction = { parts: [{ text: system.join("\n\n") }] };
  const generationConfig = toGenerationConfig(request);
  const thinking = thinkingConfig(request, provider);
  if (thinking !== undefined) generationConfig.thinkingConfig = thinking;
  if (Object.keys(generationConfig).length > 0) out.generationConfig = generationConfig;
  if (Array.isArray(request.tools) && request.tools.length > 0) out.tools = [{ functionDeclarations: request.tools.map(toDeclaration) }];
  const toolConfig = toToolConfig(request.tool_choice);
  if (toolConfig !== undefined) out.toolConfig = toolConfig;
  return out;
}

/** One batchEmbedContents request per input; Gemini embeds text only, so token-id inputs go elsewhere. */
export function toGeminiEmbedRequest(request: EmbedRequest, provider: string): GeminiEmbedRequest {
  const inputs = typeof request.input === "string" ? [request.input] : request.input;
  if (!inputs.every((input): input is string => typeof input === "string")) {
    throw new ProviderError(`${provider}: gemini embeds text only, not token arrays`, { kind: "unsupported", provider, fallbackable: true });
  }
  const model = `models/${request.model}`;
  return {
    requests: inputs.map((input) => ({
      model,
      content: { parts: [{ text: input }] },
      ...(request.dimensions !== undefined ? { outputDimensionality: request.dimensions } : {}),
    })),
  };
}

function toGenerationConfig(request: ChatRequest): GeminiGenerationConfig {
  const config: GeminiGenerationConfig = {};
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (maxTokens !== undefined) config.maxOutputTokens = maxTokens;
  if (request.temperature !== undefined) config.temperature = request.temperature;
  if (request.top_p !== undefined) config.topP = request.top_p;
  if (request.stop !== undefined) config.stopSequences = typeof request.stop === "string" ? [request.stop] : request.stop;
  if (request.n !== undefined) config.candidateCount = request.n;
  if (typeof request.seed === "number") config.seed = request.seed;
  const format = isObject(request.response_format) ? request.response_format : undefined;
  if (format?.type === "json_object" || format?.type === "json_schema") config.responseMimeType = "application/json";
  if (format?.type === "json_schema" && isObject(format.json_schema) && format.json_schema.schema !== undefined) {
    config.responseJsonSchema = format.json_schema.schema;
  }
  return config;
}

/**
 * Gemini turns must not hold empty parts, and all functionResponses answering one model turn belong in
 * the one user turn after it (OpenAI sends each as its own message): merging same-role neighbours does both.
 */
function append(contents: GeminiContent[], role: GeminiContent["role"], parts: GeminiPart[]): void {
  if (parts.length === 0) return;
  const last = contents[contents.length - 1];
  if (last !== undefined && last.role === role) last.parts.push(...parts);
  else contents.push({ role, parts });
}

function userParts(content: ChatMessage["content"], provider: string): GeminiPart[] {
  if (content === null || content === undefined) return [];
  if (typeof content === "string") return [{ text: content }];
  return content.map((part) => toPart(part, provider));
}

function modelParts(message: ChatMessage): GeminiPart[] {
  const parts: GeminiPart[] = [];
  const content = messageText(message.content);
  if (content !== "") parts.push({ text: content });
  (message.tool_calls ?? []).forEach((call, i) => {
    const part: GeminiPart = { functionCall: { name: call.function.name, args: toolArgs(call) } };
    // Gemini expects the signature on the first function call of a step only (parallel calls share it).
    if (i === 0) part.thoughtSignature = SKIP_THOUGHT_SIGNATURE;
    parts.push(part);
  });
  return parts;
}

/**
 * A functionResponse names the function, but OpenAI tool messages carry only the call's id: `names` maps
 * the ids of the calls made so far to their functions. Gemini wants the result as a JSON object; its docs read an `output` key as the function's output.
 * A JSON-object answer is sent as it is, anything else under `output`.
 */
function functionResponse(message: ChatMessage, names: Map<string, string>): GeminiPart {
  const name = (message.tool_call_id === undefined ? undefined : names.get(message.tool_call_id)) ?? message.name;
  if (name === undefined) {
    throw new AirlockError("invalid_request", "a tool message needs the tool_call_id of an earlier assistant tool call", { param: "messages" });
  }
  const output = messageText(message.content);
  let response: Record<string, unknown> = { output };
  try {
    const parsed: unknown = JSON.parse(output);
    response = isObject(parsed) ? parsed : { output: parsed };
  } catch {
    // plain text stays under `output`
  }
  return { functionResponse: { name, response } };
}

function toPart(part: ContentPart, provider: string): GeminiPart {
  if (part.type === "text") return { text: part.text };
  const kind = part.type as string;
  if (kind === "file" || kind === "input_audio") return mediaPart(part, kind, provider);
  if (part.type !== "image_url") {
    // Other part kinds are not translated here; an OpenAI-compatible sibling may take them.
    throw new ProviderError(`${provider}: gemini takes text, image, file and audio parts only, not ${String(kind)}`, { kind: "unsupported", provider, fallbackable: true });
  }
  const url = imageUrl(part);
  const inline = DATA_URL.exec(url);
  if (inline !== null) return { inlineData: { mimeType: inline[1]!, data: inline[2]! } };
  if (url.startsWith("https://") || url.startsWith("http://")) {
    // The Gemini API fetches a file by its URL (a public or signed URL, or its own Files API URI) given
    // as fileData. The MIME type is read from the file name where it has one; without, Gemini works it out.
    const mimeType = imageMimeType(url);
    return { fileData: { fileUri: url, ...(mimeType !== undefined ? { mimeType } : {}) } };
  }
  throw new AirlockError("invalid_request", "an image must be a base64 data: URL or an http(s) URL", { param: "messages" });
}

/**
 * An OpenAI `file` part with its bytes as a base64 data: URL (a PDF, …), or an `input_audio` part (base64
 * wav or mp3), becomes inlineData, which Gemini reads for documents and audio alike. A file id names a
 * file stored at OpenAI, which Gemini cannot read: left to a sibling.
 */
function mediaPart(part: unknown, kind: "file" | "input_audio", provider: string): GeminiPart {
  const body = isObject(part) ? part[kind] : undefined;
  if (kind === "input_audio") {
    if (isObject(body) && typeof body.data === "string" && typeof body.format === "string") {
      return { inlineData: { mimeType: `audio/${body.format}`, data: body.data } };
    }
    throw new AirlockError("invalid_request", "an input_audio part needs input_audio.data and input_audio.format", { param: "messages" });
  }
  const inline = isObject(body) && typeof body.file_data === "string" ? DATA_URL.exec(body.file_data) : null;
  if (inline === null) {
    throw new ProviderError(`${provider}: gemini takes file parts only with their data (file_data as a base64 data: URL), not file ids`, { kind: "unsupported", provider, fallbackable: true });
  }
  return { inlineData: { mimeType: inline[1]!, data: inline[2]! } };
}

const IMAGE_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  heic: "image/heic",
  heif: "image/heif",
};

/** The image type an URL's file name says (`.../cat.JPG?size=2` → image/jpeg), or undefined. */
function imageMimeType(url: string): string | undefined {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return undefined;
  }
  const extension = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  return extension === undefined ? undefined : IMAGE_TYPES[extension];
}

/** Gemini's args is a JSON object (a protobuf Struct), not a string. */
function toolArgs(call: ToolCall): Record<string, unknown> {
  if (call.function.arguments.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(call.function.arguments);
  } catch {
    throw new AirlockError("invalid_request", "tool call arguments are not valid JSON", { param: "messages" });
  }
  if (!isObject(parsed)) throw new AirlockError("invalid_request", "tool call arguments must be a JSON object", { param: "messages" });
  return parsed;
}

function toDeclaration(tool: unknown): GeminiFunctionDeclaration {
  const fn = isObject(tool) && tool.type === "function" && isObject(tool.function) ? tool.function : undefined;
  const name = fn === undefined ? undefined : text(fn.name);
  if (fn === undefined || name === undefined) {
    throw new AirlockError("invalid_request", "only function tools can be sent to gemini", { param: "tools" });
  }
  const out: GeminiFunctionDeclaration = { name };
  const description = text(fn.description);
  if (description !== undefined) out.description = description;
  if (fn.parameters !== undefined) out.parametersJsonSchema = fn.parameters;
  return out;
}

function toToolConfig(choice: unknown): GeminiToolConfig | undefined {
  if (choice === "auto") return { functionCallingConfig: { mode: "AUTO" } };
  if (choice === "none") return { functionCallingConfig: { mode: "NONE" } };
  if (choice === "required") return { functionCallingConfig: { mode: "ANY" } };
  if (isObject(choice) && isObject(choice.function) && typeof choice.function.name === "string") {
    return { functionCallingConfig: { mode: "ANY", allowedFunctionNames: [choice.function.name] } };
  }
  return undefined;
}

