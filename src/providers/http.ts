import type { AbortSource } from "../core/cancel.js";
import { errorCode } from "../core/errors.js";
import { Pool, type Dispatcher, type FormData } from "undici";
import { Attempt } from "./attempt.js";
import { dispatchForBody, utf8Text, type BodyAnswer, type ResponseHeaders } from "./dispatch.js";
import { ProviderError, providerErrorFromResponse } from "./errors.js";
import { credentialsIn, redact } from "./redact.js";
import type { CallOptions } from "./spec.js";
import { SseOverflowError, type SseBursts } from "./sse.js";
import { openSse, type SseAnswerOptions } from "./sse-answer.js";

export type { ResponseHeaders };

export interface UpstreamClientOptions {
  /** The provider's name in config, for error messages and ProviderError.provider. */
  provider: string;
  baseUrl: string;
  /** Sent with every request (auth, versions, config headers); computed once by the adapter. */
  headers: Record<string, string>;
  /** Max sockets to the upstream origin. */
  connections?: number;
  /** Per-attempt timeout: total for JSON calls; until the answer, then between bytes, for streams. */
  timeoutMs?: number;
  /** Overrides how a non-2xx answer is classified, for upstreams with their own wording. */
  errorFromResponse?: (status: number, headers: ResponseHeaders, bodyText: string) => ProviderError;
}

/** Error bodies are read for classification only; past this they are not worth holding. */
const MAX_ERROR_BODY_CHARS = 64 * 1024;
/** As many bytes as that many characters can take in UTF-8. */
const MAX_ERROR_BODY_BYTES = 4 * MAX_ERROR_BODY_CHARS;

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_CLOSED",
  "UND_ERR_DESTROYED",
  "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
]);
const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

/**
 * One upstream origin's HTTP plumbing, shared by the HTTP adapters: a connection pool, POST helpers
 * for JSON and SSE, and the mapping of every failure onto ProviderError (or the caller's abort reason).
 */
export class UpstreamClient {
  private readonly provider: string;
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly query: string;
  private readonly baseHeaders: Record<string, string>;
  /** JSON in, but whatever the endpoint answers (audio bytes) out. */
  private readonly jsonBodyHeaders: Record<string, string>;
  private readonly jsonHeaders: Record<string, string>;
  private readonly sseHeaders: Record<string, string>;
  private readonly timeoutMs: number | undefined;
  private readonly errorFromResponse: (status: number, headers: ResponseHeaders, bodyText: string) => ProviderError;
  private readonly sseAnswer: SseAnswerOptions;
  /** The credentials this client sends, longest first; never relayed in an upstream's error message. */
  readonly secrets: readonly string[];

