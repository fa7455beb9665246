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

async function accepted(): Promise<{ handler: Dispatcher.DispatchHandler; controller: RecordingController; messages: AsyncIterator<EventSourceMessage> }> {
  let handler: Dispatcher.DispatchHandler | undefined;
  const dispatcher = { dispatch: (_options: unknown, h: Dispatcher.DispatchHandler) => ((handler = h), true) } as unknown as Dispatcher;
  const attempt = new Attempt(new Cancellation(), "local", undefined);
  const opening = openSse(dispatcher, { path: "/", method: "POST" }, attempt, { refusal: (status) => new Error(`refused ${status}`), transportError: (err) => err, errorBytes: 1024 });
  const controller = new RecordingController();
  handler!.onRequestStart!(controller, {});
  handler!.onResponseStart!(controller, 200, {}, "OK");
  return { handler: handler!, controller, messages: (await opening)[Symbol.asyncIterator]() };
}

describe("openSse", () => {
  it("pauses the upstream once a flood of empty events waits for the consumer, and resumes it once they are read", async () => {
    const { handler, controller, messages } = await accepted();
    const count = 5000; // empty events: their text alone (nothing) would never reach the limit
    handler.onResponseData!(controller, Buffer.from("data:\n\n".repeat(count)));
    expect(controller.paused).toBe(true);
    for (let i = 0; i < count; i++) expect((await messages.next()).value).toMatchObject({ data: "" });
    expect(controller.paused).toBe(false);
    expect(controller.resumes).toBeGreaterThan(0);
  });

  it("answers reads asked for before the events arrive, in order", async () => {
    const { handler, controller, messages } = await accepted();
    const first = messages.next();
    const second = messages.next();
    handler.onResponseData!(controller, Buffer.from("data: 1\n\ndata: 2\n\n"));
    expect((await first).value?.data).toBe("1");
    expect((await second).value?.data).toBe("2");
  });

  it("ends a read still waiting when the consumer stops, and drains the rest of the body", async () => {
    const { controller, messages } = await accepted();
    const waiting = messages.next();
    expect(await messages.return!()).toEqual({ done: true, value: undefined });
    expect(await waiting).toEqual({ done: true, value: undefined });
    expect(controller.aborted).toBe(false);
    expect(controller.resumes).toBeGreaterThan(0);
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
