import type { Dispatcher } from "undici";
import type { Attempt } from "./attempt.js";
import { BodyBytes, type ResponseHeaders } from "./dispatch.js";
import { SseDecoder, type EventSourceMessage, type SseBursts } from "./sse.js";

export interface SseAnswerOptions {
  /** Classifies a refusal (an answer that is not 2xx) from its status, headers and body. */
  refusal: (status: number, headers: ResponseHeaders, body: Buffer) => Error;
  /** Maps a transport failure (socket, framing, oversized event) onto what the caller sees. */
  transportError: (err: unknown) => unknown;
  /** How much of a refusal's body is kept to classify it. */
  errorBytes: number;
}

/** Messages held for a consumer that reads slower than the upstream sends, before the upstream is paused. */
const HIGH_WATER_CHARS = 64 * 1024;
/** What a message costs beyond its text, so that a flood of empty events is bounded too. */
const MESSAGE_OVERHEAD_CHARS = 64;
/** Past the consumer's last read an upstream has this long to end its body before the connection is dropped. */
const RELEASE_GRACE_MS = 5_000;

/**
 * POSTs through undici's handler API and resolves, once the upstream has accepted the request (2xx
 * headers), with its SSE messages in bursts. A refusal rejects here, where it can still be retried.
 *
 * Why not `pool.request()` and its body's async iterator: each answer then became a Readable, and
 * each network read passed through Node's stream machinery and a generator layer before the decoder
 * saw it. Here each chunk is decoded as it arrives and its messages are queued for the consumer, who
 * takes all that are queued at each read: an upstream packet often carries many events, and a read
 * per event cost each one a promise, a result object and a turn of every async layer above it.
 * The attempt works as it did: its timeout measures upstream silence (`touch` on every chunk), not
 * the consumer's think time (`hold` while a burst is with the consumer), and an abort ends the
 * stream at the consumer's next message: the burst it holds is cut short, and its next read throws
 * the attempt's outcome. A consumer that stops early (at
 * `[DONE]`) leaves the rest of the body to be read, so the connection goes back to the pool.
 */
export function openSse(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions, attempt: Attempt, answer: SseAnswerOptions): Promise<SseBursts> {
  if (attempt.signal.aborted) return Promise.reject(attempt.signal.reason);
  return new Promise((resolve, reject) => {
    dispatcher.dispatch(options, new SseAnswer(attempt, answer, resolve, reject));
  });
}

type Burst = readonly EventSourceMessage[];
type Pull = IteratorResult<Burst, undefined>;

class SseAnswer implements Dispatcher.DispatchHandler, AsyncIterableIterator<Burst> {
  private controller: Dispatcher.DispatchController | undefined;
  private readonly decoder = new SseDecoder();
  private queue: EventSourceMessage[] = [];
  private queuedChars = 0;
  private status = 0;
  private headers: ResponseHeaders = {};
  private readonly refusalBody: BodyBytes;
  /** Resolved (accepted) or rejected (refused, failed): the opening is decided. */
  private opened = false;
  private ended = false;
  private failure: { err: unknown } | undefined;
  /** The consumer finished or stopped reading: nothing more is delivered. */
  private closed = false;
  /** The burst with the consumer, until it reads again: the attempt holds meanwhile, and an abort empties it. */
  private handed: EventSourceMessage[] | undefined;
  /** A wake is queued for the end of this network read (see wakeSoon). */
  private waking = false;
  /** wake() is serving reads: a call from inside it (see there) leaves the work to that loop. */
  private inWake = false;
  /** Reads waiting for the upstream, served in order (a caller may ask again before an answer). */
  private waiting: Array<{ resolve: (pull: Pull) => void; reject: (err: unknown) => void }> = [];
  private grace: NodeJS.Timeout | undefined;
  private readonly onAbort = () => {
    this.controller?.abort(this.attempt.signal.reason as Error);
    // Bytes already buffered must not outlive an abort, those of the burst being read included.
    if (this.handed !== undefined) this.handed.length = 0;
    if (!this.opened) this.refuse(this.attempt.signal.reason);
    else this.wake();
  };

