import type { Dispatcher } from "undici";
import { describe, expect, it } from "vitest";
import { Cancellation } from "../core/cancel.js";
import { Attempt } from "./attempt.js";
import { openSse } from "./sse-answer.js";
import type { EventSourceMessage } from "./sse.js";

/**
 * SseAnswer's side of undici's handler contract, driven directly: undici calls these methods with its
 * DispatchController, and this controller records what the handler asked of it (pause, resume, abort).
 * Reading over real HTTP is tested in http.test.ts.
 */
class RecordingController implements Dispatcher.DispatchController {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  resumes = 0;
  abort(reason: Error): void {
    this.aborted = true;
    this.reason = reason;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    this.resumes++;
  }
}

async function accepted(): Promise<{ handler: Dispatcher.DispatchHandler; controller: RecordingController; messages: AsyncIterator<readonly EventSourceMessage[]>; cancellation: Cancellation }> {
  let handler: Dispatcher.DispatchHandler | undefined;
  const dispatcher = { dispatch: (_options: unknown, h: Dispatcher.DispatchHandler) => ((handler = h), true) } as unknown as Dispatcher;
  const cancellation = new Cancellation();
  const attempt = new Attempt(cancellation, "local", undefined);
  const opening = openSse(dispatcher, { path: "/", method: "POST" }, attempt, { refusal: (status) => new Error(`refused ${status}`), transportError: (err) => err, errorBytes: 1024 });
  const controller = new RecordingController();
  handler!.onRequestStart!(controller, {});
  handler!.onResponseStart!(controller, 200, {}, "OK");
  return { handler: handler!, controller, messages: (await opening)[Symbol.asyncIterator](), cancellation };
}

/** The data of a read's burst, or undefined when the read said the stream is done. */
function dataOf(pull: IteratorResult<readonly EventSourceMessage[]>): string[] | undefined {
  return pull.done ? undefined : pull.value.map((m) => m.data);
}

describe("openSse", () => {
  it("pauses the upstream once a flood of empty events waits for the consumer, and resumes it once they are read", async () => {
    const { handler, controller, messages } = await accepted();
    const count = 5000; // empty events: their text alone (nothing) would never reach the limit
    handler.onResponseData!(controller, Buffer.from("data:\n\n".repeat(count)));
    expect(controller.paused).toBe(true);
    expect(dataOf(await messages.next())).toEqual(Array.from({ length: count }, () => ""));
    expect(controller.paused).toBe(false);
    expect(controller.resumes).toBeGreaterThan(0);
  });

  it("gives each read every event that has arrived since the last, in order, and never an empty burst", async () => {
    const { handler, controller, messages } = await accepted();
    handler.onResponseData!(controller, Buffer.from("data: 1\n\ndata: 2\n\ndata: 3"));
    handler.onResponseData!(controller, Buffer.from("\n\ndata: 4\n\n"));
    expect(dataOf(await messages.next())).toEqual(["1", "2", "3", "4"]);
    const next = messages.next();
    handler.onResponseData!(controller, Buffer.from("data: 5")); // not a whole event yet: nothing to give
    handler.onResponseData!(controller, Buffer.from("\n\n"));
    expect(dataOf(await next)).toEqual(["5"]);
    handler.onResponseEnd!(controller, {});
    expect(await messages.next()).toEqual({ done: true, value: undefined });
  });

  it("cuts the burst a consumer is reading short when the call is cancelled, aborts the upstream, and throws the reason at the next read", async () => {
    const { handler, controller, messages, cancellation } = await accepted();
    handler.onResponseData!(controller, Buffer.from("data: 1\n\ndata: 2\n\ndata: 3\n\n"));
    const pull = await messages.next();
    const seen: string[] = [];
    const reason = new Error("client went away");
    for (const message of pull.done ? [] : pull.value) {
      seen.push(message.data);
      if (seen.length === 1) cancellation.abort(reason); // the client goes away while the first is handled
    }
    expect(seen).toEqual(["1"]);
    expect(controller.aborted).toBe(true);
    await expect(messages.next()).rejects.toBe(reason);
    expect(await messages.next()).toEqual({ done: true, value: undefined });
  });

  it("answers reads asked for before the events arrive, in order", async () => {
    const { handler, controller, messages } = await accepted();
    const first = messages.next();
    const second = messages.next();
    handler.onResponseData!(controller, Buffer.from("data: 1\n\n"));
    expect(dataOf(await first)).toEqual(["1"]);
    handler.onResponseData!(controller, Buffer.from("data: 2\n\n"));
    expect(dataOf(await second)).toEqual(["2"]);
  });

  it("gives a waiting read every event of one network read, which undici hands over one HTTP chunk at a time", async () => {
    const { handler, controller, messages } = await accepted();
    const waiting = messages.next();
    for (let i = 0; i < 5; i++) handler.onResponseData!(controller, Buffer.from(`data: ${i}\n\n`));
    handler.onResponseData!(controller, Buffer.from("data: [DONE]\n\n"));
    handler.onResponseEnd!(controller, {});
    expect(dataOf(await waiting)).toEqual(["0", "1", "2", "3", "4", "[DONE]"]);
    expect(await messages.next()).toEqual({ done: true, value: undefined });
  });

  it("ends a read still waiting when the consumer stops, and drains the rest of the body", async () => {
    const { controller, messages } = await accepted();
    const waiting = messages.next();
    expect(await messages.return!()).toEqual({ done: true, value: undefined });
    expect(await waiting).toEqual({ done: true, value: undefined });
    expect(controller.aborted).toBe(false);
    expect(controller.resumes).toBeGreaterThan(0);
  });

  it("serves a waiting read once when resuming a paused upstream delivers the rest of the body at once, as undici does", async () => {
    const { handler, controller, messages } = await accepted();
    // undici hands over what it buffered while paused, and the body's end, inside resume() itself.
    let held = true;
    controller.resume = () => {
      controller.paused = false;
      controller.resumes++;
      if (!held) return;
      held = false;
      handler.onResponseData!(controller, Buffer.from("data: [DONE]\n\n"));
      handler.onResponseEnd!(controller, {});
    };
    const waiting = messages.next();
    const big = "x".repeat(100_000); // over the high-water mark: the upstream is paused
    handler.onResponseData!(controller, Buffer.from(`data: ${big}\n\n`));
    expect(controller.paused).toBe(true);
    expect(dataOf(await waiting)).toEqual([big]);
    expect(dataOf(await messages.next())).toEqual(["[DONE]"]);
    expect(await messages.next()).toEqual({ done: true, value: undefined });
  });

  it("tells every waiting read of a broken stream: the first gets the error, the others the end", async () => {
    const { handler, controller, messages } = await accepted();
    const first = messages.next();
    const second = messages.next();
    const broken = new Error("socket hang up");
    handler.onResponseError!(controller, broken);
    await expect(first).rejects.toBe(broken);
    expect(await second).toEqual({ done: true, value: undefined });
  });
});
