import { describe, expect, it } from "vitest";
import { gatewayOverFake, oneOpenAiModel, recordedRow } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * Some OpenAI-compatible servers report `usage` with every count at zero (a placeholder, or a proxy that
 * does not count) while they answer. No prompt is zero tokens long: such a report is no report, so the
 * call is estimated and flagged, never booked at $0.
 */
const MESSAGES = [{ role: "user" as const, content: "What is the capital of France?" }];
const ZEROS = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };

describe.each(STORE_KINDS)("an upstream that reports zero usage on %s", (kind) => {
  const fake = gatewayOverFake(kind, "openai", oneOpenAiModel);

  it.each([false, true])("is estimated and flagged, not booked as free (streamed: %s)", async (stream) => {
    fake.upstream.push({ kind: "ok", usage: ZEROS });
    const client = fake.gw.client();
    let requestId: string | null;
    let reportedUsage: number | undefined;
    if (stream) {
      const { data, response } = await client.chat.completions.create({ model: "oai/gpt-4.1-mini", messages: MESSAGES, stream: true, stream_options: { include_usage: true } }).withResponse();
      for await (const chunk of data) if (chunk.usage) reportedUsage = chunk.usage.total_tokens;
      requestId = response.headers.get("x-request-id");
    } else {
      const { data, response } = await client.chat.completions.create({ model: "oai/gpt-4.1-mini", messages: MESSAGES }).withResponse();
      reportedUsage = data.usage?.total_tokens;
      requestId = response.headers.get("x-request-id");
    }
    const row = await recordedRow(fake.gw, requestId);
    expect(row).toMatchObject({ outcome: "success", usageEstimated: true });
    expect(row.inputTokens).toBeGreaterThan(0);
    expect(row.outputTokens).toBeGreaterThan(0);
    expect(Number(row.cost)).toBeGreaterThan(0);
    // The client is told the usage it was billed.
    expect(reportedUsage).toBe(row.inputTokens + row.outputTokens);
  });
});
