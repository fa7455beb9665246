import { AirlockError } from "../../core/errors.js";
import { ProviderError } from "../errors.js";
import type { ChatMessage, ChatRequest, ContentPart, ToolCall } from "../spec.js";
import { refuseUntranslated } from "../untranslated.js";
import { cacheControlOf, SystemPrompt, withCacheControl } from "./cache-control.js";
import { applyThinking } from "./thinking.js";
import { imageUrl, isObject, messageText, text } from "../wire.js";
import type {
  AnthropicContentBlock,
  AnthropicDocumentBlock,
  AnthropicImageBlock,
  AnthropicMessageParam,
  AnthropicRequest,
  AnthropicTextBlock,
  AnthropicTool,
  AnthropicToolChoice,
} from "./wire.js";

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

/**
 * Translates an OpenAI chat request into a Messages API request. response_format becomes an
 * instruction; `n > 1`, seed, penalties, logit_bias, logprobs, audio output and the deprecated function
 * calling are refused because they cannot be honoured (untranslated.ts); reasoning_effort becomes extended
 * thinking (thinking.ts); fields that change nothing in the answer (store, metadata, service_tier,
 * prediction) are dropped, as docs/providers.md says.
 */
export function toAnthropicRequest(request: ChatRequest, provider: string, defaultMaxTokens: number): AnthropicRequest {
  refuseUntranslated(request, provider, "anthropic", ["seed"]);
  if (typeof request.n === "number" && request.n > 1) {
    throw new ProviderError(`${provider}: anthropic returns one choice per call (n=${request.n})`, {
      kind: "unsupported",
      provider,
      fallbackable: true,
    });
  }
  const system = new SystemPrompt();
  const messages: AnthropicMessageParam[] = [];
  const ids = new ToolUseIds();
  for (const message of request.messages) {
    switch (message.role) {
      case "system":
      case "developer":
        system.add(message.content);
        break;
      case "user":
        append(messages, "user", userBlocks(message.content, provider));
        break;
      case "assistant": {
        // An answer with no text and no calls (Anthropic's own can be empty: Airlock returns content null)
        // would be an empty turn, which Anthropic refuses anywhere but last; it says nothing, so it is left out.
        const blocks = assistantBlocks(message, ids);
        if (blocks.length > 0) append(messages, "assistant", blocks);
        break;
      }
      case "tool":
        append(messages, "user", [toolResult(message, provider, ids)]);
        break;
    }
  }

  const out: AnthropicRequest = {
    model: request.model,
    messages,
    max_tokens: request.max_completion_tokens ?? request.max_tokens ?? defaultMaxTokens,
  };
  const json = jsonInstruction(request.response_format);
  if (json !== undefined) system.add(json);
  const systemPrompt = system.value();
  if (systemPrompt !== undefined) out.system = systemPrompt;
  if (request.temperature !== undefined) out.temperature = request.temperature;
  if (request.top_p !== undefined) out.top_p = request.top_p;
  const stop = stopSequences(request.stop, provider);
  if (stop !== undefined) out.stop_sequences = stop;
  if (Array.isArray(request.tools) && request.tools.length > 0) out.tools = request.tools.map(toAnthropicTool);
  const choice = toAnthropicToolChoice(request.tool_choice, request.parallel_tool_calls);
  if (choice !== undefined) out.tool_choice = choice;
  if (request.user !== undefined) out.metadata = { user_id: request.user };
  applyThinking(out, request, provider, defaultMaxTokens);
  return out;
}

/**
 * Anthropic wants strictly alternating turns, and every tool_result for a turn's tool_use blocks in
 * the one user message that follows it; OpenAI sends each tool result as its own message. Merging
 * consecutive same-role messages satisfies both.
 */
function append(messages: AnthropicMessageParam[], role: "user" | "assistant", blocks: AnthropicContentBlock[]): void {
  const last = messages[messages.length - 1];
  if (last !== undefined && last.role === role) {
    const previous = typeof last.content === "string" ? [textBlock(last.content)] : last.content;
    last.content = [...previous, ...blocks];
    return;
  }
  const only = blocks.length === 1 ? blocks[0] : undefined;
  // A lone text block is sent as a plain string, unless it carries a cache mark, which only a block can.
  messages.push({ role, content: only?.type === "text" && only.cache_control === undefined ? only.text : blocks });
}

