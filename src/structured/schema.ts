/**
 * Turns whatever a client sent as an output schema (DSL string, JSON Schema object or zod schema)
 * into one compiled form: the JSON Schema to hand to providers, and a validator whose failures are
 * phrased for humans and for a repair prompt rather than in Ajv's internal vocabulary.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { z } from "zod";
import { AirlockError } from "../core/errors.js";
import { compileDsl, type JsonSchema } from "./dsl.js";

export type { JsonSchema } from "./dsl.js";

export type OutputSchemaInput = string | Record<string, unknown> | z.core.$ZodType;

export interface SchemaIssue {
  /** Dotted path into the value, e.g. `tags.1`; `(root)` for the value itself. */
  path: string;
  expected: string;
  received: string;
  message: string;
}

export interface CompiledSchema {
  jsonSchema: JsonSchema;
  name: string;
  validate(value: unknown): SchemaIssue[];
}

// One instance for the process: Ajv is expensive to construct. `verbose` puts the failing value and
// schema on each error, which the issue messages need. `logger: false` because, without format
// plugins, Ajv would warn on every schema using `format` (common in zod output) and formats are
// simply not enforced.
const ajv = new Ajv({ allErrors: true, strict: false, verbose: true, logger: false });

const NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * How large a schema sent with a call may be: objects (subschemas, `properties` maps…), and values of
 * every kind. Ajv compiles a schema into code on the event loop, about a millisecond per property on a
 * busy host, and worse than linearly in a long `enum`: one 900 KB body with 19,000 properties, or an
 * `enum` of 60,000 values, held every caller of the instance for 18 s and more. An operation's schema,
 * compiled once when its route loads, has no such bound.
 */
export const CALL_SCHEMA_MAX_OBJECTS = 1_000;
export const CALL_SCHEMA_MAX_VALUES = 5_000;

/** `boundFor`: the request field a call's schema came in, to hold it to CALL_SCHEMA_MAX_OBJECTS. */
export function compileOutputSchema(input: OutputSchemaInput, name?: string, boundFor?: string): CompiledSchema {
  const jsonSchema = toJsonSchema(input);
  if (boundFor !== undefined && largerThan(jsonSchema, CALL_SCHEMA_MAX_OBJECTS, CALL_SCHEMA_MAX_VALUES)) {
    throw new AirlockError(
      "invalid_request",
      `output schema: a call's schema may hold at most ${CALL_SCHEMA_MAX_OBJECTS} objects (subschemas and their properties) and ${CALL_SCHEMA_MAX_VALUES} values in all; define a larger one on the operation instead`,
      { param: boundFor },
    );
  }
  const validator = compileWithAjv(jsonSchema);
  return {
    jsonSchema,
    name: sanitizeName(name),
    validate(value: unknown): SchemaIssue[] {
      let valid: boolean;
      try {
        valid = validator(value) as boolean;
      } catch (err) {
        // A recursive schema (`items: {$ref: "#"}`) is checked by recursion: an answer nested thousands
        // of levels deep runs the stack out. That is an answer that does not fit, not Airlock failing.
        if (err instanceof RangeError) return [TOO_DEEP];
        throw err;
      }
      return valid ? [] : toIssues(validator.errors ?? []);
    },
  };
}

const CACHE_LIMIT = 256;
const cache = new Map<string, CompiledSchema>();
// zod schemas are usually module-level constants, so identity is both a correct and a cheap key.
const zodCache = new WeakMap<object, Map<string, CompiledSchema>>();

/** Per-request schemas repeat (the same client sends the same schema every call), so compile each once. */
export function compileOutputSchemaCached(input: OutputSchemaInput, name?: string, param = "output_schema"): CompiledSchema {
  const nameKey = sanitizeName(name);
  if (isZodSchema(input)) {
    let byName = zodCache.get(input);
    if (!byName) zodCache.set(input, (byName = new Map()));
    let compiled = byName.get(nameKey);
    if (!compiled) byName.set(nameKey, (compiled = compileOutputSchema(input, name, param)));
    return compiled;
  }
  const key = `${nameKey}\u0000${typeof input === "string" ? `dsl:${input}` : `json:${safeStringify(input)}`}`;
  const hit = cache.get(key);
  if (hit) {
    // Re-insert so that eviction drops the least recently used entry, not merely the oldest.
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const compiled = compileOutputSchema(input, name, param);
  cache.set(key, compiled);
  if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  return compiled;
}

const TOO_DEEP: SchemaIssue = {
  path: "(root)",
  expected: "a value the schema can check",
  received: "a value nested too deeply to check",
  message: "(root): expected a value the schema can check, received a value nested too deeply to check",
};

/** Whether a JSON value holds more than `maxObjects` objects (arrays not counted) or `maxValues` values of any kind, walked without recursion. */
function largerThan(value: unknown, maxObjects: number, maxValues: number): boolean {
  let objects = 0;
  let values = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    if (++values > maxValues) return true;
    if (node === null || typeof node !== "object") continue;
    if (!Array.isArray(node) && ++objects > maxObjects) return true;
    for (const child of Object.values(node)) stack.push(child);
  }
  return false;
}