  constructor(
    private readonly attempt: Attempt,
    private readonly answer: SseAnswerOptions,
    private readonly accept: (bursts: SseBursts) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    this.refusalBody = new BodyBytes(answer.errorBytes);
    attempt.signal.addEventListener("abort", this.onAbort, { once: true });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Aborted while the request waited in the pool's queue: it must not reach the upstream now.
    if (this.attempt.signal.aborted) controller.abort(this.attempt.signal.reason as Error);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, status: number, headers: ResponseHeaders): void {
    if (status < 200 || this.opened) return; // 1xx informational: the answer is still to come
    this.status = status;
    this.headers = headers;
    if (status >= 300) return; // a refusal: its body is read to classify it
    this.attempt.touch();
    this.opened = true;
    this.accept(this);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.accepted()) return this.refusalBody.push(chunk);
    if (this.closed) return; // read and dropped, so the connection can be reused
    this.attempt.touch();
    let messages: readonly EventSourceMessage[];
    try {
      messages = this.decoder.push(chunk);
    } catch (err) {
      this.failure = { err };
      controller.abort(err as Error);
      this.wake();
      return;
    }
    if (messages.length === 0) return;
    this.enqueue(messages);
    if (this.queuedChars > HIGH_WATER_CHARS) controller.pause();
    this.wakeSoon();
  }

  onResponseEnd(): void {
    if (!this.accepted()) return this.refuse(this.refusalError());
    if (this.closed) return this.clearGrace();
    // What the decoder still holds: an event that had no blank line after it.
    this.enqueue(this.decoder.end());
    this.ended = true;
    this.wake();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    // A refusal whose body broke off is still classified by its status.
    if (!this.accepted()) return this.refuse(this.status >= 300 ? this.refusalError() : err);
    if (this.closed) return this.clearGrace();
    this.failure ??= { err };
    this.wake();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<Pull> {
    if (this.handed !== undefined) {
      this.handed = undefined;
      this.attempt.resume(); // the consumer asked for more: waiting is on the upstream again
    }
    if (this.waiting.length === 0) {
      try {
        const pull = this.pull();
        if (pull !== undefined) return Promise.resolve(pull);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** The consumer stopped before the end (at `[DONE]`, or it went away). */
  return(): Promise<Pull> {
    if (!this.closed) {
      this.closed = true;
      this.queue = [];
      for (const waiting of this.waiting.splice(0)) waiting.resolve({ done: true, value: undefined });
      this.attempt.finish();
      this.attempt.signal.removeEventListener("abort", this.onAbort);
      if (this.ended || this.failure) return Promise.resolve({ done: true, value: undefined });
      if (this.attempt.signal.aborted) this.controller?.abort(this.attempt.signal.reason as Error);
      else {
        // The rest of the body is read and dropped; an upstream that never ends it loses the connection.
        this.grace = setTimeout(() => this.controller?.abort(new Error("the upstream did not end its stream")), RELEASE_GRACE_MS);
        this.grace.unref();
        this.controller?.resume();
      }
    }
    return Promise.resolve({ done: true, value: undefined });
  }

  /** The next result if there is one now, undefined to wait for the upstream. Throws the stream's failure. */
  private pull(): Pull | undefined {
    if (this.closed) return { done: true, value: undefined };
    // Bytes already buffered must not outlive an abort: the caller stops hearing from us at once.
    if (this.attempt.signal.aborted) this.close(this.attempt.outcome(undefined));
    if (this.queue.length > 0) {
      const burst = this.queue;
      this.queue = [];
      this.queuedChars = 0;
      this.controller?.resume();
      this.handed = burst;
      this.attempt.hold();
      return { done: false, value: burst };
    }
    if (this.failure) this.close(this.attempt.outcome(this.failure.err, this.answer.transportError));
    if (this.ended) {
      this.closed = true;
      this.finishAttempt();
      return { done: true, value: undefined };
    }
    return undefined;
  }

  private close(err: unknown): never {
    this.closed = true;
    this.queue = [];
    this.finishAttempt();
    throw err;
  }

  /**
   * Wakes a waiting read once the rest of this network read is queued too. An upstream that writes each
   * event as its own HTTP chunk has many arrive in one read, and undici hands them over one by one, all
   * before any promise settles: woken at the first, the read got a burst of one event, and the rest
   * made a second.
   */
  private wakeSoon(): void {
    if (this.waking || this.waiting.length === 0) return;
    this.waking = true;
    queueMicrotask(this.wakeNow);
  }

  private readonly wakeNow = (): void => {
    this.waking = false;
    this.wake();
  };

  private wake(): void {
    // A read that resumes a paused upstream lets undici hand over what it held, its end included, inside
    // that call: a wake from there would serve the waiting read this one is serving (and this one would
    // then find none left). The loop below goes on while reads wait, so it sees what that delivered.
    if (this.inWake) return;
    this.inWake = true;
    try {
      while (this.waiting.length > 0) {
        let pull: Pull | undefined;
        try {
          pull = this.pull();
        } catch (err) {
          this.waiting.shift()!.reject(err);
          continue; // the stream is closed now: the rest are told it is done
        }
        if (pull === undefined) return;
        this.waiting.shift()!.resolve(pull);
      }
    } finally {
      this.inWake = false;
    }
  }

  private enqueue(messages: readonly EventSourceMessage[]): void {
    for (const message of messages) {
      this.queue.push(message);
      this.queuedChars += costOf(message);
    }
  }

  private accepted(): boolean {
    return this.opened && this.status >= 200 && this.status < 300;
  }

  private refusalError(): Error {
    return this.answer.refusal(this.status, this.headers, this.refusalBody.bytes());
  }

  /** The opening failed: refused, or broken before the upstream accepted. */
  private refuse(err: unknown): void {
    if (this.opened) return;
    this.opened = true;
    this.attempt.signal.removeEventListener("abort", this.onAbort);
    this.reject(err);
  }

  private finishAttempt(): void {
    this.attempt.finish();
    this.attempt.signal.removeEventListener("abort", this.onAbort);
  }

  private clearGrace(): void {
    if (this.grace !== undefined) clearTimeout(this.grace);
  }
}

function costOf(message: EventSourceMessage): number {
  return message.data.length + (message.event?.length ?? 0) + (message.id?.length ?? 0) + MESSAGE_OVERHEAD_CHARS;
}
