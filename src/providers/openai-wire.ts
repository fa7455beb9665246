import type { ChunkWire } from "./spec.js";

/**
 * OpenAI stream chunks as text. Most chunks of a stream carry one token and nothing Airlock acts on.
 * Parsing each into objects and serializing it again was most of what a streamed event cost, so such a
 * chunk goes on as the upstream wrote it, edited in place. A chunk with anything else in it is parsed.
 *
 * The edits find keys by searching the text. In valid JSON a quote inside a string is escaped, so
 * `"model":"` can only match a real key followed by a string value, never text inside a value. The
 * searches start past a key's opening quote and check it afterwards: a quote is the commonest character
 * in JSON, and a search for a pattern that begins with one stops at every quote (measured: 200 ns for
 * `"usage"` in a 300-character chunk, 36 ns for `usage"`). A key spelled with `\u` escapes would hide
 * from them, so a chunk with any `\u` escape is parsed.
 *
 * What is left unchecked, as a proxy leaves it: a chunk that passes these tests but is not valid JSON
 * goes to the client as it came, where a parse would have ended the stream with a protocol error.
 */

const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const ZERO = 48;
const NINE = 57;

/**
 * The chunk as it can go to the client, or undefined when it must be parsed. It can when it is a JSON
 * object with a non-empty `choices` and a plain `model`, carries no error, tool call or function call,
 * and has no `usage` key or exactly one `"usage":null` (cut out: usage travels as its own event).
 * Written with spaces (`"usage": null`) it is parsed; so is a chunk whose contents cannot be read.
 */
export function passThrough(data: string): ChunkWire | undefined {
  if (data.charCodeAt(0) !== OPEN_BRACE || data.charCodeAt(data.length - 1) !== CLOSE_BRACE) return undefined;
  // Sent over several `data:` lines, the chunk holds line breaks; written as one event it would be cut at them.
  if (data.includes("\n") || data.includes("\\u")) return undefined;
  // `_call` covers `tool_calls` and `function_call`, and `rror"` the key `"error"` and the value: any of
  // them, even inside the text, sends the chunk to the parser, which is never wrong.
  if (data.includes("_call") || data.includes('rror"')) return undefined;
  const uncut = nullUsageCut(data);
  if (uncut === undefined) return undefined;
  // `choices` and `model` must be members of the chunk itself, not of an object inside it: they come before
  // its first `{` or `[` (OpenAI puts them there), which a key inside a nested object cannot.
  const opening = firstOpening(data);
  const choices = keyAt(data, 'choices":[{', 0);
  if (choices < 0 || opening !== choices + 10) return undefined;
  const model = ownString(data, 'model"', opening);
  if (model === undefined) return undefined;
  const contents = deltaContents(data);
  if (contents === undefined) return undefined;
  if (uncut === null) return { text: data, contents, model, uncut: undefined };
  // Every search above read the chunk as it came: cut first, the text would be copied whole by the
  // first of them (a string made of two pieces is joined when searched), and again when the model is set.
  if (uncut.start <= model.start) {
    const shift = uncut.end - uncut.start;
    model.start -= shift;
    model.end -= shift;
  }
  return { text: data.slice(0, uncut.start) + data.slice(uncut.end), contents, model, uncut };
}

/**
 * The chunk's `"usage":null` with the comma that goes with it, as the span to cut from it (see
 * ChunkWire.uncut); null when the chunk has no usage key; undefined when it cannot be cut exactly (the
 * chunk is then parsed). A `"usage":null` inside a nested object would be cut as well (a parse would
 * keep it); chunks carry none there.
 */
function nullUsageCut(data: string): ChunkWire["uncut"] | null {
  const at = keyAt(data, 'usage"', 0);
  if (at < 0) return null;
  if (keyAt(data, 'usage"', at + 1) >= 0 || !data.startsWith('"usage":null', at)) return undefined;
  const after = at + 12;
  const next = data.charCodeAt(after);
  if (data.charCodeAt(at - 1) === COMMA && (next === COMMA || next === CLOSE_BRACE)) return { source: data, start: at - 1, end: after };
  if (next === COMMA) return { source: data, start: at, end: after + 1 };
  return undefined;
}

