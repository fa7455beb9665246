import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Cancellation } from "../core/cancel.js";
import { AirlockError } from "../core/errors.js";
import { ProviderError } from "./errors.js";
import { CONFORMANCE_EMBED_REQUEST, CONFORMANCE_FEATURES, CONFORMANCE_REQUEST, type ConformanceFeature } from "./requests.conformance.js";
import type { ChatChunk, ProviderV1, StreamEvent, Usage, UsageSoFar } from "./spec.js";

export { CONFORMANCE_EMBED_REQUEST, CONFORMANCE_FEATURES, CONFORMANCE_REQUEST, type ConformanceFeature };

/**
 * The one behavioural contract every adapter is held to. A harness builds the adapter and makes it act
 * out each scenario (HTTP adapters by queueing fake-upstream scenarios, the mock by scripting itself),
 * and the suite checks what callers rely on: content, exact usage, error classification, abort reasons.
 */

export type ConformanceScenario =
  | { kind: "ok" }
  | { kind: "error"; status: number; retryAfterSeconds?: number }
  /** The upstream does not know the requested model. */
  | { kind: "modelNotFound" }
  /** Never answers. */
  | { kind: "hang" }
  /** Streams this many content chunks, then the connection drops. */
  | { kind: "cut"; afterChunks: number }
  /** Streams content and reports usage, then the connection drops before the stream is whole. */
  | { kind: "cutAfterUsage" }
  /** Answers without any usage. */
  | { kind: "noUsage" };

export interface ConformanceHarness {
  label: string;
  /** The adapter refuses every call on Airlock's own authority (noop); the suite checks only that. */
  refusesEverything?: boolean;
  capabilities?: {
    embeddings?: boolean;
    /** Can answer without usage (the `noUsage` scenario). */
    missingUsage?: boolean;
    /** Has a network upstream that can refuse connections (`createUnreachable`). */
    unreachable?: boolean;
    /**
     * What the adapter does with each OpenAI feature in CONFORMANCE_FEATURES: `sent` (translated, or
     * passed on as it is) or `refused` (it cannot honour it, and says so instead of dropping it).
     */
    features?: Partial<Record<ConformanceFeature, "sent" | "refused">>;
  };
  /** Exact numbers from recorded fixtures; without them the suite asks only for plausible ones. */
  /** `embeddingUsageReported: false` for upstreams that report no embedding usage (the caller counts it). */
  /** `usageAtCut`: what `usageSoFar` gives after the `cutAfterUsage` scenario. */
  expected?: { content: string; usage: Usage; embeddingUsage?: Usage; embeddingUsageReported?: false; usageAtCut?: UsageSoFar };
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  /** A fresh adapter whose next calls act out `scenarios` in order (then succeed). */
  create(scenarios: ConformanceScenario[], overrides?: { timeoutMs?: number }): ProviderV1 | Promise<ProviderV1>;
  createUnreachable?(): ProviderV1 | Promise<ProviderV1>;
}

/** Fast enough to keep the suite quick, slow enough that the call is really in flight. */
const ABORT_AFTER_MS = 20;
const PROMPT_MS = 1_000;

class ConformanceAbort extends Error {}