  constructor(options: UpstreamClientOptions) {
    const url = new URL(options.baseUrl);
    this.provider = options.provider;
    this.basePath = url.pathname.replace(/\/+$/, "");
    this.query = url.search; // e.g. Azure's api-version travels on every path
    this.timeoutMs = options.timeoutMs;
    // Object.assign, not a spread followed by fields (see test/hot-path-shapes.test.ts); ours win.
    this.baseHeaders = Object.assign({}, options.headers);
    this.jsonBodyHeaders = Object.assign({}, options.headers, { "content-type": "application/json" });
    this.jsonHeaders = Object.assign({}, options.headers, { "content-type": "application/json", accept: "application/json" });
    this.sseHeaders = Object.assign({}, options.headers, { "content-type": "application/json", accept: "text/event-stream" });
    this.secrets = credentialsIn(options.headers);
    this.errorFromResponse =
      options.errorFromResponse ?? ((status, headers, text) => providerErrorFromResponse(this.provider, status, headers, text));
    this.sseAnswer = {
      refusal: (status, headers, body) => this.refusal(status, headers, body),
      transportError: this.transportError,
      errorBytes: MAX_ERROR_BODY_BYTES,
    };
    // undici's own 300 s header/body timeouts are disabled: the caller's deadline and timeoutMs govern,
    // and a hidden cutoff would kill long reasoning calls that the operator allowed.
    this.pool = new Pool(url.origin, {
      connections: options.connections ?? null,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  /** The request path for an endpoint below the base URL, e.g. `/chat/completions`. Call once, keep it. */
  path(endpoint: string): string {
    return `${this.basePath}${endpoint}${this.query}`;
  }

  /** POSTs `body` (already JSON text) and returns the parsed JSON answer. */
  async postJson(path: string, body: string, options: CallOptions): Promise<unknown> {
    const attempt = new Attempt(abortSourceOf(options), this.provider, this.timeoutMs);
    try {
      const answer = await this.post(path, this.jsonHeaders, body, attempt);
      try {
        return JSON.parse(utf8Text(answer.bytes)) as unknown;
      } catch {
        throw this.protocolError("upstream answered with a body that is not JSON");
      }
    } catch (err) {
      throw attempt.outcome(err, this.transportError);
    } finally {
      attempt.finish();
    }
  }

  /** POSTs a JSON or multipart body and returns the answer's bytes as they came, with their content type. */
  async postForBytes(path: string, body: string | FormData, options: CallOptions): Promise<{ contentType: string; bytes: Uint8Array }> {
    const attempt = new Attempt(abortSourceOf(options), this.provider, this.timeoutMs);
    try {
      // A FormData body brings its own multipart content type, boundary included.
      const headers = typeof body === "string" ? this.jsonBodyHeaders : this.baseHeaders;
      const answer = await this.post(path, headers, body, attempt);
      const type = answer.headers["content-type"];
      // A Buffer is a Uint8Array: the audio goes on as it came, not copied.
      return { contentType: (Array.isArray(type) ? type[0] : type) ?? "application/octet-stream", bytes: answer.bytes };
    } catch (err) {
      throw attempt.outcome(err, this.transportError);
    } finally {
      attempt.finish();
    }
  }

  /**
   * POSTs `body` and resolves once the upstream accepted it (2xx headers seen), so that a refusal is
   * still thrown here, where it can be retried. Failures while reading surface from the iterator.
   */
  async postSse(path: string, body: string, options: CallOptions): Promise<SseBursts> {
    const attempt = new Attempt(abortSourceOf(options), this.provider, this.timeoutMs, options);
    try {
      return await openSse(this.pool, { path, method: "POST", headers: this.sseHeaders, body }, attempt, this.sseAnswer);
    } catch (err) {
      attempt.finish();
      throw attempt.outcome(err, this.transportError);
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /** One POST's whole answer; a refusal (not 2xx) is thrown, classified. */
  private async post(path: string, headers: Record<string, string>, body: Dispatcher.DispatchOptions["body"], attempt: Attempt): Promise<BodyAnswer> {
    const answer = await dispatchForBody(this.pool, { path, method: "POST", headers, body }, attempt.signal, MAX_ERROR_BODY_BYTES);
    if (answer.status < 200 || answer.status >= 300) throw this.refusal(answer.status, answer.headers, answer.bytes);
    return answer;
  }

  /**
   * A non-2xx answer, classified. Its message may reach the client (a 400 is relayed as the caller's
   * mistake), and some upstreams echo the request's headers in it: Airlock's credentials are taken out
   * of the text first, before anything reads or cuts it.
   */
  private refusal(status: number, headers: ResponseHeaders, body: Buffer): ProviderError {
    return this.errorFromResponse(status, headers, redact(utf8Text(body), this.secrets).slice(0, MAX_ERROR_BODY_CHARS));
  }

  private protocolError(message: string, cause?: unknown): ProviderError {
    return new ProviderError(`${this.provider}: ${message}`, { kind: "protocol", provider: this.provider, cause });
  }

  /** Maps a failure below HTTP (socket, DNS, framing) onto a ProviderError. Never echoes request data. */
  private readonly transportError = (err: unknown): ProviderError => {
    if (err instanceof SseOverflowError) return this.protocolError(err.message, err);
    const code = errorCode(err);
    if (code !== undefined && TIMEOUT_CODES.has(code)) {
      return new ProviderError(`${this.provider}: upstream stopped answering (${code})`, { kind: "timeout", provider: this.provider, cause: err });
    }
    const reason = code !== undefined && CONNECTION_CODES.has(code) ? code : "transport failure";
    return new ProviderError(`${this.provider}: connection to upstream failed (${reason})`, {
      kind: "connection",
      provider: this.provider,
      cause: err,
    });
  };
}

/** What to listen to: the call's cancellation where the caller passed one, so that no AbortSignal is made for it. */
function abortSourceOf(options: CallOptions): AbortSource {
  return options.cancellation ?? options.signal;
}
