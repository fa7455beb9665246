import { beforeAll, describe, expect, it, vi } from "vitest";
import { countTokens } from "../src/calls/token-counter.js";
import { gatewayOverFake, oneOpenAiModel, recordedRow } from "./support/gateway.js";
import { captureLogs } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";
import { tokenizerReady } from "./support/tokenizer.js";

/**
 * Streams whose usage never arrives: the upstream sends none, or the client leaves before the usage
 * event. The ledger still gets the call, with tokens counted by the tokenizer and the row flagged.
 */
const MESSAGES = [{ role: "user" as const, content: "What is the capital of France?" }];
const ANSWER = "The capital of France is Paris.";

beforeAll(tokenizerReady, 90_000);

describe.each(STORE_KINDS)("streams without usage on %s", (kind) => {
  const logs = captureLogs();
  // 150 ms between events: time enough for a client to leave after its first chunks.
  const fake = gatewayOverFake(kind, "openai", oneOpenAiModel, { chunkDelayMs: 150 }, { logger: logs.logger });
  const rowFor = (requestId: string) => recordedRow(fake.gw, requestId);

  it("counts the tokens of a stream the upstream sent no usage for", async () => {
    fake.upstream.push({ kind: "noUsage" });
    const { data: stream, response } = await fake.gw.client().chat.completions.create({ model: "oai/gpt-4.1-mini", messages: MESSAGES, stream: true }).withResponse();
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe(ANSWER);
    const row = await rowFor(response.headers.get("x-request-id")!);
    expect(row).toMatchObject({ outcome: "success", usageEstimated: true, stream: true });
    // 3 to prime the reply + 3 for the message + "user" (1) + the question (7)
    expect(row.inputTokens).toBe(14);
    expect(row.outputTokens).toBe((await countTokens([ANSWER]))[0]);
    expect(row.outputTokens).toBe(7);
    // 14 × 0.4 + 7 × 1.6 = 16.8 per 1M
    expect(row.cost.replace(/0+$/, "")).toBe("0.0000168");
  });

  it("records what was generated when the client disconnects mid-stream", async () => {
    const { data: stream, response } = await fake.gw.client().chat.completions.create({ model: "oai/gpt-4.1-mini", messages: MESSAGES, stream: true }).withResponse();
    const requestId = response.headers.get("x-request-id")!;
    const received: string[] = [];
    for await (const chunk of stream) {
      const content = chunk.choices[0]?.delta.content;
      if (content) received.push(content);
      if (received.length === 2) break; // leaves: the SDK aborts the HTTP request
    }
    expect(received).toEqual(["The", " capital"]);
    const row = await rowFor(requestId);
    expect(row).toMatchObject({ outcome: "error", errorCode: "client_closed", httpStatus: 499, usageEstimated: true, stream: true });
    // The client had its 200 and part of the stream; the access log says it left before the end.
    expect(response.status).toBe(200);
    await vi.waitFor(() => expect(logs.lines.find((line) => line.requestId === requestId)).toMatchObject({ msg: "request", status: 499, code: "client_closed" }));
    expect(row.inputTokens).toBe(14);
    // At least what the client saw; the gateway may have relayed a chunk more before it noticed.
    expect(row.outputTokens).toBeGreaterThanOrEqual(2);
    expect(row.outputTokens).toBeLessThan(7);
    expect(Number(row.cost)).toBeGreaterThan(0);
    // The upstream was asked for usage, though the client did not ask for it.
    expect(fake.upstream.requests.at(-1)!.body.stream_options).toEqual({ include_usage: true });
  });
});