/**
 * Every `"content":"…"` string in the chunk, decoded, in order: what its choices' deltas say. Undefined
 * when one is not closed. `logprobs.content` is an array, so it does not match.
 */
export function deltaContents(text: string): string[] | undefined {
  const contents: string[] = [];
  const escaped = text.includes("\\");
  for (let at = keyAt(text, 'content":"', 0); at >= 0; ) {
    const open = at + 10;
    const close = escaped ? closingQuote(text, open + 1) : text.indexOf('"', open + 1);
    if (close < 0) return undefined;
    if (!escaped) contents.push(text.slice(open + 1, close));
    else {
      // An escape JSON does not know (`\q`) is the parser's to report, as a protocol error.
      try {
        contents.push(JSON.parse(text.slice(open, close + 1)) as string);
      } catch {
        return undefined;
      }
    }
    at = keyAt(text, 'content":"', close + 1);
  }
  return contents;
}

/**
 * The chunk's own `id` and `created`, read from its text: what a stream's closing usage chunk repeats.
 * Undefined, to parse the chunk instead, unless each occurs once, before the first nested object or
 * array (so it is the chunk's own), with a plain value: an id without escapes, a whole number.
 */
export function chunkIdentity(text: string): { id: string; created: number } | undefined {
  const opening = firstOpening(text);
  const id = ownString(text, 'id"', opening);
  const created = ownKey(text, 'created"', opening);
  if (id === undefined || created < 0 || text.charCodeAt(created + 9) !== COLON) return undefined;
  const digitsStart = created + 10;
  let digitsEnd = digitsStart;
  while (digitsEnd < text.length && text.charCodeAt(digitsEnd) >= ZERO && text.charCodeAt(digitsEnd) <= NINE) digitsEnd++;
  const next = text.charCodeAt(digitsEnd);
  if (digitsEnd === digitsStart || (next !== COMMA && next !== CLOSE_BRACE)) return undefined;
  return { id: text.slice(id.start + 1, id.end - 1), created: Number(text.slice(digitsStart, digitsEnd)) };
}

/**
 * Where the chunk's own string member lies (quotes included), or undefined when its key does not occur
 * exactly once, before the first nested object, with a plain string value (no escapes): a parse then
 * reads it. `key` is the name with its closing quote, as `keyAt` takes it.
 */
function ownString(text: string, key: string, opening: number): ChunkWire["model"] | undefined {
  const at = ownKey(text, key, opening);
  const start = at + key.length + 2; // past the opening quote, the key and its colon
  if (at < 0 || text.charCodeAt(start - 1) !== COLON || text.charCodeAt(start) !== QUOTE) return undefined;
  // An escape inside the value (an escaped quote ends this search early) is left to the parser.
  const close = text.indexOf('"', start + 1);
  if (close < 0 || text.lastIndexOf("\\", close) > start) return undefined;
  return { start, end: close + 1 };
}

/** Where the chunk's own key starts (see `keyAt`), or -1 unless it occurs exactly once, before the first nested value. */
function ownKey(text: string, key: string, opening: number): number {
  const at = keyAt(text, key, 0);
  return at < 0 || at > opening || keyAt(text, key, at + 1) >= 0 ? -1 : at;
}

/** Where the first `{` or `[` after the chunk's own opening brace is, or -1. */
function firstOpening(text: string): number {
  const brace = text.indexOf("{", 1);
  const bracket = text.indexOf("[", 1);
  return brace < 0 ? bracket : bracket < 0 ? brace : Math.min(brace, bracket);
}

/**
 * Where the key `"<rest>` starts, at or after `from`: `rest` is the key without its opening quote (and
 * with what must follow it), found by a search that does not stop at every quote. -1 when absent.
 */
function keyAt(text: string, rest: string, from: number): number {
  for (let at = text.indexOf(rest, from + 1); at > 0; at = text.indexOf(rest, at + 1)) {
    // A quote after a backslash may be inside a string: such a match is passed over (and the chunk parsed).
    if (text.charCodeAt(at - 1) === QUOTE && text.charCodeAt(at - 2) !== BACKSLASH) return at - 1;
  }
  return -1;
}

/** The index of the quote that ends the string whose contents start at `from`, or -1. */
function closingQuote(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i;
    if (c === BACKSLASH) i++;
  }
  return -1;
}