function userBlocks(content: ChatMessage["content"], provider: string): PartBlock[] {
  if (content === null || content === undefined) return [];
  if (typeof content === "string") return [textBlock(content)];
  return content.map((part) => toContentBlock(part, provider));
}

function assistantBlocks(message: ChatMessage, ids: ToolUseIds): AnthropicContentBlock[] {
  const blocks: AnthropicContentBlock[] = [];
  if (Array.isArray(message.content) && message.content.some((part) => cacheControlOf(part) !== undefined)) {
    // A marked part must stay a block of its own to keep its mark.
    for (const part of message.content) if (part.type === "text" && part.text !== "") blocks.push(withCacheControl(textBlock(part.text), part));
  } else {
    const content = messageText(message.content);
    if (content !== "") blocks.push(textBlock(content));
  }
  for (const call of message.tool_calls ?? []) {
    blocks.push({ type: "tool_use", id: ids.forCall(call.id), name: call.function.name, input: toolInput(call) });
  }
  return blocks;
}

function toolResult(message: ChatMessage, provider: string, ids: ToolUseIds): AnthropicContentBlock {
  if (message.tool_call_id === undefined) {
    throw new AirlockError("invalid_request", "a tool message needs tool_call_id", { param: "messages" });
  }
  const content = Array.isArray(message.content) ? message.content.map((part) => toContentBlock(part, provider)) : message.content ?? "";
  return { type: "tool_result", tool_use_id: ids.forResult(message.tool_call_id), content };
}

/**
 * Anthropic refuses a request in which two tool_use blocks share an id, or an id has characters
 * outside [a-zA-Z0-9_-]; OpenAI-shaped history may hold both: ids that other upstreams number from
 * call_0 on every answer (the gemini adapter's), or that have dots and colons (`functions.read:0`).
 * Each call gets an id Anthropic takes, and each result the id of the nearest earlier call it names.
 */
class ToolUseIds {
  private readonly used = new Set<string>();
  private readonly latest = new Map<string, string>();

  forCall(id: string): string {
    const base = id.replace(/[^a-zA-Z0-9_-]/g, "_") || "call";
    let out = base;
    for (let n = 2; this.used.has(out); n++) out = `${base}_${n}`;
    this.used.add(out);
    this.latest.set(id, out);
    return out;
  }

  forResult(id: string): string {
    return this.latest.get(id) ?? (id.replace(/[^a-zA-Z0-9_-]/g, "_") || "call");
  }
}

type PartBlock = AnthropicTextBlock | AnthropicImageBlock | AnthropicDocumentBlock;

function toContentBlock(part: ContentPart, provider: string): PartBlock {
  if (part.type === "text") return withCacheControl(textBlock(part.text), part);
  if ((part.type as string) === "file") return withCacheControl(documentBlock(part, provider), part);
  if (part.type !== "image_url") {
    // Audio, files and other part kinds have no Messages API block here; an OpenAI-compatible sibling may take them.
    throw new ProviderError(`${provider}: anthropic takes text, image and PDF file parts only, not ${String((part as { type?: unknown }).type)}`, { kind: "unsupported", provider, fallbackable: true });
  }
  const url = imageUrl(part);
  const inline = DATA_URL.exec(url);
  if (inline !== null) return withCacheControl<AnthropicImageBlock>({ type: "image", source: { type: "base64", media_type: inline[1]!, data: inline[2]! } }, part);
  if (url.startsWith("https://") || url.startsWith("http://")) return withCacheControl<AnthropicImageBlock>({ type: "image", source: { type: "url", url } }, part);
  throw new AirlockError("invalid_request", "an image must be a base64 data: URL or an http(s) URL", { param: "messages" });
}

/**
 * An OpenAI `file` part holding a PDF as a base64 data: URL becomes a document block. A file id names a
 * file stored at OpenAI, and other file types have no base64 document here: both are left to a sibling.
 */