function sanitizeName(name: string | undefined): string {
  if (name === undefined || name === "") return "output";
  if (NAME_PATTERN.test(name)) return name;
  const cleaned = name.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 64);
  return cleaned.replace(/_/g, "") === "" ? "output" : cleaned;
}

function invalid(message: string, cause?: unknown): AirlockError {
  return new AirlockError("invalid_request", `output schema: ${message}`, { param: "output_schema", cause });
}

/** `_zod.run` is a function, which no JSON body can carry: a client's schema with a `_zod` key stays JSON. */
function isZodSchema(input: unknown): input is z.core.$ZodType {
  if (input instanceof z.ZodType) return true;
  const internals = typeof input === "object" && input !== null ? (input as { _zod?: { run?: unknown } })._zod : undefined;
  return typeof internals === "object" && internals !== null && typeof internals.run === "function";
}

function toJsonSchema(input: OutputSchemaInput): JsonSchema {
  if (typeof input === "string") return compileDsl(input);
  if (isZodSchema(input)) {
    let converted: JsonSchema;
    try {
      // draft-07 because that is the dialect the shared Ajv instance validates.
      converted = z.toJSONSchema(input, { target: "draft-07" }) as JsonSchema;
    } catch (err) {
      throw invalid(`the zod schema cannot be expressed as JSON Schema (${errorText(err)})`, err);
    }
    delete converted.$schema;
    return converted;
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw invalid(`expected a DSL string or a JSON Schema object, received ${Array.isArray(input) ? "array" : input === null ? "null" : typeof input}`);
  }
  try {
    // A private copy, so a caller mutating its object later cannot desync the schema from its validator.
    return structuredClone(input);
  } catch (err) {
    throw invalid(`the JSON Schema must be plain JSON data (${errorText(err)})`, err);
  }
}

function compileWithAjv(schema: JsonSchema): ValidateFunction {
  // A client-chosen `$schema` (often 2020-12) would make Ajv look up a meta-schema it does not load;
  // the keywords that matter are shared across drafts, so validate without it.
  const { $schema: _dialect, ...forAjv } = schema;
  const refsBefore = new Set(Object.keys(ajv.refs));
  try {
    return ajv.compile(forAjv);
  } catch (err) {
    throw invalid(`the JSON Schema is invalid: ${errorText(err)}`, err);
  } finally {
    // Ajv remembers every schema it compiles (and any `$id` inside it) forever. Client schemas are
    // unbounded, and a repeated `$id` would be rejected as a duplicate, so forget them at once:
    // the compiled function keeps everything it needs.
    ajv.removeSchema(forAjv);
    for (const ref of Object.keys(ajv.refs)) if (!refsBefore.has(ref)) delete ajv.refs[ref];
  }
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 300);
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    throw invalid(`the JSON Schema cannot be serialized (${errorText(err)})`, err);
  }
}

// ---- Ajv errors → SchemaIssue ----

function toIssues(errors: ErrorObject[]): SchemaIssue[] {
  // With allErrors, a failed anyOf reports every branch's complaints and then its own. That is noise:
  // replace each union's errors by either the errors of the one branch whose shape fits the value,
  // or a single "expected X or Y" issue.
  const consumed = new Set<ErrorObject>();
  const replacements = new Map<ErrorObject, SchemaIssue[]>();
  for (const error of [...errors].reverse()) {
    if (consumed.has(error) || (error.keyword !== "anyOf" && error.keyword !== "oneOf")) continue;
    const branchErrors = errors.filter(
      (other) => other !== error && other.schemaPath.startsWith(`${error.schemaPath}/`) && other.instancePath.startsWith(error.instancePath),
    );
    for (const other of branchErrors) consumed.add(other);
    replacements.set(error, unionIssues(error, branchErrors));
  }
  return errors.flatMap((error) => replacements.get(error) ?? (consumed.has(error) ? [] : [toIssue(error)]));
}

