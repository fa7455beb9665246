/**
 * What the call path needs around a structured-output request: reading JSON out of a model's reply,
 * checking it, asking the provider for it (natively or by instruction) and asking once for a repair.
 */
import { AirlockError } from "../core/errors.js";
import type { ChatMessage } from "../providers/spec.js";
import type { CompiledSchema, JsonSchema, SchemaIssue } from "./schema.js";

export type ParsedOutput = { ok: true; value: unknown } | { ok: false; issue: SchemaIssue };
export type CheckedOutput = { ok: true; value: unknown } | { ok: false; issues: SchemaIssue[] };

/** Models wrap JSON in prose often enough to be worth a few tries, but not so many that garbage costs. */
const MAX_CANDIDATES = 16;
/** A repair prompt listing hundreds of issues would cost more than it helps. */
const MAX_REPAIR_ISSUES = 20;

/**
 * Accepts plain JSON, JSON in a Markdown code fence, or JSON with prose around it: even models told
 * "JSON only" (or given native JSON mode by a lenient provider) do all three.
 */
export function parseJsonOutput(text: string | null): ParsedOutput {
  const trimmed = (text ?? "").replace(/^\uFEFF/, "").trim();
  if (trimmed === "") return notJson("empty");

  const direct = tryParse(trimmed);
  if (direct.ok) return direct;

  for (const fence of trimmed.matchAll(/```[A-Za-z]*[ \t]*\r?\n?([\s\S]*?)```/g)) {
    const fenced = tryParse(fence[1]!.trim());
    if (fenced.ok) return fenced;
  }

  // Candidates are tried left to right. After a failed one the search resumes past its end, never
  // inside it: a fragment of broken or truncated JSON is not the answer.
  let firstFailure: string | undefined;
  let start = nextOpening(trimmed, 0);
  for (let attempts = 0; start !== -1 && attempts < MAX_CANDIDATES; attempts++) {
    const end = matchingClose(trimmed, start);
    if (end === -1) {
      firstFailure ??= "incomplete JSON (the output may have been cut off)";
      break;
    }
    const candidate = tryParse(trimmed.slice(start, end + 1));
    if (candidate.ok) return candidate;
    firstFailure ??= `invalid JSON (${candidate.error})`;
    start = nextOpening(trimmed, end + 1);
  }
  return notJson(firstFailure ?? `invalid JSON (${direct.error})`);
}

/**
 * An answer that calls tools is not yet the answer the schema describes: the caller runs the tools and
 * asks again, as with OpenAI's own structured outputs. A refusal (`refusal`, OpenAI's field for a model
 * that declines) has no JSON to check, and a repair would only pay to hear it again. Both are passed
 * on unchecked, never repaired.
 */
export function answersOtherwise(message: { tool_calls?: unknown; function_call?: unknown; refusal?: unknown }): boolean {
  return (
    (Array.isArray(message.tool_calls) && message.tool_calls.length > 0) ||
    (typeof message.function_call === "object" && message.function_call !== null) ||
    (typeof message.refusal === "string" && message.refusal !== "")
  );
}

/**
 * The text of a reply's content. Some OpenAI-compatible upstreams (Mistral, for one) answer with a list
 * of parts rather than a string: their text parts are joined. Anything else carries no text: null.
 */
export function contentText(content: unknown): string | null {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return null;
  let text = "";
  for (const part of content) {
    const { type, text: partText } = (part ?? {}) as { type?: unknown; text?: unknown };
    if (type === "text" && typeof partText === "string") text += partText;
  }
  return text;
}

export function checkOutput(schema: CompiledSchema, text: string | null): CheckedOutput {
  const parsed = parseJsonOutput(text);
  if (!parsed.ok) return { ok: false, issues: [parsed.issue] };
  const issues = schema.validate(parsed.value);
  return issues.length === 0 ? { ok: true, value: parsed.value } : { ok: false, issues };
}

export type NativeResponseFormat = { type: "json_schema"; json_schema: { name: string; schema: JsonSchema; strict: boolean } };

/** Built once per compiled schema: the strict-mode walk is not per-call work. Shared, so never mutated. */
const nativeFormats = new WeakMap<CompiledSchema, NativeResponseFormat>();

export function nativeResponseFormat(schema: CompiledSchema): NativeResponseFormat {
  let format = nativeFormats.get(schema);
  if (!format) {
    format = { type: "json_schema", json_schema: { name: schema.name, schema: schema.jsonSchema, strict: fitsStrictMode(schema.jsonSchema) } };
    nativeFormats.set(schema, format);
  }
  return format;
}