export function describeProviderConformance(harness: ConformanceHarness): void {
  describe(`provider conformance: ${harness.label}`, () => {
    const open: ProviderV1[] = [];
    const make = async (scenarios: ConformanceScenario[] = [], overrides?: { timeoutMs?: number }): Promise<ProviderV1> => {
      const provider = await harness.create(scenarios, overrides);
      open.push(provider);
      return provider;
    };
    const signal = (): AbortSignal => new AbortController().signal;

    beforeAll(async () => harness.setup?.());
    afterAll(async () => harness.teardown?.());
    afterEach(async () => {
      await Promise.all(open.splice(0).map((p) => p.close()));
    });

    it("identifies itself as a v1 provider", async () => {
      const provider = await make();
      expect(provider.specVersion).toBe("v1");
      expect(provider.name).toMatch(/\S/);
      expect(provider.type).toMatch(/\S/);
    });

    if (harness.refusesEverything) {
      it("refuses chat, stream and embed with AirlockError disabled, naming the provider", async () => {
        const provider = await make();
        for (const call of [
          () => provider.chat(CONFORMANCE_REQUEST, { signal: signal() }),
          () => provider.stream(CONFORMANCE_REQUEST, { signal: signal() }),
          () => provider.embed(CONFORMANCE_EMBED_REQUEST, { signal: signal() }),
        ]) {
          const err = await call().then(() => undefined, (e: unknown) => e);
          expect(err).toBeInstanceOf(AirlockError);
          expect((err as AirlockError).code).toBe("disabled");
          expect((err as AirlockError).status).toBe(503);
          expect((err as AirlockError).message).toContain(provider.name);
        }
      });
      return;
    }

    it("chat returns content and usage", async () => {
      const provider = await make([{ kind: "ok" }]);
      const result = await provider.chat(CONFORMANCE_REQUEST, { signal: signal() });
      const content = result.choices[0]?.message.content;
      expect(result.choices[0]?.message.role).toBe("assistant");
      expect(result.usageReported).toBe(true);
      if (harness.expected) {
        expect(content).toBe(harness.expected.content);
        expect(result.usage).toEqual(harness.expected.usage);
      } else {
        expect(content).toMatch(/\S/);
        expect(result.usage.inputTokens).toBeGreaterThan(0);
        expect(result.usage.outputTokens).toBeGreaterThan(0);
      }
    });

    it("stream yields the same content as chat in OpenAI chunks, then exactly one usage event equal to chat's", async () => {
      const provider = await make([{ kind: "ok" }, { kind: "ok" }, { kind: "ok" }]);
      const whole = await provider.chat(CONFORMANCE_REQUEST, { signal: signal() });
      // As the gateway asks: it writes chunks as text, so an adapter may hand them on so (`wire` events).
      const { events, error } = await drain(await provider.stream(CONFORMANCE_REQUEST, { signal: signal(), chunksAsText: true }));
      expect(error).toBeUndefined();
      expect(events.every((e) => e.type !== "wire" || e.chunks.length > 0)).toBe(true);
      const asText = oneEventPerChunk(events);
      const chunks = chunksOf(asText);
      expect(chunks.length).toBeGreaterThanOrEqual(2);
      expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
      for (const chunk of chunks) {
        expect(chunk.object).toBe("chat.completion.chunk");
        // Usage arrives once, as its own event: a chunk carries none, and relays none on the wire.
        expect((chunk as { usage?: unknown }).usage).toBeUndefined();
        expect(JSON.parse(JSON.stringify(chunk))).not.toHaveProperty("usage");
      }
      // Chunks an adapter hands on as text say what the same chunks say parsed, as they are without asking.
      const parsed = await drain(await provider.stream(CONFORMANCE_REQUEST, { signal: signal() }));
      expect(parsed.error).toBeUndefined();
      expect(parsed.events.some((e) => e.type === "wire")).toBe(false);
      // Less what differs between two calls anyway (an upstream may number or time each answer).
      const asSent = (e: StreamEvent) => {
        if (e.type !== "chunk") return e;
        const { id: _id, created: _created, ...rest } = JSON.parse(JSON.stringify(e.chunk)) as ChatChunk;
        return rest;
      };
      expect(asText.map(asSent)).toEqual(parsed.events.map(asSent));
      const contents = (chunk: ChatChunk) => chunk.choices.flatMap((c) => (typeof c.delta.content === "string" ? [c.delta.content] : []));
      const wires = events.flatMap((e) => (e.type === "wire" ? e.chunks : []));
      for (const wire of wires) expect(wire.contents).toEqual(contents(JSON.parse(wire.text) as ChatChunk));
      expect(contentOf(chunks)).toBe(whole.choices[0]!.message.content);
      expect(events.filter((e) => e.type === "usage")).toHaveLength(1);
      expect(events.at(-1)).toEqual({ type: "usage", usage: whole.usage });
    });

    it("429 with retry-after is retryable and carries retryAfterMs", async () => {
      const provider = await make([{ kind: "error", status: 429, retryAfterSeconds: 2 }]);
      const err = await failure(provider.chat(CONFORMANCE_REQUEST, { signal: signal() }));
      expect(err).toMatchObject({ kind: "http", status: 429, isRetryable: true, retryAfterMs: 2000, provider: provider.name });
    });

    it.each([500, 503])("%i is retryable", async (status) => {
      const provider = await make([{ kind: "error", status }]);
      const err = await failure(provider.chat(CONFORMANCE_REQUEST, { signal: signal() }));
      expect(err).toMatchObject({ kind: "http", status, isRetryable: true, fallbackable: true });
    });

    it("a refused stream rejects from stream() itself, where it can still be retried", async () => {
      const provider = await make([{ kind: "error", status: 503 }]);
      const err = await failure(provider.stream(CONFORMANCE_REQUEST, { signal: signal() }));
      expect(err).toMatchObject({ kind: "http", status: 503, isRetryable: true });
    });

    it("400 is neither retryable nor fallbackable", async () => {
      const provider = await make([{ kind: "error", status: 400 }]);
      const err = await failure(provider.chat(CONFORMANCE_REQUEST, { signal: signal() }));
      expect(err).toMatchObject({ kind: "http", status: 400, isRetryable: false, fallbackable: false });
    });

    it("404 model-not-found is fallbackable but not retryable", async () => {
      const provider = await make([{ kind: "modelNotFound" }]);
      const err = await failure(provider.chat(CONFORMANCE_REQUEST, { signal: signal() }));
      expect(err).toMatchObject({ kind: "http", status: 404, isRetryable: false, fallbackable: true });
    });

    it("a hanging chat rejects promptly with the abort signal's reason, unchanged", async () => {
      const provider = await make([{ kind: "hang" }]);
      const { signal: aborted, reason, elapsed } = abortSoon();
      await expect(provider.chat(CONFORMANCE_REQUEST, { signal: aborted })).rejects.toBe(reason);
      expect(elapsed()).toBeLessThan(PROMPT_MS);
    });

    it("a hanging stream rejects promptly with the abort signal's reason, unchanged", async () => {
      const provider = await make([{ kind: "hang" }]);
      const { signal: aborted, reason, elapsed } = abortSoon();
      await expect(provider.stream(CONFORMANCE_REQUEST, { signal: aborted })).rejects.toBe(reason);
      expect(elapsed()).toBeLessThan(PROMPT_MS);
    });

    it("a hanging chat and a hanging stream, called as Airlock calls them (a Cancellation, and a signal made on demand), reject promptly with its reason", async () => {
      const provider = await make([{ kind: "hang" }, { kind: "hang" }]);
      for (const call of [(o: Cancellation) => provider.chat(CONFORMANCE_REQUEST, o), (o: Cancellation) => provider.stream(CONFORMANCE_REQUEST, o)]) {
        const cancellation = new Cancellation();
        const reason = new ConformanceAbort("client went away");
        const started = Date.now();
        setTimeout(() => cancellation.abort(reason), ABORT_AFTER_MS);
        await expect(call(cancellation)).rejects.toBe(reason);
        expect(Date.now() - started - ABORT_AFTER_MS).toBeLessThan(PROMPT_MS);
      }
    });

    it("an already-aborted signal rejects with its reason", async () => {
      const provider = await make([{ kind: "ok" }]);
      const controller = new AbortController();
      const reason = new ConformanceAbort("deadline passed");
      controller.abort(reason);
      await expect(provider.chat(CONFORMANCE_REQUEST, { signal: controller.signal })).rejects.toBe(reason);
    });

    it("aborting mid-stream makes the iterator throw the signal's reason", async () => {
      const provider = await make([{ kind: "ok" }]);
      const controller = new AbortController();
      const reason = new ConformanceAbort("client went away");
      const iterator = (await provider.stream(CONFORMANCE_REQUEST, { signal: controller.signal }))[Symbol.asyncIterator]();
      expect((await iterator.next()).done).toBe(false);
      controller.abort(reason);
      await expect(iterator.next()).rejects.toBe(reason);
    });

    it("timeoutMs bounds an attempt with a retryable ProviderError timeout", async () => {
      const provider = await make([{ kind: "hang" }], { timeoutMs: 50 });
      const started = Date.now();
      const err = await failure(provider.chat(CONFORMANCE_REQUEST, { signal: signal() }));
      expect(err).toMatchObject({ kind: "timeout", isRetryable: true });
      expect(Date.now() - started).toBeLessThan(PROMPT_MS);
    });

    it("a stream cut after N chunks yields N chunks, then throws a retryable connection error", async () => {
      const provider = await make([{ kind: "cut", afterChunks: 2 }]);
      const { events, error } = await drain(await provider.stream(CONFORMANCE_REQUEST, { signal: signal() }));
      expect(chunksOf(events)).toHaveLength(2);
      expect(events.some((e) => e.type === "usage")).toBe(false);
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ kind: "connection", isRetryable: true });
    });

    it("a stream cut after its upstream reported usage keeps that usage for the caller: the input whole, the output so far", async () => {
      const provider = await make([{ kind: "ok" }, { kind: "cutAfterUsage" }]);
      const whole = await provider.chat(CONFORMANCE_REQUEST, { signal: signal() });
      const stream = await provider.stream(CONFORMANCE_REQUEST, { signal: signal() });
      const { events, error } = await drain(stream);
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ kind: "connection", isRetryable: true });
      expect(chunksOf(events).length).toBeGreaterThan(0);
      // The usage event belongs to a whole stream; a broken one has only what usageSoFar kept.
      expect(events.some((e) => e.type === "usage")).toBe(false);
      const soFar = stream.usageSoFar?.();
      expect(soFar).toBeDefined();
      const { usage, outputCounted } = soFar!;
      expect(inputSide(usage)).toEqual(inputSide(whole.usage));
      expect(usage.outputTokens).toBeLessThanOrEqual(whole.usage.outputTokens);
      expect(usage.reasoningTokens).toBeLessThanOrEqual(usage.outputTokens);
      if (outputCounted) expect(usage.outputTokens).toBeGreaterThan(0);
      if (harness.expected?.usageAtCut) expect(soFar).toEqual(harness.expected.usageAtCut);
    });

    if (harness.capabilities?.features !== undefined) it("decides each OpenAI feature in CONFORMANCE_FEATURES: sent or refused, none left to chance", () => {
      expect(Object.keys(harness.capabilities!.features!).sort()).toEqual(Object.keys(CONFORMANCE_FEATURES).sort());
    });

    for (const [feature, handling] of Object.entries(harness.capabilities?.features ?? {})) {
      const request = CONFORMANCE_FEATURES[feature as ConformanceFeature];
      if (handling === "refused") {
        it(`${feature}: chat and stream refuse it as unsupported (fallbackable, naming the provider) rather than drop it`, async () => {
          const provider = await make([{ kind: "ok" }, { kind: "ok" }]);
          for (const call of [() => provider.chat(request, { signal: signal() }), () => provider.stream(request, { signal: signal() })]) {
            const err = await failure(call());
            expect(err).toMatchObject({ kind: "unsupported", fallbackable: true, isRetryable: false, provider: provider.name });
            expect(err.message).toContain(provider.name);
          }
        });
      } else {
        it(`${feature}: chat takes it`, async () => {
          const provider = await make([{ kind: "ok" }]);
          const result = await provider.chat(request, { signal: signal() });
          expect(result.choices[0]?.message.role).toBe("assistant");
        });
      }
    }

    if (harness.capabilities?.missingUsage === true) it("missing usage reads as zeros, flagged unreported; a stream then has no usage event", async () => {
      const provider = await make([{ kind: "noUsage" }, { kind: "noUsage" }]);
      const result = await provider.chat(CONFORMANCE_REQUEST, { signal: signal() });
      expect(result.usageReported).toBe(false);
      expect(result.usage).toEqual({ inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
      const { events, error } = await drain(await provider.stream(CONFORMANCE_REQUEST, { signal: signal() }));
      expect(error).toBeUndefined();
      expect(chunksOf(events).length).toBeGreaterThanOrEqual(2);
      expect(events.some((e) => e.type === "usage")).toBe(false);
    });

    if (harness.capabilities?.unreachable === true) it("a refused connection is a retryable connection error", async () => {
      const provider = await harness.createUnreachable!();
      open.push(provider);
      const chatErr = await failure(provider.chat(CONFORMANCE_REQUEST, { signal: signal() }));
      expect(chatErr).toMatchObject({ kind: "connection", isRetryable: true });
      const streamErr = await failure(provider.stream(CONFORMANCE_REQUEST, { signal: signal() }));
      expect(streamErr).toMatchObject({ kind: "connection", isRetryable: true });
    });

    if (harness.capabilities?.embeddings === false) {
      it("embed is refused as unsupported", async () => {
        const provider = await make();
        const err = await failure(provider.embed(CONFORMANCE_EMBED_REQUEST, { signal: signal() }));
        expect(err).toMatchObject({ kind: "unsupported", isRetryable: false });
      });
    } else {
      it("embed returns one vector per input, with usage", async () => {
        const provider = await make([{ kind: "ok" }]);
        const result = await provider.embed(CONFORMANCE_EMBED_REQUEST, { signal: signal() });
        expect(result.data.map((d) => d.index)).toEqual([0, 1]);
        for (const item of result.data) {
          expect(item.embedding).toHaveLength(8);
          for (const value of item.embedding as number[]) expect(Number.isFinite(value)).toBe(true);
        }
        if (harness.expected?.embeddingUsage) expect(result.usage).toEqual(harness.expected.embeddingUsage);
        else expect(result.usage.inputTokens).toBeGreaterThan(0);
        if (harness.expected?.embeddingUsageReported === false) expect(result.usageReported).toBe(false);
        else expect(result.usageReported).not.toBe(false);
      });
    }
  });
}

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ProviderError);
  return err as ProviderError;
}

