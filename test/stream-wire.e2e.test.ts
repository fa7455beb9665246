import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeUpstream, type FakeFlavor, type FakeUpstream } from "./fakes/upstream.js";
import { recordedRow, startTestGateway, type TestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * Streams as upstreams really send them, relayed whole and billed, whatever the size of their events.
 * Prices are USD per 1M tokens.
 */
const MESSAGES = [{ role: "user" as const, content: "Write a very long answer." }];
const MODELS: Record<FakeFlavor, string> = { openai: "oai/gpt-4.1-mini", anthropic: "anth/claude-sonnet-4", gemini: "gem/gemini-2.5-flash" };

describe.each(STORE_KINDS)("streams with large events on %s", (kind) => {
  let gw: TestGateway;
  const fakes = {} as Record<FakeFlavor, FakeUpstream>;

  beforeAll(async () => {
    [fakes.openai, fakes.anthropic, fakes.gemini] = await Promise.all([startFakeUpstream("openai"), startFakeUpstream("anthropic"), startFakeUpstream("gemini")]);
    gw = await startTestGateway(kind, {
      providers: {
        oai: { type: "openai-compatible", baseUrl: fakes.openai.url },
        anth: { type: "anthropic", baseUrl: fakes.anthropic.url, apiKey: "k" },
        gem: { type: "gemini", baseUrl: fakes.gemini.url, apiKey: "k" },
      },
      models: [
        { id: MODELS.openai, price: { input: "0.4", output: "1.6", per: "1M" } },
        { id: MODELS.anthropic, price: { input: "3", output: "15", per: "1M" } },
        { id: MODELS.gemini, price: { input: "0.3", output: "2.5", per: "1M" } },
      ],
    });
  });
  afterAll(async () => {
    await gw?.close();
    await Promise.all(Object.values(fakes).map((fake) => fake.close()));
  });

  it.each(["openai", "anthropic", "gemini"] as const)("relays a %s event over 64 KiB that arrives with the rest of the stream, and goes on serving", async (flavor) => {
    // One event larger than what the gateway queues before it pauses its upstream, with the stream's end right behind it.
    const content = "lorem ipsum ".repeat(10_000);
    fakes[flavor].push({ kind: "ok", content });
    const { data: stream, response } = await gw.client().chat.completions.create({ model: MODELS[flavor], messages: MESSAGES, stream: true }).withResponse();
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe(content);
    const row = await recordedRow(gw, response.headers.get("x-request-id"));
    expect(row).toMatchObject({ outcome: "success", stream: true, model: MODELS[flavor] });
    expect(Number(row.cost)).toBeGreaterThan(0);

    // The gateway is still up.
    const next = await gw.client().chat.completions.create({ model: MODELS[flavor], messages: MESSAGES });
    expect(next.choices[0]?.message.content).toBeTruthy();
  });
});
