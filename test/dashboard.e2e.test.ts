import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { REPO_ROOT } from "./support/process.js";
import { api, ask, refusal, routesSuite, type Instance } from "./support/routing.js";
import { awayFromMinuteEnd } from "./support/minute.js";
import { useChromium, signInOnPage } from "./support/chromium.js";
import { STORE_KINDS } from "./support/stores.js";

// A real browser against a real gateway: slower than most tests, and slower still on a busy machine.
vi.setConfig({ testTimeout: 90_000 });

/**
 * The dashboard in real headless Chromium (Debian's package, driven by playwright-core): sign-in,
 * calls made through the gateway showing in its tables, the kill switch, a change request approved,
 * a key created and revoked. Each flow leaves a screenshot in test-artifacts/.
 */
const SHOTS = path.join(REPO_ROOT, "test-artifacts");
const browser = useChromium();

beforeAll(async () => {
  await mkdir(SHOTS, { recursive: true });
});

describe.each(STORE_KINDS)("the dashboard on %s", (kind) => {
  const { config, gateway } = routesSuite(kind);
  const operations = { summarize: { model: "p1/m1" } };

  async function signIn(gw: Instance, width = 1280, key = gw.adminKey): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    await page.goto(gw.url);
    await signInOnPage(page, key);
    return page;
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${kind}-${name}.png`), fullPage: true });

  it("signs in with an admin key only, into a session cookie that is HttpOnly and SameSite=Strict", async () => {
    const gw = await gateway(config());
    const agent = (await api(gw, "POST", "/admin/keys", { name: "planner", kind: "agent" })).body;
    const page = await browser.newPage();
    await page.goto(gw.url);
    await page.getByLabel("Admin key").fill("sk-not-a-key");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("#login-error").textContent()).toBe("invalid API key");
    await page.getByLabel("Admin key").fill(agent.key);
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("#login-error").textContent()).toBe("the dashboard needs an admin key");
    expect(await page.locator("#overview").isHidden()).toBe(true);
    await page.close();
    // Only the client's own modules are served.
    expect((await fetch(`${gw.url}/dashboard/lib.js`)).headers.get("content-security-policy")).toContain("script-src 'self'");
    for (const path of ["/dashboard/evil.js", "/dashboard/..%2Fpackage.json", "/dashboard/sessions.ts"]) expect((await fetch(gw.url + path)).status, path).toBe(404);

    const admin = await signIn(gw);
    const [cookie] = await admin.context().cookies();
    expect(cookie).toMatchObject({ name: "airlock_session", httpOnly: true, sameSite: "Strict", secure: false });
    // The cookie alone cannot change anything: a request without the CSRF token is refused.
    const forged = await admin.evaluate(async () => (await fetch("/admin/kill-switch", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ active: true, reason: "forged" }) })).status);
    expect(forged).toBe(403);
    expect((await api(gw, "GET", "/admin/kill-switch")).body.global?.active ?? false).toBe(false);
    // A non-admin key sees nothing of the admin API.
    expect((await api(gw, "GET", "/admin/calls", undefined, agent.key)).status).toBe(403);
    await shot(admin, "signed-in");
    await admin.getByRole("button", { name: "Sign out" }).click();
    await admin.getByRole("heading", { name: "Sign in" }).waitFor();
    await admin.close();
  });

  it("shows real calls in its charts and tables, with ledger text rendered inert", async () => {
    // Thresholds set so that the cost per message is over its own and the error rate within its own.
    const gw = await gateway(config({ operations, budgets: [{ name: "all-daily", scope: "global", limit: "1" }], dashboard: { slo: { costPerMessageUsd: "0.001", modelErrorRate: 0.5 } } }));
    const user = (await api(gw, "POST", "/admin/keys", { name: "app", kind: "service" })).body;
    for (let i = 0; i < 3; i++) await ask(gw, undefined, { key: user.key, operation: "summarize" });
    expect((await refusal(gw, "nope/none", { key: user.key })).status).toBe(404);
    await gw
      .client(user.key)
      .chat.completions.create({ model: "p2/m2", messages: [{ role: "user", content: "hi" }] }, { headers: { "x-airlock-user": "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>" } });
    const page = await signIn(gw);
    await expect.poll(() => page.locator("#total-requests").textContent()).toBe("5");
    expect(await page.locator("#error-rate").textContent()).toBe("20.0%");
    expect(await page.locator("#by-operation tbody tr").first().locator("td").allTextContents()).toEqual(["summarize", "3", "0", expect.stringMatching(/^0\.\d{6}$/)]);
    expect(await page.locator("#by-model tbody td:first-child").allTextContents()).toEqual(expect.arrayContaining(["p1/m1", "p2/m2"]));
    expect(await page.locator("#calls tbody tr").count()).toBe(5);
    expect((await page.locator("#calls tbody tr td:nth-child(4)").allTextContents()).sort()).toEqual(["200 success", "200 success", "200 success", "200 success", "404 refused (not_found)"]);
    expect(await page.locator("#latency").textContent()).toMatch(/^\d+ ms \/ \d+ ms$/);
    expect(await page.locator("#fallback-rate").textContent()).toBe("0.0%");
    expect(await page.locator("#calls tbody").textContent()).toContain("<script>window.__xss=2</script>");
    expect(await page.locator("#calls img, #calls script").count()).toBe(0);
    // Evaluated in the page, as text: the test itself has no DOM types.
    expect(await page.evaluate("window.__xss")).toBeUndefined();
    // Spend over time from the rollups, stacked by operation: one day, two bands.
    expect(await page.locator("#spend-chart rect.bar").count()).toBe(2);
    expect(await page.locator("#chart-legend li").allTextContents()).toEqual(["summarize", "(none)"]);
    // Per hour, by model, p1/m1 alone.
    await page.getByLabel("Split by", { exact: true }).selectOption("model");
    await page.getByLabel("Per", { exact: true }).selectOption("hour");
    await expect.poll(() => page.locator("#chart-title").textContent()).toBe("Spend per hour (UTC), by model");
    expect(await page.locator("#chart-legend li").allTextContents()).toEqual(["p1/m1", "p2/m2", "(none)"]);
    await page.getByLabel("Show", { exact: true }).selectOption("p1/m1");
    await expect.poll(() => page.locator("#chart-title").textContent()).toBe("Spend per hour (UTC), by model (p1/m1 only)");
    expect(await page.locator("#spend-chart rect.bar").count()).toBe(1);
    expect(await page.locator("#spend-chart rect.bar title").textContent()).toMatch(/ p1\/m1: \$0\.006723$/);
    // Service levels against the configured thresholds, and errors by code.
    expect(await page.locator("#slo-costPerMessageUsd").getAttribute("class")).toBe("card breach");
    expect(await page.locator("#slo-costPerMessageUsd .limit").textContent()).toBe("Over the limit of $0.001");
    expect(await page.locator("#slo-modelErrorRate").getAttribute("class")).toBe("card");
    expect(await page.locator("#slo-approvalRate .value").textContent()).toBe("0.0%");
    expect(await page.locator("#slo-toolCallSuccessRate .value").textContent()).toBe("no tool calls");
    // Budget burn: what the four answered calls spent, against the limit.
    expect((await page.locator("#budget-burn tbody tr").first().locator("td").allTextContents()).slice(0, 4)).toEqual(["all-daily", "global", "daily (UTC)", `${await page.locator("#total-spend").textContent().then((t) => t!.slice(1))} / 1`]);
    expect(await page.locator("#error-codes tbody tr").first().locator("td").allTextContents()).toEqual(["not_found", "refused", "1", "20.0%"]);
    await shot(page, "overview");
    // Narrowed to one operation, every panel shows only its calls; cleared, all of them again.
    await page.getByLabel("Operation", { exact: true }).selectOption("summarize");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => page.locator("#filter-basis").textContent()).toBe("Showing calls with operation summarize.");
    expect(await page.locator("#total-requests").textContent()).toBe("3");
    expect(await page.locator("#error-rate").textContent()).toBe("0.0%");
    expect(await page.locator("#calls tbody tr").count()).toBe(3);
    expect(await page.locator("#by-model tbody td:first-child").allTextContents()).toEqual(["p1/m1"]);
    expect(await page.locator("#error-codes tbody").textContent()).toBe("No errors.");
    await page.getByLabel("User", { exact: true }).fill("nobody-at-all");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => page.locator("#total-requests").textContent()).toBe("0");
    await page.getByRole("button", { name: "Clear filters" }).click();
    await expect.poll(() => page.locator("#total-requests").textContent()).toBe("5");
    expect(await page.locator("#filter-basis").textContent()).toBe("Showing all calls.");
    const narrow = await signIn(gw, 390);
    expect(await narrow.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await shot(narrow, "overview-390px");
    await narrow.close();
    await page.close();
  });

  it("flips the kill switch with a reason and a confirmation (calls refused until it is off), and edits a route with its validation inline", async () => {
    const gw = await gateway(config({ operations, budgets: [{ name: "all-daily", scope: "global", limit: "5" }], rateLimits: [{ name: "per-key", scope: "key", requestsPerMinute: 100 }] }));
    const page = await signIn(gw);
    await page.getByRole("button", { name: "Controls" }).click();
    await expect.poll(() => page.locator("#kill-state").textContent()).toMatch(/^OFF/);
    // The controls around it: budgets with their burn, routes, toggles (locked ones marked), prices.
    expect((await page.locator("#budgets tbody tr").first().locator("td").allTextContents()).slice(0, 4)).toEqual(["all-daily", "global", "daily (UTC)", "0.00 / 5"]);
    await page.getByLabel("New limit of all-daily (USD)").fill("7.50");
    await page.getByRole("button", { name: "Set the limit of all-daily" }).click();
    await expect.poll(() => page.locator("#status").textContent()).toBe("Budget all-daily now allows $7.50.");
    expect((await api(gw, "GET", "/admin/budgets")).body.data[0]).toMatchObject({ name: "all-daily", limit: "7.5", source: "admin" });
    expect((await page.locator("#rate-limits tbody tr").first().locator("td").allTextContents()).slice(0, 5)).toEqual(["per-key", "key (each)", "100", "–", "config"]);
    expect(await page.locator("#routes tbody tr").first().locator("td").allTextContents()).toEqual(["summarize", "p1/m1", "config", "", "Edit"]);
    expect(await page.locator("#toggles .locked").allTextContents()).toContain("helix_can_change_models");
    await page.getByRole("button", { name: "Turn on helix_can_change_models" }).click();
    expect(await page.locator("#confirm-text").textContent()).toBe('Turn on "helix_can_change_models"? It is locked: agents cannot change it.');
    await page.getByRole("button", { name: "Confirm" }).click();
    await expect.poll(() => page.locator("#status").textContent()).toBe('Toggle "helix_can_change_models" is on.');
    expect((await api(gw, "GET", "/v1/toggles/helix_can_change_models")).body).toMatchObject({ enabled: true, locked: true });
    expect(await page.locator("#prices tbody tr").first().locator("td").nth(1).textContent()).toContain("input 1");
    // A route edited in place: a model that does not exist is refused inline, a real one is saved.
    await page.getByRole("button", { name: "Edit summarize" }).click();
    await page.getByLabel("Definition of summarize (JSON)").fill('{"model": "nope/none"}');
    await page.getByRole("button", { name: "Save route" }).click();
    await expect.poll(() => page.locator("#route-error").textContent()).toContain("nope/none");
    expect((await ask(gw, undefined, { operation: "summarize" })).model).toBe("p1/m1");
    await page.getByLabel("Definition of summarize (JSON)").fill('{"model": "p2/m2"}');
    await page.getByRole("button", { name: "Save route" }).click();
    await expect.poll(() => page.locator("#status").textContent()).toBe("Route summarize saved.");
    // The outcome is said once the tables are drawn again: they show it already.
    expect((await page.locator("#routes tbody tr").first().locator("td").allTextContents()).slice(0, 3)).toEqual(["summarize", "p2/m2", "admin"]);
    expect((await ask(gw, undefined, { operation: "summarize" })).model).toBe("p2/m2");
    await page.getByLabel("Reason").fill("runaway agent");
    await page.getByRole("button", { name: "Stop all calls" }).click();
    await page.getByRole("button", { name: "Confirm" }).click();
    await expect.poll(() => page.locator("#kill-state").textContent()).toMatch(/^ON: calls are stopped\. Flipped by key_bootstrap_admin at .*: runaway agent$/);
    await shot(page, "kill-switch-on");
    expect(await refusal(gw, undefined, { operation: "summarize" })).toMatchObject({ status: 503, code: "kill_switch_active" });

    await page.getByLabel("Reason").fill("fixed");
    await page.getByRole("button", { name: "Let calls through" }).click();
    await page.getByRole("button", { name: "Confirm" }).click();
    await expect.poll(() => page.locator("#kill-state").textContent()).toMatch(/^OFF: calls flow\./);
    expect((await ask(gw, undefined, { operation: "summarize" })).model).toBe("p2/m2");
    expect(await page.locator("#kill-operations tbody").textContent()).toBe("No operation has been switched on its own.");

    // One operation stopped on its own: the panel says so while all calls flow, and lets it through again.
    await page.getByLabel("Switch").selectOption("summarize");
    await page.getByLabel("Reason").fill("bad prompts");
    await page.getByRole("button", { name: "Stop summarize" }).click();
    expect(await page.locator("#confirm-text").textContent()).toBe("Stop every call of operation summarize now?");
    await page.getByRole("button", { name: "Confirm" }).click();
    await expect.poll(() => page.locator("#kill-state").textContent()).toMatch(/^OFF for all calls, but ON for operation summarize: their calls are stopped\./);
    expect(await page.locator("#kill-operations tbody tr").first().locator("td").allTextContents()).toEqual(["summarize", "ON: calls stopped", "bad prompts", expect.stringMatching(/^key_bootstrap_admin, /)]);
    expect((await api(gw, "GET", "/admin/kill-switch")).body).toMatchObject({ global: { active: false }, operations: [{ operation: "summarize", active: true, reason: "bad prompts" }] });
    expect(await refusal(gw, undefined, { operation: "summarize" })).toMatchObject({ status: 503, code: "kill_switch_active" });
    await shot(page, "kill-switch-operation");
    expect(await page.getByLabel("Switch").inputValue()).toBe("summarize");
    await page.getByLabel("Reason").fill("prompts fixed");
    await page.getByRole("button", { name: "Let summarize through" }).click();
    await page.getByRole("button", { name: "Confirm" }).click();
    await expect.poll(() => page.locator("#kill-state").textContent()).toMatch(/^OFF: calls flow\./);
    expect(await page.locator("#kill-operations tbody tr").first().locator("td").nth(1).textContent()).toBe("off");
    expect((await ask(gw, undefined, { operation: "summarize" })).model).toBe("p2/m2");
    await page.close();
  });

  it("approves a change request side by side with the current route, and the route changes", async () => {
    const gw = await gateway(config({ operations }));
    const agent = (await api(gw, "POST", "/admin/keys", { name: "optimizer", kind: "agent" })).body;
    const request = (await api(gw, "POST", "/admin/change-requests", { kind: "route", target: "summarize", proposed: { model: "p2/m2" }, reasoning: "cheaper for summaries", estimatedSavingsUsd: "12.50" }, agent.key)).body;
    const own = (await api(gw, "POST", "/admin/change-requests", { kind: "route", target: "summarize", proposed: { model: "p3/m3" }, reasoning: "mine" })).body;
    const page = await signIn(gw);
    await page.getByRole("button", { name: "Changes & audit" }).click();
    // Its own proposal is offered no approval, only a reject.
    const mine = page.getByRole("article", { name: `Change request ${own.id}` });
    await mine.waitFor();
    expect(await mine.getByRole("button").allTextContents()).toEqual(["Reject"]);
    expect(await mine.textContent()).toContain("another admin approves it");
    const card = page.getByRole("article", { name: `Change request ${request.id}` });
    await card.waitFor();
    expect(await card.locator("pre").allTextContents()).toEqual([expect.stringContaining('"model": "p1/m1"'), expect.stringContaining('"model": "p2/m2"')]);
    expect(await card.textContent()).toContain("Reasoning: cheaper for summaries");
    await shot(page, "change-request");
    await card.getByRole("button", { name: `Approve ${request.id}` }).click();
    await page.getByRole("button", { name: "Confirm" }).click();
    await expect.poll(() => page.locator("#status").textContent()).toBe(`Change request ${request.id} approved and applied.`);
    expect((await ask(gw, undefined, { operation: "summarize" })).model).toBe("p2/m2");
    expect(await page.locator("#audit tbody").textContent()).toContain(`change_request.apply${request.id}`);
    await page.close();
  });

  it("edits prices and rate limits in place, and turns an edit into a change request that another admin approves", async () => {
    const gw = await gateway(config({ operations, rateLimits: [{ name: "per-key", scope: "key", requestsPerMinute: 100 }] }));
    const app = (await api(gw, "POST", "/admin/keys", { name: "app", kind: "service" })).body.key as string;
    const page = await signIn(gw);
    await page.getByRole("button", { name: "Controls" }).click();
    await page.locator("#rate-limits tbody tr").first().waitFor();

    // A rate limit set in place: one request a minute per key, in force at once.
    await awayFromMinuteEnd();
    await page.getByLabel("Requests per minute for per-key").fill("1");
    await page.getByRole("button", { name: "Set the rate limit per-key" }).click();
    await expect.poll(() => page.locator("#status").textContent()).toBe("Rate limit per-key now allows 1 requests and any number of tokens a minute.");
    expect((await page.locator("#rate-limits tbody tr").first().locator("td").allTextContents()).slice(0, 5)).toEqual(["per-key", "key (each)", "1", "–", "admin"]);
    expect((await ask(gw, undefined, { key: app, operation: "summarize" })).model).toBe("p1/m1");
    expect(await refusal(gw, undefined, { key: app, operation: "summarize" })).toMatchObject({ status: 429, code: "rate_limited" });
    // Zero is no limit the schema accepts: refused with the reason, and the limit stays.
    await page.getByLabel("Requests per minute for per-key").fill("0");
    await page.getByRole("button", { name: "Set the rate limit per-key" }).click();
    await expect.poll(() => page.locator("#status").textContent()).toMatch(/requestsPerMinute: Too small/);
    expect((await api(gw, "GET", "/admin/rate-limits")).body.data[0].requestsPerMinute).toBe(1);
    await page.getByLabel("Requests per minute for per-key").fill("100");
    await page.getByLabel("Tokens per minute for per-key").fill("50000");
    await page.getByRole("button", { name: "Set the rate limit per-key" }).click();
    await expect.poll(() => page.locator("#status").textContent()).toBe("Rate limit per-key now allows 100 requests and 50000 tokens a minute.");

    // A price set in place, from now on.
    await page.getByRole("button", { name: "Edit price p1/m1" }).click();
    await page.getByLabel("Input (USD)", { exact: true }).fill("3");
    await page.getByLabel("Output (USD)").fill("6");
    await page.getByRole("button", { name: "Save price" }).click();
    await expect.poll(() => page.locator("#status").textContent()).toBe("Price of p1/m1 set: input 3, output 6 per 1M. Past calls keep their cost.");
    const prices = async () => Object.fromEntries((await api(gw, "GET", "/admin/prices")).body.data.map((p: any) => [p.model, p.price?.price]));
    expect((await prices())["p1/m1"]).toMatchObject({ input: "3", output: "6", per: "1M" });
    expect(await page.locator("#prices tbody tr").first().locator("td").nth(1).textContent()).toContain("input 3");

    // The same edit as a change request: nothing changes until another admin approves it.
    await page.getByRole("button", { name: "Edit price p2/m2" }).click();
    await page.getByLabel("Input (USD)", { exact: true }).fill("0.5");
    await page.getByLabel("Why (for a change request)").last().fill("new contract");
    await page.getByRole("button", { name: "Propose as change request" }).last().click();
    await expect.poll(() => page.locator("#status").textContent()).toMatch(/^Change request chg_\S+ for price p2\/m2 waits for another admin's approval/);
    expect((await prices())["p2/m2"]).toMatchObject({ input: "1" });
    await page.getByRole("button", { name: "Edit summarize" }).click();
    await page.getByLabel("Definition of summarize (JSON)").fill('{"model": "p3/m3"}');
    await page.getByLabel("Why (for a change request)").first().fill("p3 is faster");
    await page.getByRole("button", { name: "Propose as change request" }).first().click();
    await expect.poll(() => page.locator("#status").textContent()).toMatch(/^Change request chg_\S+ for route summarize waits/);
    const pending = (await api(gw, "GET", "/admin/change-requests?status=PENDING")).body.data;
    expect(pending.map((r: any) => [r.kind, r.target])).toEqual(expect.arrayContaining([["price", "p2/m2"], ["route", "summarize"]]));
    expect((await ask(gw, undefined, { operation: "summarize" })).model).toBe("p1/m1");
    await shot(page, "proposed");
    await page.close();

    const second = (await api(gw, "POST", "/admin/keys", { name: "second admin", kind: "admin" })).body.key as string;
    const approver = await signIn(gw, 1280, second);
    await approver.getByRole("button", { name: "Changes & audit" }).click();
    const routeRequest = pending.find((r: any) => r.kind === "route");
    const card = approver.getByRole("article", { name: `Change request ${routeRequest.id}` });
    await card.getByRole("button", { name: `Approve ${routeRequest.id}` }).click();
    await approver.getByRole("button", { name: "Confirm" }).click();
    await expect.poll(() => approver.locator("#status").textContent()).toBe(`Change request ${routeRequest.id} approved and applied.`);
    expect((await ask(gw, undefined, { operation: "summarize" })).model).toBe("p3/m3");
    await approver.close();
  });

  it("creates a key shown once, and revokes it", async () => {
    const gw = await gateway(config({ operations }));
    const page = await signIn(gw);
    await page.getByRole("button", { name: "Controls" }).click();
    await page.getByLabel("Name").fill("reporting");
    await page.getByLabel("Kind").selectOption("service");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.locator("#new-key").waitFor();
    const key = (await page.locator("#new-key-value").textContent())!;
    expect(key).toMatch(/^sk-al-/);
    expect((await ask(gw, undefined, { key, operation: "summarize" })).model).toBe("p1/m1");
    await shot(page, "key-created");
    await page.getByRole("button", { name: "Revoke reporting" }).click();
    await page.getByRole("button", { name: "Confirm" }).click();
    await expect.poll(() => page.locator("#status").textContent()).toBe('Key "reporting" revoked.');
    expect(await page.getByRole("button", { name: "Revoke reporting" }).isDisabled()).toBe(true);
    expect((await refusal(gw, undefined, { key, operation: "summarize" })).status).toBe(401);
    await page.close();
  });
});