function documentBlock(part: unknown, provider: string): AnthropicDocumentBlock {
  const file = isObject(part) && isObject(part.file) ? part.file : {};
  const inline = typeof file.file_data === "string" ? DATA_URL.exec(file.file_data) : null;
  if (inline === null || inline[1] !== "application/pdf") {
    throw new ProviderError(`${provider}: anthropic takes file parts only as PDFs in base64 data: URLs (file_data), not file ids or other types`, { kind: "unsupported", provider, fallbackable: true });
  }
  const block: AnthropicDocumentBlock = { type: "document", source: { type: "base64", media_type: "application/pdf", data: inline[2]! } };
  if (typeof file.filename === "string" && file.filename !== "") block.title = file.filename;
  return block;
}

function toolInput(call: ToolCall): unknown {
  if (call.function.arguments.trim() === "") return {};
  try {
    return JSON.parse(call.function.arguments);
  } catch {
    throw new AirlockError("invalid_request", "tool call arguments are not valid JSON", { param: "messages" });
  }
}

function toAnthropicTool(tool: unknown): AnthropicTool {
  const fn = isObject(tool) && tool.type === "function" && isObject(tool.function) ? tool.function : undefined;
  const name = fn === undefined ? undefined : text(fn.name);
  if (fn === undefined || name === undefined) {
    throw new AirlockError("invalid_request", "only function tools can be sent to anthropic", { param: "tools" });
  }
  const out: AnthropicTool = { name, input_schema: fn.parameters ?? { type: "object", properties: {} } };
  const description = text(fn.description);
  if (description !== undefined) out.description = description;
  return withCacheControl(out, tool);
}

function toAnthropicToolChoice(choice: unknown, parallel: unknown): AnthropicToolChoice | undefined {
  let out: AnthropicToolChoice | undefined;
  if (choice === "auto") out = { type: "auto" };
  else if (choice === "none") out = { type: "none" };
  else if (choice === "required") out = { type: "any" };
  else if (isObject(choice) && isObject(choice.function) && typeof choice.function.name === "string") {
    out = { type: "tool", name: choice.function.name };
  }
  if (parallel === false) {
    out ??= { type: "auto" };
    if (out.type !== "none") out.disable_parallel_tool_use = true;
  }
  return out;
}

/**
 * The Messages API has no JSON mode, so `response_format` would be dropped and a client that parses the
 * answer would get prose. It becomes an instruction at the end of the system prompt instead: with the
 * schema for json_schema (which reaches this adapter only for a model set to `structuredOutput: native`;
 * otherwise the call already put the schema in a system message), and without for json_object.
 */
function jsonInstruction(format: unknown): string | undefined {
  if (!isObject(format)) return undefined;
  const schema = format.type === "json_schema" && isObject(format.json_schema) && isObject(format.json_schema.schema) ? format.json_schema.schema : undefined;
  let ask: string;
  if (schema !== undefined) ask = `Respond with only a JSON value that matches this JSON Schema:\n${JSON.stringify(schema)}`;
  else if (format.type === "json_object" || format.type === "json_schema") ask = "Respond with only a JSON object.";
  else return undefined;
  return `${ask}\nDo not add any prose or explanation, and do not wrap the JSON in Markdown code fences: the entire reply must parse as JSON.`;
}

/**
 * Anthropic refuses an empty stop sequence and one of whitespace alone (400 "each stop sequence must
 * contain non-whitespace"). An empty one stops nothing, so it is left out; one of whitespace ("\n", as
 * completion-style clients send it) asks for a stop Claude cannot make, so the call goes to a sibling.
 */
function stopSequences(stop: ChatRequest["stop"], provider: string): string[] | undefined {
  if (stop === undefined) return undefined;
  const sequences = (typeof stop === "string" ? [stop] : stop).filter((s) => s !== "");
  if (sequences.some((s) => s.trim() === "")) {
    throw new ProviderError(`${provider}: anthropic cannot stop at a stop sequence of whitespace alone`, { kind: "unsupported", provider, fallbackable: true });
  }
  return sequences.length > 0 ? sequences : undefined;
}

function textBlock(value: string): AnthropicTextBlock {
  return { type: "text", text: value };
}
