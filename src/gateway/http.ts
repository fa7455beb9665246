import type { IncomingMessage, ServerResponse } from "node:http";
import { isDotsOnly, NAME_MAX_LENGTH } from "../config/bounds.js";
import { EARLIEST_DATE, LATEST_DATE, parseSince } from "../core/duration.js";
import { AirlockError, clientClosedError, toAirlockError } from "../core/errors.js";
import { parseJsonWithExactNumbers } from "../core/exact-json.js";

export type Headers = Record<string, string | number>;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Headers = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * The longest `Retry-After` a client is left to retry after by itself: the openai Python SDK ignores
 * longer ones, and the Node SDK would sleep through them with the caller waiting on it.
 */
const SDK_RETRY_WAIT_LIMIT_S = 60;

/** The OpenAI error shape, with `Retry-After` where the error says when to come back. No stack ever. */
export function sendError(res: ServerResponse, err: unknown, headers: Headers = {}): AirlockError {
  const error = toAirlockError(err);
  if (res.headersSent) {
    res.destroy();
    return error;
  }
  const extra: Headers = Object.assign({}, headers);
  if (error.retryAfterSeconds !== undefined) extra["retry-after"] = Math.ceil(error.retryAfterSeconds);
  // The openai SDKs read this one first, so they wait to the millisecond rather than up to a second more.
  if (error.retryAfterMs !== undefined) extra["retry-after-ms"] = error.retryAfterMs;
  // A 429 that no short wait ends (a budget until its window resets, hours away): the official SDKs retry
  // every 429 and 5xx, and the Node one sleeps out any Retry-After however long, so they are told not to,
  // in OpenAI's own header. So is a longer wait on any other error (a breaker's cooldown of an hour, an
  // upstream's Retry-After of an hour passed on): the caller still reads when to come back.
  const longWait = error.retryAfterSeconds !== undefined && error.retryAfterSeconds > SDK_RETRY_WAIT_LIMIT_S;
  if ((error.status === 429 && !error.isRetryable) || longWait) extra["x-should-retry"] = "false";
  // The rest of the body is not read: the connection cannot carry another request after it.
  if (error.code === "request_too_large" || error.code === "request_timeout") extra.connection = "close";
  sendJson(res, error.status, error.toJSON(), extra);
  return error;
}

/**
 * The body as JSON (see readBody for the limit). `options.empty` stands in for an empty body where one
 * is allowed (an action with no fields). A number with more digits than a double holds is read as its
 * exact decimal text (see parseJsonWithExactNumbers), unless `options.exactNumbers` is false: the calls'
 * own bodies, on the hot path, carry no money, and skip the extra pass over their text.
 */
export async function readJson(req: IncomingMessage, limits: BodyLimits, options: { empty?: unknown; exactNumbers?: boolean } = {}): Promise<unknown> {
  const body = await readBody(req, limits.bodyLimitBytes, limits.bodyTimeoutMs);
  if (body.length === 0) {
    if (options.empty !== undefined) return options.empty;
    throw new AirlockError("invalid_request", "the request body is empty; expected JSON");
  }
  if (nestsDeeperThan(body, MAX_JSON_DEPTH)) {
    throw new AirlockError("invalid_request", `the request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`);
  }
  try {
    const text = body.toString("utf8");
    return options.exactNumbers === false ? JSON.parse(text) : parseJsonWithExactNumbers(text);
  } catch {
    throw new AirlockError("invalid_request", "the request body is not valid JSON");
  }
}

/**
 * How deep a request's arrays and objects may nest. JSON.parse takes any depth, but what the body goes
 * through afterwards recurses (JSON.stringify towards the upstream, schema checks) and would overflow the
 * stack on a few thousand levels. Real requests (tool schemas included) stay far below this.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * Whether JSON text nests past `max`, in one pass over its bytes before the parse (a few µs for a usual
 * chat body, about a millisecond per MiB). Brackets inside strings do not count. The text need not be
 * valid JSON: the parse that follows judges that.
 */
export function nestsDeeperThan(json: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const byte = json[i]!;
    if (inString) {
      if (byte === 0x5c) i++; // a backslash escapes the next byte, a quote included
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x7b || byte === 0x5b) {
      if (++depth > max) return true;
    } else if (byte === 0x7d || byte === 0x5d) depth--;
  }
  return false;
}

