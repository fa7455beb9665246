import { AirlockError } from "../core/errors.js";

export interface CompiledTemplate {
  readonly source: string;
  /** Unique variable paths in first-use order, in dotted form (`items[0].title` → `items.0.title`). */
  readonly variables: readonly string[];
  render(vars: Record<string, unknown>): string;
}

interface Expression {
  /** Dotted form, used for `variables`, error messages and the `param` of a missing-variable error. */
  path: string;
  segments: readonly string[];
}

type Part = string | Expression;

const OPEN = "{{";
const CLOSE = "}}";
const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*/;
const INDEX = /^[0-9]+/;

/**
 * Compiles once at config load so that render() is a plain walk over literal parts and pre-split paths.
 * Throws `misconfigured` for a malformed template, naming line, column and offset of the offending "{{".
 */
export function compileTemplate(source: string): CompiledTemplate {
  const parts: Part[] = [];
  const variables: string[] = [];
  const seen = new Set<string>();
  let literal = "";
  let i = 0;

  while (i < source.length) {
    const open = source.indexOf(OPEN, i);
    if (open === -1) {
      literal += source.slice(i);
      break;
    }
    if (open > i && source[open - 1] === "\\") {
      literal += source.slice(i, open - 1) + OPEN;
      i = open + OPEN.length;
      continue;
    }
    literal += source.slice(i, open);
    const close = source.indexOf(CLOSE, open + OPEN.length);
    if (close === -1) fail(source, open, 'unclosed "{{"');
    const text = source.slice(open + OPEN.length, close).trim();
    if (text === "") fail(source, open, 'empty expression "{{ }}"');
    const segments = parsePath(text);
    if (!segments) fail(source, open, `invalid variable path "${text}"`);
    const path = segments.join(".");
    if (literal !== "") parts.push(literal);
    literal = "";
    parts.push({ path, segments });
    if (!seen.has(path)) {
      seen.add(path);
      variables.push(path);
    }
    i = close + CLOSE.length;
  }
  if (literal !== "") parts.push(literal);

  const frozenVariables = Object.freeze(variables);
  return Object.freeze({
    source,
    variables: frozenVariables,
    render: (vars: Record<string, unknown>) => render(parts, vars),
  });
}

/** `a.b.0`, `a[0].b`, `a.b[1][2]`; the head must be an identifier because variables are named, not indexed. */
function parsePath(text: string): string[] | null {
  const segments: string[] = [];
  const head = IDENT.exec(text);
  if (!head) return null;
  segments.push(head[0]);
  let rest = text.slice(head[0].length);
  while (rest !== "") {
    if (rest[0] === ".") {
      const m = IDENT.exec(rest.slice(1)) ?? INDEX.exec(rest.slice(1));
      if (!m) return null;
      segments.push(m[0]);
      rest = rest.slice(1 + m[0].length);
    } else if (rest[0] === "[") {
      const m = INDEX.exec(rest.slice(1));
      if (!m || rest[1 + m[0].length] !== "]") return null;
      segments.push(m[0]);
      rest = rest.slice(2 + m[0].length);
    } else {
      return null;
    }
  }
  return segments;
}

function fail(source: string, offset: number, what: string): never {
  const before = source.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - (before.lastIndexOf("\n") + 1) + 1;
  throw new AirlockError("misconfigured", `template: ${what} at line ${line}, column ${column}`, {
    details: { position: { offset, line, column } },
  });
}

const hasOwn = Object.prototype.hasOwnProperty;

function render(parts: readonly Part[], vars: Record<string, unknown>): string {
  let out = "";
  for (const part of parts) {
    out += typeof part === "string" ? part : format(part, lookup(part, vars));
  }
  return out;
}

/**
 * Reads own properties only, so template authors (or request variables) can never reach
 * `constructor`, `__proto__` or anything else inherited from Object.prototype.
 */
function lookup(expr: Expression, vars: Record<string, unknown>): unknown {
  let value: unknown = vars;
  for (const key of expr.segments) {
    if (value === null || typeof value !== "object" || !hasOwn.call(value, key)) return missing(expr);
    value = (value as Record<string, unknown>)[key];
  }
  if (value === undefined) return missing(expr);
  return value;
}

function missing(expr: Expression): never {
  throw new AirlockError("invalid_request", `template variable "${expr.path}" is missing`, { param: `variables.${expr.path}` });
}

function format(expr: Expression, value: unknown): string {
  switch (typeof value) {
    case "string":
      return value;
    case "number":
    case "boolean":
    case "bigint":
      return String(value);
    case "object": {
      let json: string | undefined;
      try {
        // bigint is not JSON; render it the way a top-level bigint renders instead of throwing.
        json = JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
      } catch (err) {
        throw new AirlockError("invalid_request", `template variable "${expr.path}" cannot be rendered`, { param: `variables.${expr.path}`, cause: err });
      }
      return json ?? "null";
    }
    default:
      // Functions and symbols have no data representation; treat them like a value the caller did not supply.
      return missing(expr);
  }
}
