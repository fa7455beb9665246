import { describe, expect, it } from "vitest";
import { api } from "./support/routing.js";
import { startTestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";

/** A route changed through the admin API while a call on it runs: the call keeps the route it started on. */
describe.each(STORE_KINDS)("a route change during a call, on %s", (kind) => {
  it("lets a stream already running finish on its route, and sends the next call to the new one", async () => {
    const words = Array.from({ length: 12 }, (_, i) => `a${i}`).join(" ");
    const gw = await startTestGateway(kind, {
      providers: { a: { type: "mock", reply: words, chunkDelayMs: 100 }, b: { type: "mock", reply: "from b" } },
      models: [{ id: "a/x" }, { id: "b/y" }],
      operations: { chat: { model: "a/x" } },
    });
    try {
      const stream = await gw.client().chat.completions.create({ model: "chat", messages: [{ role: "user", content: "hi" }], stream: true });
      let text = "";
      let changed = false;
      const models = new Set<string>();
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? "";
        models.add(chunk.model);
        if (!changed && text.length > 0) {
          changed = true;
          const put = await api(gw, "PUT", "/admin/routes/chat", { model: "b/y" });
          expect(put.status).toBe(200);
        }
      }
      expect(changed).toBe(true);
      expect(text.trim()).toBe(words);
      // Every chunk names the model the stream began on.
      expect(models.size).toBe(1);
      expect([...models][0]).toMatch(/x$/);
      const next = await gw.client().chat.completions.create({ model: "chat", messages: [{ role: "user", content: "hi" }] });
      expect(next.choices[0]!.message.content).toBe("from b");
    } finally {
      await gw.close();
    }
  }, 60_000);
});