async function drain(stream: AsyncIterable<StreamEvent>): Promise<{ events: StreamEvent[]; error: unknown }> {
  const events: StreamEvent[] = [];
  try {
    for await (const event of stream) events.push(event);
    return { events, error: undefined };
  } catch (error) {
    return { events, error };
  }
}

/** A stream's events with each chunk of a `wire` event as a chunk event of its own, parsed from its text. */
function oneEventPerChunk(events: StreamEvent[]): StreamEvent[] {
  return events.flatMap((e): StreamEvent[] => (e.type === "wire" ? e.chunks.map((wire) => ({ type: "chunk", chunk: JSON.parse(wire.text) as ChatChunk })) : [e]));
}

function inputSide(usage: Usage): Pick<Usage, "inputTokens" | "cachedInputTokens" | "cacheWriteTokens"> {
  return { inputTokens: usage.inputTokens, cachedInputTokens: usage.cachedInputTokens, cacheWriteTokens: usage.cacheWriteTokens };
}

function chunksOf(events: StreamEvent[]): ChatChunk[] {
  return events.flatMap((e) => (e.type === "chunk" ? [e.chunk] : []));
}

function contentOf(chunks: ChatChunk[]): string {
  return chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
}

function abortSoon(): { signal: AbortSignal; reason: ConformanceAbort; elapsed: () => number } {
  const controller = new AbortController();
  const reason = new ConformanceAbort("client went away");
  const started = Date.now();
  setTimeout(() => controller.abort(reason), ABORT_AFTER_MS);
  return { signal: controller.signal, reason, elapsed: () => Date.now() - started - ABORT_AFTER_MS };
}
