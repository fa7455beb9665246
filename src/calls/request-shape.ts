import { AirlockError } from "../core/errors.js";

/**
 * The shape checks of the OpenAI-compatible bodies, run once as a request is read (by the gateway) or
 * a call is made (by the library). What passes here is what every adapter can read without guessing:
 * a malformed part is the caller's to fix (400, with the `param` that names it, as OpenAI does), never
 * an adapter's crash.
 */

const ROLES = new Set(["system", "developer", "user", "assistant", "tool", "function"]);
/** Sampling options that are numbers when sent (null reads as not sent). */
const NUMBER_OPTIONS = ["temperature", "top_p", "presence_penalty", "frequency_penalty"] as const;
/**
 * Counts that are whole numbers of at least 1 when sent. The guards reserve for `max_tokens`: a string
 * there would not bound the answer they reserved for.
 */
const COUNT_OPTIONS = ["max_tokens", "max_completion_tokens", "n"] as const;

export type ChatBody = Record<string, unknown> & { model?: string; stream?: unknown; stream_options?: unknown };

export function validateChat(body: unknown): ChatBody {
  if (!isObject(body)) throw new AirlockError("invalid_request", "the body must be a JSON object");
  if (body.model !== undefined && typeof body.model !== "string") throw new AirlockError("invalid_request", "model must be a string", { param: "model" });
  // An operation with a user template may be called without messages; that is checked once the route is known.
  if (body.messages === undefined) body.messages = [];
  if (!Array.isArray(body.messages)) throw new AirlockError("invalid_request", "messages must be a non-empty array", { param: "messages" });
  body.messages.forEach(checkMessage);
  if (body.stream !== undefined && typeof body.stream !== "boolean") throw new AirlockError("invalid_request", "stream must be a boolean", { param: "stream" });
  checkOptions(body);
  return body as ChatBody;
}

function checkOptions(body: Record<string, unknown>): void {
  for (const name of NUMBER_OPTIONS) {
    const value = body[name];
    if (value !== undefined && value !== null && (typeof value !== "number" || !Number.isFinite(value))) throw new AirlockError("invalid_request", `${name} must be a number`, { param: name });
  }
  for (const name of COUNT_OPTIONS) {
    const value = body[name];
    if (value !== undefined && value !== null && !(Number.isSafeInteger(value) && (value as number) >= 1)) throw new AirlockError("invalid_request", `${name} must be a whole number of at least 1`, { param: name });
  }
  const { tools, stop } = body;
  if (tools !== undefined && tools !== null) {
    if (!Array.isArray(tools)) throw new AirlockError("invalid_request", "tools must be an array", { param: "tools" });
    tools.forEach(checkTool);
  }
  if (stop !== undefined && stop !== null && typeof stop !== "string" && !(Array.isArray(stop) && stop.every((s) => typeof s === "string"))) {
    throw new AirlockError("invalid_request", "stop must be a string or an array of strings", { param: "stop" });
  }
}

/** A function tool needs a named function, which every adapter translates; other kinds go to the adapters that take them. */
function checkTool(tool: unknown, i: number): void {
  const at = `tools[${i}]`;
  if (!isObject(tool) || typeof tool.type !== "string") throw new AirlockError("invalid_request", `${at} must be an object with a type`, { param: at });
  if (tool.type === "function" && !(isObject(tool.function) && typeof tool.function.name === "string")) {
    throw new AirlockError("invalid_request", `${at}.function must be an object with a name`, { param: `${at}.function` });
  }
}

function checkMessage(message: unknown, i: number): void {
  const at = `messages[${i}]`;
  if (!isObject(message) || typeof message.role !== "string" || !ROLES.has(message.role)) {
    throw new AirlockError("invalid_request", `${at} needs a role (system, developer, user, assistant or tool)`, { param: `${at}.role` });
  }
  const content = message.content;
  // OpenAI lets an assistant message leave its content out (it carries tool_calls instead); every other role needs one.
  if (content === undefined && message.role !== "assistant") {
    throw new AirlockError("invalid_request", `${at}.content is required for a ${message.role} message`, { param: `${at}.content` });
  }
  if (Array.isArray(content)) content.forEach((part, j) => checkPart(part, `${at}.content[${j}]`));
  else if (content !== undefined && content !== null && typeof content !== "string") {
    throw new AirlockError("invalid_request", `${at}.content must be a string or an array of parts`, { param: `${at}.content` });
  }
  if (message.tool_calls !== undefined) {
    if (!Array.isArray(message.tool_calls)) throw new AirlockError("invalid_request", `${at}.tool_calls must be an array`, { param: `${at}.tool_calls` });
    message.tool_calls.forEach((call, j) => checkToolCall(call, `${at}.tool_calls[${j}]`));
  }
  for (const field of ["tool_call_id", "name"] as const) {
    if (message[field] !== undefined && typeof message[field] !== "string") throw new AirlockError("invalid_request", `${at}.${field} must be a string`, { param: `${at}.${field}` });
  }
}

/** Text and image parts are read by every adapter and checked in full; other kinds (audio, files) go to the adapters that take them. */
function checkPart(part: unknown, at: string): void {
  if (!isObject(part) || typeof part.type !== "string") {
    throw new AirlockError("invalid_request", `${at} must be an object with a type`, { param: at });
  }
  if (part.type === "text" && typeof part.text !== "string") {
    throw new AirlockError("invalid_request", `${at}.text must be a string`, { param: `${at}.text` });
  }
  if (part.type === "image_url" && !(isObject(part.image_url) && typeof part.image_url.url === "string")) {
    throw new AirlockError("invalid_request", `${at}.image_url must be an object with a url`, { param: `${at}.image_url` });
  }
}

function checkToolCall(call: unknown, at: string): void {
  if (!isObject(call)) throw new AirlockError("invalid_request", `${at} must be an object`, { param: at });
  if (typeof call.id !== "string") throw new AirlockError("invalid_request", `${at}.id must be a string`, { param: `${at}.id` });
  if (call.type !== undefined && call.type !== "function") throw new AirlockError("invalid_request", `${at}.type must be "function"`, { param: `${at}.type` });
  const fn = call.function;
  if (!isObject(fn)) throw new AirlockError("invalid_request", `${at}.function must be an object`, { param: `${at}.function` });
  if (typeof fn.name !== "string") throw new AirlockError("invalid_request", `${at}.function.name must be a string`, { param: `${at}.function.name` });
  if (typeof fn.arguments !== "string") throw new AirlockError("invalid_request", `${at}.function.arguments must be a string of JSON`, { param: `${at}.function.arguments` });
}

export function validateEmbed(body: unknown): Record<string, unknown> & { model?: string } {
  if (!isObject(body)) throw new AirlockError("invalid_request", "the body must be a JSON object");
  if (body.model !== undefined && typeof body.model !== "string") throw new AirlockError("invalid_request", "model must be a string", { param: "model" });
  return body as Record<string, unknown> & { model?: string };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
