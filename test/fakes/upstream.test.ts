import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { fixtureJson, startFakeUpstream, type FakeUpstream } from "./upstream.js";

/** The fake is only worth something if real clients accept it: the official SDK is the judge. */
describe("fake upstream speaks OpenAI's wire format (checked with the openai SDK)", () => {
  let fake: FakeUpstream;
  afterEach(async () => fake?.close());
  const client = (): OpenAI => new OpenAI({ apiKey: "sk-test", baseURL: fake.url, maxRetries: 0 });
  const messages = [{ role: "user" as const, content: "Capital of France?" }];

  it("serves the recorded completion", async () => {
    fake = await startFakeUpstream("openai");
    const completion = await client().chat.completions.create({ model: "o4-mini", messages });
    expect(completion).toEqual(fixtureJson("openai/chat"));
  });

  it("streams chunks, with the usage chunk only when include_usage is asked for", async () => {
    fake = await startFakeUpstream("openai", { chatFixture: "deepseek/chat" });
    const withUsage = await client().chat.completions.create({ model: "deepseek-chat", messages, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of withUsage) chunks.push(chunk);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("The capital of France is Paris.");
    expect(chunks.at(-1)?.usage?.prompt_tokens).toBe(1290);

    const withoutUsage = await client().chat.completions.create({ model: "deepseek-chat", messages, stream: true });
    for await (const chunk of withoutUsage) expect(chunk.usage).toBeUndefined();
  });

  it("refuses with real statuses, error bodies and rate-limit headers", async () => {
    fake = await startFakeUpstream("openai");
    fake.push({ kind: "error", status: 429 });
    const err = await client().chat.completions.create({ model: "o4-mini", messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).code).toBe("rate_limit_exceeded");
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers.get("retry-after")).toBe("1");
  });

  it("serves embeddings and the model list", async () => {
    fake = await startFakeUpstream("openai");
    const embeddings = await client().embeddings.create({ model: "text-embedding-3-small", input: ["a", "b"], dimensions: 8, encoding_format: "float" });
    expect(embeddings.data).toHaveLength(2);
    const models = await client().models.list();
    expect(models.data.map((m) => m.id)).toContain("text-embedding-3-small");
    expect(fake.requests.map((r) => r.path)).toEqual(["/v1/embeddings", "/v1/models"]);
  });
});
