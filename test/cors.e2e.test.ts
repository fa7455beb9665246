import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { resolveConfig } from "../src/config/load.js";
import { startFakeUpstream, type FakeUpstream } from "./fakes/upstream.js";
import { startTestGateway, type TestGateway } from "./support/gateway.js";
import { useChromium } from "./support/chromium.js";
import { STORE_KINDS } from "./support/stores.js";

// A real browser: slower than most tests, and slower still on a busy machine.
vi.setConfig({ testTimeout: 60_000 });

/**
 * Cross-origin calls from a page, in real headless Chromium: the browser, not the test, decides
 * whether a page may call the gateway and read its answer, after its own preflight.
 */
const browser = useChromium();
let pages: Server;
let pagePort: number;

beforeAll(async () => {
  // One blank page, served at 127.0.0.1 (the allowed origin) and at localhost (another origin).
  pages = createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>app</title>"));
  await new Promise<void>((resolve) => pages.listen(0, "127.0.0.1", resolve));
  pagePort = (pages.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => pages?.close(resolve));
});

interface PageFetch {
  ok: boolean;
  status?: number;
  model?: string;
  requestId?: string | null;
  cost?: string | null;
  error?: string;
}

/** A fetch made by the page at `origin`, as the openai SDK makes it from a browser (its own headers included). */
async function fetchFrom(origin: string, url: string, init: { method: string; key: string; body?: unknown }): Promise<PageFetch> {
  const page: Page = await browser.newPage();
  try {
    await page.goto(`${origin}/`);
    return await page.evaluate(async ({ url, init }) => {
      try {
        const res = await fetch(url, {
          method: init.method,
          headers: { authorization: `Bearer ${init.key}`, "content-type": "application/json", "x-stainless-lang": "js" },
          body: init.body === undefined ? undefined : JSON.stringify(init.body),
        });
        const body = (await res.json()) as { model?: string };
        return { ok: true, status: res.status, model: body.model, requestId: res.headers.get("x-request-id"), cost: res.headers.get("x-airlock-cost") };
      } catch (err) {
        return { ok: false, error: String(err) };
      }
    }, { url, init });
  } finally {
    await page.close();
  }
}

describe.each(STORE_KINDS)("cross-origin calls on %s", (kind) => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let closed: TestGateway;
  const chat = { model: "oai/gpt-4o-mini", messages: [{ role: "user", content: "hi" }] };

  beforeAll(async () => {
    upstream = await startFakeUpstream("openai");
    const config = (corsOrigins: string[]) => ({
      server: { corsOrigins },
      providers: { oai: { type: "openai-compatible" as const, baseUrl: upstream.url, apiKey: "sk-prov" } },
      models: [{ id: "oai/gpt-4o-mini", price: { input: "0.15", output: "0.60", per: "1M" as const } }],
    });
    gw = await startTestGateway(kind, config([`http://127.0.0.1:${pagePort}`]));
    closed = await startTestGateway(kind, config([]));
  });
  afterAll(async () => {
    await gw?.close();
    await closed?.close();
    await upstream?.close();
  });

  it("lets a page on an allowed origin call /v1 and read the answer and its headers", async () => {
    const answer = await fetchFrom(`http://127.0.0.1:${pagePort}`, `${gw.url}/v1/chat/completions`, { method: "POST", key: gw.adminKey, body: chat });
    expect(answer).toMatchObject({ ok: true, status: 200, model: "oai/gpt-4o-mini" });
    expect(answer.requestId).toMatch(/^req_/);
    expect(answer.cost).toMatch(/^\d+\.\d+$/);
    // An error answer is readable too, so the page can tell a refusal from a network failure.
    const refused = await fetchFrom(`http://127.0.0.1:${pagePort}`, `${gw.url}/v1/chat/completions`, { method: "POST", key: "sk-wrong", body: chat });
    expect(refused).toMatchObject({ ok: true, status: 401 });
  });

  it("keeps pages on other origins out, before the call reaches any upstream", async () => {
    const before = upstream.requests.length;
    const other = await fetchFrom(`http://localhost:${pagePort}`, `${gw.url}/v1/chat/completions`, { method: "POST", key: gw.adminKey, body: chat });
    expect(other).toMatchObject({ ok: false, error: expect.stringContaining("Failed to fetch") });
    expect(upstream.requests.length).toBe(before);
  });

  it("never opens the admin API to a page, allowed origin or not", async () => {
    const admin = await fetchFrom(`http://127.0.0.1:${pagePort}`, `${gw.url}/admin/keys`, { method: "GET", key: gw.adminKey });
    expect(admin).toMatchObject({ ok: false, error: expect.stringContaining("Failed to fetch") });
  });

  it("answers no cross-origin request without corsOrigins, as before", async () => {
    const before = upstream.requests.length;
    const answer = await fetchFrom(`http://127.0.0.1:${pagePort}`, `${closed.url}/v1/chat/completions`, { method: "POST", key: closed.adminKey, body: chat });
    expect(answer).toMatchObject({ ok: false });
    expect(upstream.requests.length).toBe(before);
    const preflight = await fetch(`${closed.url}/v1/chat/completions`, { method: "OPTIONS", headers: { origin: `http://127.0.0.1:${pagePort}`, "access-control-request-method": "POST" } });
    // A path that takes POST and no OPTIONS: 405, with no access-control header, so the browser sends nothing.
    expect(preflight.status).toBe(405);
    expect(preflight.headers.get("allow")).toBe("POST");
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("answers a preflight with the methods and the headers asked for, and nothing to a stranger", async () => {
    const ask = (origin: string, headers = "authorization,content-type,x-stainless-os") =>
      fetch(`${gw.url}/v1/chat/completions`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": headers } });
    const allowed = await ask(`http://127.0.0.1:${pagePort}`);
    expect(allowed.status).toBe(204);
    expect(Object.fromEntries(allowed.headers)).toMatchObject({
      "access-control-allow-origin": `http://127.0.0.1:${pagePort}`,
      "access-control-allow-methods": "GET, POST, PATCH",
      "access-control-allow-headers": "authorization,content-type,x-stainless-os",
      "access-control-max-age": "600",
    });
    expect(allowed.headers.has("access-control-allow-credentials")).toBe(false);
    // A header list that is not one is not echoed back.
    expect((await ask(`http://127.0.0.1:${pagePort}`, "x-a y-b")).headers.get("access-control-allow-headers")).toContain("authorization");
    const stranger = await ask("https://evil.example");
    expect(stranger.status).toBe(204);
    expect(stranger.headers.has("access-control-allow-origin")).toBe(false);
  });
});

describe("server.corsOrigins", () => {
  const base = {
    providers: { oai: { type: "openai-compatible", baseUrl: "http://127.0.0.1:9", apiKey: "k" } },
    models: [{ id: "oai/m" }],
  };
  it("takes origins as a browser sends them, or *, and refuses anything else", () => {
    expect(resolveConfig({ ...base, server: { corsOrigins: ["*", "https://app.example.com", "http://localhost:5173"] } }, "t", {}).config.server.corsOrigins).toHaveLength(3);
    for (const bad of ["https://app.example.com/", "app.example.com", "https://app.example.com/path", "null"]) {
      expect(() => resolveConfig({ ...base, server: { corsOrigins: [bad] } }, "t", {}), bad).toThrow(/server\.corsOrigins\.0: an origin is scheme:\/\/host/);
    }
  });
});
