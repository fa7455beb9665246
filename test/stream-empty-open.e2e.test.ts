import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { recordedRow, startTestGateway, type TestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * An upstream that answers a stream 200 and then closes it without a single event (a proxy's hiccup, an
 * HTML page where SSE was due) has sent the client nothing and generated nothing to bill: the call moves
 * on to its fallback, as it does for a connection dropped before the first event, instead of ending with
 * provider_error while a healthy fallback waits.
 */
const BODIES = { empty: "", html: "<html><body>502 Bad Gateway</body></html>" };

describe.each(STORE_KINDS)("a stream that ends before its first event (%s store)", (kind) => {
  let empty: Server;
  let body = "";
  let backup: FakeUpstream;
  let gw: TestGateway;
  beforeAll(async () => {
    empty = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => empty.listen(0, "127.0.0.1", resolve));
    const port = (empty.address() as AddressInfo).port;
    backup = await startFakeUpstream("openai");
    const price = { input: "1", output: "4", per: "1M" as const };
    gw = await startTestGateway(kind, {
      retry: { maxAttempts: 1 },
      providers: {
        oai: { type: "openai-compatible", baseUrl: `http://127.0.0.1:${port}/v1` },
        anth: { type: "anthropic", baseUrl: `http://127.0.0.1:${port}`, apiKey: "k" },
        gem: { type: "gemini", baseUrl: `http://127.0.0.1:${port}`, apiKey: "k" },
        backup: { type: "openai-compatible", baseUrl: backup.url },
      },
      models: [
        { id: "oai/gpt-4.1-mini", price },
        { id: "anth/claude-sonnet-4", price },
        { id: "gem/gemini-2.5-flash", price },
        { id: "backup/gpt-4.1-mini", price },
      ],
      operations: {
        openai: { model: "oai/gpt-4.1-mini", fallbacks: ["backup/gpt-4.1-mini"] },
        anthropic: { model: "anth/claude-sonnet-4", fallbacks: ["backup/gpt-4.1-mini"] },
        gemini: { model: "gem/gemini-2.5-flash", fallbacks: ["backup/gpt-4.1-mini"] },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await backup?.close();
    empty?.closeAllConnections();
    await new Promise((resolve) => empty?.close(resolve));
  });

  for (const flavor of ["openai", "anthropic", "gemini"] as const) {
    it.each(["empty", "html"] as const)(`${flavor}: a %s 200 falls back before the first byte`, async (what) => {
      body = BODIES[what];
      const { data, response } = await gw.client().chat.completions.create({ model: flavor, stream: true, messages: [{ role: "user", content: "hi" }] }).withResponse();
      let text = "";
      for await (const chunk of data) text += chunk.choices[0]?.delta.content ?? "";
      expect(text).not.toBe("");
      expect(response.headers.get("x-airlock-model")).toBe("backup/gpt-4.1-mini");
      const row = await recordedRow(gw, response.headers.get("x-request-id"));
      expect(row).toMatchObject({ outcome: "success", model: "backup/gpt-4.1-mini" });
      expect(row.attempts.map((a) => [a.provider, a.outcome, a.reason ?? null])).toEqual([
        [flavor === "openai" ? "oai" : flavor === "anthropic" ? "anth" : "gem", "error", "protocol"],
        ["backup", "success", null],
      ]);
    });
  }
});
