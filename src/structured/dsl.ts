/**
 * A TypeScript-like shorthand for output schemas, e.g. `{ name: string, tags: string[], score?: number }`.
 * Clients write this far more readily than JSON Schema, so it is compiled here once and everything
 * downstream (validation, native response formats, prompts) only ever sees JSON Schema.
 *
 * Positions in error messages are 0-based character offsets into the source.
 */
import { AirlockError } from "../core/errors.js";

export type JsonSchema = Record<string, unknown>;

const PRIMITIVES = ["string", "number", "integer", "boolean", "null"] as const;
type Primitive = (typeof PRIMITIVES)[number];
const KNOWN_TYPES = [...PRIMITIVES, "any", "unknown"] as const;

/** Deep enough for any real schema; shallow enough that hostile input cannot blow the stack. */
const MAX_DEPTH = 32;

type Node =
  | { kind: "primitive"; name: Primitive }
  | { kind: "any" }
  | { kind: "literal"; value: string }
  | { kind: "array"; items: Node }
  | { kind: "object"; fields: Field[] }
  | { kind: "union"; members: Node[] };

type Field = { key: string; optional: boolean; type: Node };

interface Token {
  kind: "punct" | "ident" | "string" | "end";
  /** The source text of the token; for strings, the unescaped value. */
  text: string;
  pos: number;
  /** Newlines separate fields, so the parser needs to know where a line ended. */
  newlineBefore: boolean;
}

export function compileDsl(source: string): JsonSchema {
  const parser = new Parser(tokenize(source));
  return compileNode(parser.parseRoot());
}

function fail(message: string): never {
  throw new AirlockError("invalid_request", `output schema: ${message}`, { param: "output_schema" });
}

// One sticky pattern per token class; the group that matched says which class it was.
const TOKEN = /(\n)|([^\S\n]+)|([{}[\]():,;?|])|([A-Za-z_$][A-Za-z0-9_$]*)|"((?:[^"\\]|\\[^])*)"|'((?:[^'\\]|\\[^])*)'/y;
const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f" };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let newlineBefore = false;
  for (let pos = 0; pos < source.length; pos = TOKEN.lastIndex) {
    TOKEN.lastIndex = pos;
    const match = TOKEN.exec(source);
    if (!match) {
      const ch = source[pos]!;
      fail(ch === '"' || ch === "'" ? `unterminated string starting at position ${pos}` : `unexpected character ${JSON.stringify(ch)} at position ${pos}`);
    }
    const [, newline, space, punct, ident, double, single] = match;
    if (newline !== undefined) newlineBefore = true;
    if (newline !== undefined || space !== undefined) continue;
    const quoted = double ?? single;
    tokens.push(
      quoted !== undefined
        ? { kind: "string", text: quoted.replace(/\\([^])/g, (_, escaped: string) => ESCAPES[escaped] ?? escaped), pos, newlineBefore }
        : { kind: punct !== undefined ? "punct" : "ident", text: punct ?? ident!, pos, newlineBefore },
    );
    newlineBefore = false;
  }
  tokens.push({ kind: "end", text: "", pos: source.length, newlineBefore });
  return tokens;
}

function describe(token: Token): string {
  if (token.kind === "end") return "end of input";
  if (token.kind === "string") return `string ${JSON.stringify(token.text)}`;
  return JSON.stringify(token.text);
}

class Parser {
  private index = 0;
  private depth = 0;

  constructor(private readonly tokens: Token[]) {}

  parseRoot(): Node {
    const root = this.parseType();
    const rest = this.peek();
    if (rest.kind !== "end") fail(`expected end of input at position ${rest.pos}, found ${describe(rest)}`);
    const isObject = root.kind === "object" || (root.kind === "array" && root.items.kind === "object");
    if (!isObject) {
      fail(`the top level must be an object literal such as {name: string} or an array of one such as {name: string}[], found ${nodeLabel(root)}`);
    }
    return root;
  }

  private peek(): Token {
    return this.tokens[this.index]!;
  }

  private next(): Token {
    const token = this.tokens[this.index]!;
    if (token.kind !== "end") this.index++;
    return token;
  }

  private isPunct(text: string): boolean {
    const token = this.peek();
    return token.kind === "punct" && token.text === text;
  }

  private expectPunct(text: string, context: string): void {
    const token = this.peek();
    if (!this.isPunct(text)) fail(`expected "${text}" at position ${token.pos}${context}, found ${describe(token)}`);
    this.next();
  }

  private enter(pos: number): void {
    if (++this.depth > MAX_DEPTH) fail(`nested too deeply at position ${pos} (the limit is ${MAX_DEPTH} levels)`);
  }

  private parseType(): Node {
    // A leading "|" is legal TypeScript and shows up in multi-line unions.
    if (this.isPunct("|")) this.next();
    const members = [this.parseMember()];
    while (this.isPunct("|")) {
      this.next();
      members.push(this.parseMember());
    }
    if (members.length === 1) return members[0]!;
    // `("a" | "b") | null` is one flat union, not a union nested inside another.
    return { kind: "union", members: members.flatMap((member) => (member.kind === "union" ? member.members : [member])) };
  }

  private parseMember(): Node {
    let node = this.parsePrimary();
    let dimensions = 0;
    while (this.isPunct("[")) {
      const bracket = this.next();
      if (this.depth + ++dimensions > MAX_DEPTH) fail(`nested too deeply at position ${bracket.pos} (the limit is ${MAX_DEPTH} levels)`);
      this.expectPunct("]", ' to close "["');
      node = { kind: "array", items: node };
    }
    return node;
  }