/** For providers without native structured output: the schema travels in a system message instead. */
const instructions = new WeakMap<CompiledSchema, string>();

export function schemaInstruction(schema: CompiledSchema): string {
  let instruction = instructions.get(schema);
  if (instruction === undefined) {
    instruction = [
      "Respond with only a JSON value that matches this JSON Schema:",
      JSON.stringify(schema.jsonSchema),
      "Do not add any prose or explanation, and do not wrap the JSON in Markdown code fences: the entire reply must parse as JSON.",
    ].join("\n");
    instructions.set(schema, instruction);
  }
  return instruction;
}


/** The two messages appended for the single repair attempt: the model sees what it said and what was wrong. */
export function repairMessages(raw: string | null, issues: SchemaIssue[]): ChatMessage[] {
  const listed = issues.slice(0, MAX_REPAIR_ISSUES).map((issue) => `- ${issue.path}: expected ${issue.expected}, received ${issue.received}`);
  if (issues.length > MAX_REPAIR_ISSUES) listed.push(`- and ${issues.length - MAX_REPAIR_ISSUES} more`);
  return [
    // Some providers reject an empty assistant turn, so an empty reply is stated rather than sent as "".
    { role: "assistant", content: raw !== null && raw.trim() !== "" ? raw : "(empty reply)" },
    {
      role: "user",
      content: [
        "Your previous reply did not match the required JSON Schema:",
        ...listed,
        "Reply again with only the corrected JSON value: no prose, no explanation, no code fences.",
      ].join("\n"),
    },
  ];
}

export function schemaValidationError(raw: string | null, issues: SchemaIssue[]): AirlockError {
  return new AirlockError("schema_validation", "the output did not match the schema", { details: { raw, issues } });
}

function tryParse(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

function notJson(received: string): ParsedOutput {
  return { ok: false, issue: { path: "(root)", expected: "JSON", received, message: `(root): expected JSON, received ${received}` } };
}

function nextOpening(text: string, from: number): number {
  for (let i = from; i < text.length; i++) if (text[i] === "{" || text[i] === "[") return i;
  return -1;
}

/** The index of the bracket closing the one at `start`, skipping brackets inside strings; -1 if none. */
function matchingClose(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === "{" || ch === "[") depth++;
    else if (ch === "}" || ch === "]") {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

// OpenAI strict mode: an object root, every object closed with all its properties required, every
// subschema typed, and none of the keywords strict mode refuses. Anything else is sent non-strict,
// and our own validation still enforces the schema.
const STRICT_UNSUPPORTED = ["oneOf", "allOf", "not", "if", "then", "else", "patternProperties", "dependentRequired", "dependentSchemas"];
const MAX_STRICT_DEPTH = 64;

function fitsStrictMode(schema: JsonSchema): boolean {
  return schema.type === "object" && strictNode(schema, 0);
}

function strictNode(node: unknown, depth: number): boolean {
  if (typeof node !== "object" || node === null || Array.isArray(node) || depth > MAX_STRICT_DEPTH) return false;
  const s = node as Record<string, unknown>;
  if (STRICT_UNSUPPORTED.some((keyword) => keyword in s)) return false;
  if (!["type", "enum", "const", "anyOf", "$ref"].some((keyword) => keyword in s)) return false;
  const children = (value: unknown): unknown[] => (typeof value === "object" && value !== null && !Array.isArray(value) ? Object.values(value) : []);

  const types = Array.isArray(s.type) ? s.type : [s.type];
  if (types.includes("object") || "properties" in s) {
    if (s.additionalProperties !== false) return false;
    const required = Array.isArray(s.required) ? s.required : [];
    const properties = s.properties ?? {};
    if (typeof properties !== "object" || properties === null || !Object.keys(properties).every((key) => required.includes(key))) return false;
    if (!children(properties).every((child) => strictNode(child, depth + 1))) return false;
  }
  if ("items" in s && !strictNode(s.items, depth + 1)) return false;
  if ("anyOf" in s && !(Array.isArray(s.anyOf) && s.anyOf.every((branch) => strictNode(branch, depth + 1)))) return false;
  for (const definitions of [s.$defs, s.definitions]) {
    if (!children(definitions).every((child) => strictNode(child, depth + 1))) return false;
  }
  return true;
}