/** How much of a body Airlock takes, and for how long it waits for it (the gateway's settings). */
export interface BodyLimits {
  bodyLimitBytes: number;
  bodyTimeoutMs: number;
}

/**
 * The whole body. A declared length over `limitBytes` is refused before a byte is read; an undeclared
 * (chunked) body is counted as it arrives and refused the moment it passes the limit. A body not whole
 * within `timeoutMs` of being asked for is refused with `request_timeout` (408): a client that declares
 * more than it sends would otherwise hold its connection, and a slot of the gateway, forever.
 */
export function readBody(req: IncomingMessage, limitBytes: number, timeoutMs: number): Promise<Buffer> {
  if (req.headers["content-encoding"] !== undefined) return readUncompressed(req, limitBytes, timeoutMs);
  return readBytes(req, limitBytes, timeoutMs);
}

function readBytes(req: IncomingMessage, limitBytes: number, timeoutMs: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (declared > limitBytes) return Promise.reject(tooLarge(limitBytes));
  // A small body usually comes in the packet with its headers, and by the time a handler asks, the
  // parser has queued all of it (its declared length, or the whole message). It is taken at once: the
  // stream's events (`resume` on a tick, `data`, `end` on another) cost 15–25 µs on the way to the first byte.
  const queued = req.readableLength;
  if ((req.complete || queued === declared) && req.readableFlowing !== true && !req.readableEnded) {
    if (queued > limitBytes) return Promise.reject(tooLarge(limitBytes));
    const whole = req.read() as Buffer | null; // everything queued, in one buffer
    req.resume(); // the message's end may be still to come: let it flow out, as a reader would
    return Promise.resolve(whole ?? Buffer.alloc(0));
  }
  // A client gone before its body came whole: no `end` and no `error` will ever come.
  if (req.destroyed) return Promise.reject(clientClosedError(BODY_CUT));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const giveUp = (error: AirlockError) => {
      done = true;
      clearTimeout(deadline);
      chunks.length = 0;
      req.pause();
      reject(error);
    };
    const deadline = setTimeout(() => {
      if (!done) giveUp(new AirlockError("request_timeout", `the request body did not arrive whole within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limitBytes) return giveUp(tooLarge(limitBytes));
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    });
    // A request stream fails only when its client's connection does (reset, or aborted mid-body): the
    // client's doing, never Airlock's, so it is not reported as an internal error. A close before `end`
    // is the same, told without an error.
    const cut = () => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      reject(clientClosedError(BODY_CUT));
    };
    req.on("error", cut);
    req.on("close", cut);
  });
}

/**
 * A body sent with a `Content-Encoding` is read (so that the connection can carry the next request)
 * and then refused, unless the encoding is `identity`: OpenAI's API takes no compressed request
 * bodies, and neither do the gateways its clients also talk to, so no client sends one by default.
 */
async function readUncompressed(req: IncomingMessage, limitBytes: number, timeoutMs: number): Promise<Buffer> {
  const encoding = (req.headers["content-encoding"] ?? "").trim().toLowerCase();
  const body = await readBytes(req, limitBytes, timeoutMs);
  if (encoding === "" || encoding === "identity") return body;
  // Named only when it is safe to repeat, as any header value Airlock echoes.
  const label = headerLabel(req, "content-encoding");
  const named = label === undefined ? "" : ` (${label})`;
  throw new AirlockError("invalid_request", `the request body is encoded${named}; send it uncompressed, without a Content-Encoding header`);
}

const BODY_CUT = "the client closed the request before its body came whole";

function tooLarge(limitBytes: number): AirlockError {
  return new AirlockError("request_too_large", `the request body is over the ${limitBytes}-byte limit`);
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header && header.length > 7 && header.slice(0, 7).toLowerCase() === "bearer ") return header.slice(7).trim();
  const apiKey = req.headers["x-api-key"];
  return typeof apiKey === "string" && apiKey ? apiKey : undefined;
}

/** A header value that is safe to put on a ledger row and in logs: short, printable, or nothing. */
export function headerLabel(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  if (typeof value !== "string" || value.length === 0 || value.length > 200) return undefined;
  return /^[\x20-\x7e]+$/.test(value) ? value : undefined;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The router's bound on one path parameter. New names are held to NAME_MAX_LENGTH, but names stored
 * before that bound (a route approved through change control, a budget from a config file) may be
 * longer: the router must still reach them, to read and delete them.
 */
export const ROUTE_PARAM_MAX_LENGTH = 512;

const NAME_CHARACTERS = /^[A-Za-z0-9_.:-]+$/;

/** The `:name` of a path such as `/admin/budgets/:name`, checked: letters, digits, `_ . : -`, of any length the router passes. */
export function nameParam(params: Record<string, string | undefined>, what: string): string {
  const name = params.name ?? "";
  if (!NAME_CHARACTERS.test(name)) throw new AirlockError("invalid_request", `a ${what} name is letters, digits, \`_\`, \`.\`, \`:\` and \`-\``, { param: "name" });
  return name;
}

/** The `:name` of a path that creates or replaces something: as nameParam, and at most NAME_MAX_LENGTH characters. */
export function newNameParam(params: Record<string, string | undefined>, what: string): string {
  const name = nameParam(params, what);
  if (name.length > NAME_MAX_LENGTH) throw new AirlockError("invalid_request", `a ${what} name is at most ${NAME_MAX_LENGTH} characters`, { param: "name" });
  if (isDotsOnly(name)) throw new AirlockError("invalid_request", `a ${what} name is not dots alone (a URL path cannot hold it)`, { param: "name" });
  return name;
}

/**
 * The `:id` of a path such as `/admin/runs/:id`. Every id Airlock makes is letters, digits and `_`; one
 * with a NUL in it would fail inside the store (which cannot hold one) as an internal error, so an id
 * that no row could have names nothing: `no <what> "<id>"`, as an unknown one does.
 */
export function idParam(params: Record<string, string | undefined>, what: string): string {
  const id = params.id ?? "";
  if (id.includes("\u0000")) throw new AirlockError("not_found", `no ${what} "${id}"`);
  return id;
}

/** An optional text query parameter that the store compares with: a NUL in it is refused, as the store could not take it. */
export function textParam(query: URLSearchParams, name: string): string | undefined {
  const value = query.get(name) ?? undefined;
  if (value?.includes("\u0000")) throw new AirlockError("invalid_request", `${name} must not contain a NUL character (\\u0000)`, { param: name });
  return value;
}

/** The `since` query parameter: a duration back from now or an ISO date, `fallback` when absent. */
export function sinceParam(query: URLSearchParams, fallback: string, example = '"24h" or "7d"'): Date {
  const since = optionalSinceParam(query, example) ?? parseSince(fallback);
  if (!since) throw new Error(`the default since "${fallback}" is not a duration`);
  return since;
}

/** The `since` query parameter, undefined when absent. The same strict reading as everywhere: see core/duration.ts. */
export function optionalSinceParam(query: URLSearchParams, example = '"24h" or "7d"'): Date | undefined {
  const text = query.get("since");
  if (text === null) return undefined;
  const since = parseSince(text);
  if (!since) throw new AirlockError("invalid_request", `since must be a duration such as ${example}, or an ISO date, from ${EARLIEST_DATE} to ${LATEST_DATE}`, { param: "since" });
  return since;
}

/** The `limit` query parameter: 1 to 1000 in decimal digits, `fallback` when absent. */
export function limitParam(query: URLSearchParams, fallback = 50): number {
  const text = query.get("limit");
  // Number() would also read "0x10", "1e2" and " 16 ": a limit is written in decimal digits only.
  const limit = text === null ? fallback : /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new AirlockError("invalid_request", "limit must be a whole number from 1 to 1000", { param: "limit" });
  return limit;
}

/** An optional query parameter that must be one of `values`. */
export function enumParam<T extends string>(query: URLSearchParams, name: string, values: readonly T[]): T | undefined {
  const value = query.get(name) ?? undefined;
  if (value !== undefined && !(values as readonly string[]).includes(value)) throw new AirlockError("invalid_request", `${name} must be one of ${values.join(", ")}`, { param: name });
  return value as T | undefined;
}