  private parsePrimary(): Node {
    const token = this.peek();
    if (token.kind === "punct" && token.text === "{") return this.parseObject();
    if (token.kind === "punct" && token.text === "(") {
      this.enter(token.pos);
      this.next();
      const inner = this.parseType();
      this.expectPunct(")", ` to close the "(" at position ${token.pos}`);
      this.depth--;
      return inner;
    }
    if (token.kind === "string") {
      this.next();
      return { kind: "literal", value: token.text };
    }
    if (token.kind === "ident") {
      this.next();
      if (token.text === "any" || token.text === "unknown") return { kind: "any" };
      if ((PRIMITIVES as readonly string[]).includes(token.text)) return { kind: "primitive", name: token.text as Primitive };
      const suggestion = closestKnownType(token.text);
      fail(
        `unknown type "${token.text}" at position ${token.pos}` +
          (suggestion ? ` (did you mean "${suggestion}"?)` : "") +
          `; known types are ${KNOWN_TYPES.join(", ")}, object literals {...}, arrays T[] and quoted string literals`,
      );
    }
    return fail(`expected a type at position ${token.pos}, found ${describe(token)}`);
  }

  private parseObject(): Node {
    const open = this.next();
    this.enter(open.pos);
    const fields: Field[] = [];
    const seen = new Set<string>();
    for (;;) {
      if (this.isPunct("}")) {
        this.next();
        break;
      }
      const keyToken = this.peek();
      if (keyToken.kind === "end") fail(`unterminated "{" opened at position ${open.pos}: expected a field or "}" at position ${keyToken.pos}, found end of input`);
      if (keyToken.kind !== "ident" && keyToken.kind !== "string") {
        fail(`expected a field name at position ${keyToken.pos}, found ${describe(keyToken)}`);
      }
      this.next();
      const key = keyToken.text;
      if (seen.has(key)) fail(`duplicate field "${key}" at position ${keyToken.pos}`);
      seen.add(key);
      const optional = this.isPunct("?");
      if (optional) this.next();
      this.expectPunct(":", ` after field "${key}"`);
      fields.push({ key, optional, type: this.parseType() });

      const after = this.peek();
      if (this.isPunct(",") || this.isPunct(";")) this.next();
      else if (this.isPunct("}") || after.newlineBefore) continue;
      else if (after.kind === "end") fail(`unterminated "{" opened at position ${open.pos}: expected "," or "}" at position ${after.pos}, found end of input`);
      else fail(`expected "," or "}" at position ${after.pos} after field "${key}", found ${describe(after)}`);
    }
    this.depth--;
    return { kind: "object", fields };
  }
}

function nodeLabel(node: Node): string {
  if (node.kind === "primitive") return node.name;
  if (node.kind === "literal") return JSON.stringify(node.value);
  if (node.kind === "array") return `an array of ${nodeLabel(node.items)}`;
  return { any: "any", object: "an object", union: "a union" }[node.kind];
}

function closestKnownType(word: string): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const known of KNOWN_TYPES) {
    const distance = editDistance(word.toLowerCase(), known);
    if (distance < bestDistance) [best, bestDistance] = [known, distance];
  }
  // Two edits catches the usual typos ("strng", "numbr", "bool") without suggesting nonsense.
  return bestDistance <= 2 || (best !== undefined && best.startsWith(word.toLowerCase())) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

function compileNode(node: Node): JsonSchema {
  switch (node.kind) {
    case "primitive":
      return { type: node.name };
    case "any":
      return {};
    case "literal":
      // `enum` rather than `const`: it is what every provider's native structured output accepts.
      return { type: "string", enum: [node.value] };
    case "array":
      return { type: "array", items: compileNode(node.items) };
    case "object":
      return {
        type: "object",
        // fromEntries defines own properties, so a key such as "__proto__" stays an ordinary key.
        properties: Object.fromEntries(node.fields.map((field) => [field.key, compileNode(field.type)])),
        required: node.fields.filter((field) => !field.optional).map((field) => field.key),
        additionalProperties: false,
      };
    case "union":
      return compileUnion(node.members);
  }
}

function compileUnion(members: Node[]): JsonSchema {
  if (members.some((member) => member.kind === "any")) return {};
  const literals = unique(members.flatMap((member) => (member.kind === "literal" ? [member.value] : [])));
  const primitives = unique(members.flatMap((member) => (member.kind === "primitive" ? [member.name] : [])));
  const others = members.filter((member) => member.kind === "array" || member.kind === "object");

  // `"a" | "b" | null` stays a single enum, which reads better and is what OpenAI documents for nullable enums.
  if (others.length === 0 && literals.length > 0 && primitives.every((name) => name === "null")) {
    return primitives.length === 0
      ? { type: "string", enum: literals }
      : { type: ["string", "null"], enum: [...literals, null] };
  }

  // Branches keep the order the author wrote, so `{...} | null` reads back as "object or null".
  const branches: JsonSchema[] = [];
  const seen = new Set<string>();
  for (const member of members) {
    let branch: JsonSchema;
    if (member.kind === "literal") branch = { type: "string", enum: literals };
    else if (member.kind === "primitive") branch = { type: primitives.length === 1 ? primitives[0] : primitives };
    else branch = compileNode(member);
    const key = JSON.stringify(branch);
    if (!seen.has(key)) {
      seen.add(key);
      branches.push(branch);
    }
  }
  return branches.length === 1 ? branches[0]! : { anyOf: branches };
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