function unionIssues(error: ErrorObject, branchErrors: ErrorObject[]): SchemaIssue[] {
  const branches = Array.isArray(error.parentSchema?.[error.keyword]) ? (error.parentSchema![error.keyword] as unknown[]) : [];
  if (branchErrors.length > 0) {
    // A branch "fits" when the value has the right type for it and only something inside is wrong.
    const fitting = branches
      .map((_, index) => branchErrors.filter((other) => other.schemaPath.startsWith(`${error.schemaPath}/${index}/`)))
      .filter((own) => !own.some((other) => other.instancePath === error.instancePath && other.keyword === "type"));
    if (fitting.length === 1) return toIssues(fitting[0]!);
  }
  const passing = (error.params as { passingSchemas?: unknown }).passingSchemas;
  const expected =
    error.keyword === "oneOf" && passing != null ? "exactly one matching alternative" : branches.map((branch) => describeSchema(branch, 0)).join(" or ");
  return [issue(error.instancePath, expected || "a matching alternative", typeName(error.data))];
}

function toIssue(error: ErrorObject): SchemaIssue {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required":
      return issue(joinPointer(error.instancePath, String(params.missingProperty)), "required property", "undefined");
    case "additionalProperties": {
      const property = String(params.additionalProperty);
      const value = (error.data as Record<string, unknown> | undefined)?.[property];
      return issue(joinPointer(error.instancePath, property), "no additional property", typeName(value));
    }
    case "type":
      return issue(error.instancePath, String(params.type).split(",").join(" or "), typeName(error.data));
    case "enum":
      return issue(error.instancePath, `one of ${(params.allowedValues as unknown[]).map(preview).join(", ")}`, preview(error.data));
    case "const":
      return issue(error.instancePath, preview(params.allowedValue), preview(error.data));
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return issue(error.instancePath, `number ${String(params.comparison)} ${String(params.limit)}`, preview(error.data));
    case "minLength":
      return issue(error.instancePath, `string of at least ${String(params.limit)} characters`, preview(error.data));
    case "maxLength":
      return issue(error.instancePath, `string of at most ${String(params.limit)} characters`, preview(error.data));
    case "minItems":
      return issue(error.instancePath, `at least ${String(params.limit)} items`, `${(error.data as unknown[]).length} items`);
    case "maxItems":
      return issue(error.instancePath, `at most ${String(params.limit)} items`, `${(error.data as unknown[]).length} items`);
    case "pattern":
      return issue(error.instancePath, `string matching /${String(params.pattern)}/`, preview(error.data));
    default:
      // Everything rarer: Ajv's own wording ("must be multiple of 3") is clear once "must" is dropped.
      return issue(error.instancePath, (error.message ?? error.keyword).replace(/^must /, ""), preview(error.data));
  }
}

function issue(pointer: string, expected: string, received: string): SchemaIssue {
  const path = pointerToPath(pointer);
  return { path, expected, received, message: `${path}: expected ${expected}, received ${received}` };
}

function joinPointer(pointer: string, property: string): string {
  return `${pointer}/${property.replace(/~/g, "~0").replace(/\//g, "~1")}`;
}

function pointerToPath(pointer: string): string {
  if (pointer === "") return "(root)";
  return pointer
    .slice(1)
    .split("/")
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
    .join(".");
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function preview(value: unknown): string {
  if (value === undefined) return "undefined";
  const text = JSON.stringify(value) ?? typeName(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function describeSchema(schema: unknown, depth: number): string {
  if (typeof schema !== "object" || schema === null || depth > 4) return "a value matching the schema";
  const s = schema as Record<string, unknown>;
  if (Array.isArray(s.enum)) return `one of ${s.enum.map(preview).join(", ")}`;
  if ("const" in s) return preview(s.const);
  if (Array.isArray(s.anyOf)) return s.anyOf.map((branch) => describeSchema(branch, depth + 1)).join(" or ");
  if (Array.isArray(s.type)) return s.type.join(" or ");
  if (typeof s.type === "string") return s.type;
  if (s.properties !== undefined) return "object";
  if (typeof s.$ref === "string") return `a value matching ${s.$ref}`;
  return "a value matching the schema";
}
