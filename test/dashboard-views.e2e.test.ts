import type { Page } from "playwright-core";
import { describe, expect, it, vi } from "vitest";
import { resolveConfig } from "../src/config/load.js";
import { ControlPlane } from "../src/control-plane.js";
import { systemClock } from "../src/core/clock.js";
import { createGateway } from "../src/gateway/server.js";
import { api, ask, rawChat, refusal, routesSuite, type Instance } from "./support/routing.js";
import { useChromium, signInOnPage } from "./support/chromium.js";
import { STORE_KINDS } from "./support/stores.js";
import { startTcpProxy } from "./support/tcp-proxy.js";

// A real browser against a real gateway: slower than most tests, and slower still on a busy machine.
vi.setConfig({ testTimeout: 90_000 });

/**
 * The dashboard in real headless Chromium, around its views rather than its flows (dashboard.e2e.test.ts):
 * what is shown before sign-in, every view at a phone's width, and the page's console.
 */
const browser = useChromium();

describe.each(STORE_KINDS)("the dashboard's views on %s", (kind) => {
  const { config, gateway, store, cleanups } = routesSuite(kind);
  const operations = { summarize: { model: "p1/m1" } };

  /** A page whose console errors and uncaught exceptions are kept, to be checked. */
  async function open(gw: Pick<Instance, "url">, width = 1280): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    const errors: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(`${message.text()} ${message.location().url}`);
    });
    page.on("pageerror", (err) => errors.push(`uncaught: ${err.message}`));
    await page.goto(gw.url);
    return { page, errors };
  }

  async function signIn(page: Page, key: string): Promise<void> {
    await signInOnPage(page, key);
  }

  it("offers the views only once signed in, and no view scrolls sideways at 390 px", async () => {
    const gw = await gateway(config({ operations, budgets: [{ name: "all-daily", scope: "global", limit: "5" }] }));
    await ask(gw, undefined, { operation: "summarize" });
    const { page, errors } = await open(gw, 390);
    await page.getByLabel("Admin key").waitFor();
    // Before sign-in, the tabs lead nowhere: they are not shown, nor reached by keyboard.
    expect(await page.getByRole("button", { name: "Controls" }).isVisible()).toBe(false);
    await expect.poll(() => page.evaluate("document.activeElement.id")).toBe("login-key");
    await page.keyboard.press("Shift+Tab");
    expect(await page.evaluate("document.activeElement.tagName")).not.toBe("BUTTON");
    await signIn(page, gw.adminKey);
    for (const view of ["Overview", "Controls", "Changes & audit"]) {
      await page.getByRole("button", { name: view, exact: true }).click();
      // Each view's last table filled: the widest rows are on screen.
      const table = { Overview: "#calls", Controls: "#keys", "Changes & audit": "#audit" }[view];
      await page.locator(`${table} tbody tr`).first().waitFor();
      expect(await page.evaluate<number>("document.documentElement.scrollWidth"), view).toBeLessThanOrEqual(390);
    }
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    expect(await page.getByRole("button", { name: "Overview" }).isVisible()).toBe(false);
    // Nothing in the console: "who is signed in?" is answered "no one" (not a 401), and no icon the
    // gateway does not serve is asked for.
    expect(errors).toEqual([]);
    await page.close();
  });

  it("writes estimates and averages for reading: money rounded on its decimal text, its sign before the dollar, a confidence as a percentage", async () => {
    const gw = await gateway(config({ operations }));
    for (let i = 0; i < 3; i++) await ask(gw, undefined, { operation: "summarize" });
    expect((await refusal(gw, "nope/none")).status).toBe(404);
    const agent = (await api(gw, "POST", "/admin/keys", { name: "optimizer", kind: "agent" })).body.key as string;
    const route = (await api(gw, "POST", "/admin/change-requests", { kind: "route", target: "summarize", proposed: { model: "p2/m2" }, estimatedSavingsUsd: "12.5", confidence: 0.8 }, agent)).body;
    const price = (await api(gw, "POST", "/admin/change-requests", { kind: "price", target: "p1/m1", proposed: { input: "0.5", output: "1", per: "1M" }, estimatedSavingsUsd: "-3.333333333333", confidence: 0.1234 }, agent)).body;
    // Answered as exact decimals without trailing zeros; the page still writes them for reading.
    expect(route).toMatchObject({ estimatedSavingsUsd: "12.5", confidence: "0.8" });
    // The agent that proposed it may not read spend, so the estimate's figures are the admin's to see.
    expect(price.impact.projectedMonthlyChangeUsd).toBeNull();
    expect((await api(gw, "GET", `/admin/change-requests/${price.id}`)).body.impact.projectedMonthlyChangeUsd).toMatch(/^-0\.00336\d+$/);

    const { page } = await open(gw);
    await signIn(page, gw.adminKey);
    // Four calls, three of them answered: an average of $0.00168075 a message.
    await expect.poll(() => page.locator("#slo-costPerMessageUsd .value").textContent()).toBe("$0.001681");
    expect(await page.locator("#total-spend").textContent()).toBe("$0.006723");
    await page.getByRole("button", { name: "Changes & audit" }).click();
    const routeCard = page.getByRole("article", { name: `Change request ${route.id}` });
    await routeCard.waitFor();
    expect(await routeCard.locator("p").first().textContent()).toContain("Estimated savings: $12.50 a month. Quality impact: –. Confidence: 80%. Projected monthly change: $0.00.");
    const priceCard = page.getByRole("article", { name: `Change request ${price.id}` });
    expect(await priceCard.locator("p").first().textContent()).toContain("Estimated savings: -$3.333333 a month. Quality impact: –. Confidence: 12.3%. Projected monthly change: -$0.003362.");
    await page.close();
  });

  it("says which action failed when the gateway does not answer, or refuses, and takes back a failed read once the gateway answers again", async () => {
    const gw = await gateway(config({ operations }));
    await ask(gw, undefined, { operation: "summarize" });
    const app = (await api(gw, "POST", "/admin/keys", { name: "app", kind: "service" })).body;
    await api(gw, "POST", "/admin/keys", { name: "reporting", kind: "service" });
    // The page reaches the gateway through a proxy that can be cut, as while the gateway restarts.
    const proxy = await startTcpProxy("127.0.0.1", Number(new URL(gw.url).port));
    const { page, errors } = await open({ url: `http://127.0.0.1:${proxy.port}` });
    try {
      await signIn(page, gw.adminKey);
      await page.getByRole("button", { name: "Controls" }).click();
      await page.locator("#keys tbody tr").first().waitFor();
      const status = () => page.locator("#status").textContent();
      proxy.cut();
      const noAnswer = "no answer from the gateway, which may be restarting";

      await page.getByLabel("Reason").fill("runaway agent");
      await page.getByRole("button", { name: "Stop all calls" }).click();
      await page.getByRole("button", { name: "Confirm" }).click();
      await expect.poll(status).toMatch(new RegExp(`^Kill switch not turned on: ${noAnswer} \\(.+\\)\\. What the page shows may be out of date\\.$`));
      expect((await api(gw, "GET", "/admin/kill-switch")).body.global?.active ?? false).toBe(false);
      await page.getByRole("button", { name: "Revoke reporting" }).click();
      await page.getByRole("button", { name: "Confirm" }).click();
      await expect.poll(status).toMatch(new RegExp(`^Key "reporting" not revoked: ${noAnswer}`));
      await page.getByRole("button", { name: "Turn on helix_autonomy_enabled" }).click();
      await page.getByRole("button", { name: "Confirm" }).click();
      await expect.poll(status).toMatch(new RegExp(`^Toggle "helix_autonomy_enabled" not turned on: ${noAnswer}`));
      // Not signed out, and still shown as signed in.
      await page.getByRole("button", { name: "Sign out" }).click();
      await expect.poll(status).toMatch(new RegExp(`^Not signed out: ${noAnswer}`));
      expect(await page.locator("#controls").isVisible()).toBe(true);
      await page.getByRole("button", { name: "Overview" }).click();
      await expect.poll(status).toMatch(new RegExp(`^The page was not read again: ${noAnswer} \\(.+\\)\\. What it shows may be out of date\\.$`));

      proxy.restore();
      await page.getByRole("button", { name: "Overview" }).click();
      await expect.poll(status).toBe("");
      expect(await page.locator("#total-requests").textContent()).toBe("1");
      // Refused by the gateway: said with its reason, and the table read again shows why.
      await page.getByRole("button", { name: "Controls" }).click();
      await page.locator("#keys tbody tr").first().waitFor();
      expect((await api(gw, "DELETE", `/admin/keys/${app.id}`)).status).toBe(200);
      await page.getByRole("button", { name: "Revoke app" }).click();
      await page.getByRole("button", { name: "Confirm" }).click();
      await expect.poll(status).toBe(`Key "app" not revoked: no active key with id "${app.id}".`);
      await expect.poll(() => page.getByRole("button", { name: "Revoke app" }).isDisabled()).toBe(true);
      // Nothing was left to the console as an uncaught error.
      expect(errors.filter((e) => e.startsWith("uncaught"))).toEqual([]);
    } finally {
      await page.close();
      await proxy.close();
    }
  });

  it("labels spend over time as UTC, with no more labels than fit side by side", async () => {
    // A gateway whose clock is set back an hour before each call: its calls span 31 hours of the ledger.
    const made = await store();
    let hoursAgo = 0;
    const clock = { ...systemClock, now: () => Date.now() - hoursAgo * 3_600_000 };
    const adminKey = "sk-test-admin-chart";
    const plane = await ControlPlane.create({ config: resolveConfig(config({ operations }), "test"), database: made.database, adminKey, clock });
    const server = createGateway({ plane, logger: plane.logger });
    const { url } = await server.listen(0, "127.0.0.1");
    cleanups.push(async () => {
      await server.close(1_000);
      await plane.close();
    });
    for (hoursAgo = 0; hoursAgo <= 30; hoursAgo++) expect((await rawChat({ url }, adminKey, { model: "p1/m1" })).status).toBe(200);

    const { page } = await open({ url });
    await signIn(page, adminKey);
    const labels = async () => {
      const boxes = await page.locator("#spend-chart text").evaluateAll((texts) => texts.map((t) => {
          const box = (t as unknown as { getBBox(): { x: number; width: number } }).getBBox();
          return { text: t.textContent ?? "", x: box.x, width: box.width };
        }),
      );
      boxes.forEach((box, i) => {
        const next = boxes[i + 1];
        if (next) expect(box.x + box.width, `${box.text} runs into ${next.text}`).toBeLessThan(next.x);
      });
      return boxes.map((box) => box.text);
    };
    await page.getByLabel("Per", { exact: true }).selectOption("hour");
    await expect.poll(() => page.locator("#chart-title").textContent()).toBe("Spend per hour (UTC), by operation");
    await expect.poll(() => page.locator("#spend-chart rect.bar").count()).toBe(31);
    // Thirty-one hours over two or three days: each label says its day, and one bar in five has one.
    const hourly = await labels();
    expect(hourly).toHaveLength(7);
    for (const text of hourly) expect(text).toMatch(/^\d\d-\d\d \d\d:00$/);
    const hourOf = (hoursBack: number) => `${new Date(Date.now() - hoursBack * 3_600_000).toISOString().slice(0, 13)}:00`.replace("T", " ");
    expect(hourly[0]).toBe(hourOf(30).slice(5));
    // Its accessible name sums it up (range, total, highest bar); every bar's figures are in the table under it.
    const rows = await page.locator("#spend-table tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.children].map((cell) => cell.textContent ?? "")));
    expect(rows).toHaveLength(31);
    expect(await page.locator("#spend-table thead th").allTextContents()).toEqual(["Hour (UTC)", "(none) (USD)", "Total (USD)"]);
    expect(rows[0]?.[0]).toBe(hourOf(30));
    expect(rows[30]?.[0]).toBe(hourOf(0));
    const micro = (usd: string) => BigInt(usd.replace(".", "").padEnd(usd.indexOf(".") + 13, "0"));
    const total = rows.reduce((sum, row) => sum + micro(row[2] ?? ""), 0n);
    const label = (await page.locator("#spend-chart").getAttribute("aria-label"))!;
    const summed = /^Spend per hour \(UTC\), by operation: \$(\S+) in all, from (.+) to (.+) \(31 hours with spend\); the most, \$(\S+), (.+)\. Each hour's spend is in the table below the chart\.$/.exec(label);
    expect(summed, label).not.toBeNull();
    const [, all, from, to, most, at] = summed!;
    expect([micro(all!), from, to]).toEqual([total, hourOf(30), hourOf(0)]);
    const peak = rows.find((row) => row[0] === at);
    expect(peak?.[2]).toBe(most);
    for (const row of rows) expect(micro(row[2] ?? "")).toBeLessThanOrEqual(micro(most!));
    expect(await page.getByRole("group").filter({ hasText: "Spend per hour as a table" }).count()).toBe(1);
    await page.getByLabel("Per", { exact: true }).selectOption("day");
    await expect.poll(() => page.locator("#chart-title").textContent()).toBe("Spend per day (UTC), by operation");
    for (const text of await labels()) expect(text).toMatch(/^\d\d-\d\d$/);
    await page.close();
  });

  it("writes each bar's spend exactly, however small", async () => {
    // A model priced at a hundred-thousandth of a dollar per million tokens: a call costs a few billionths.
    const gw = await gateway(config({ operations, models: [{ id: "p1/m1", price: { input: "0.00001", output: "0.00001", per: "1M" } }] }));
    for (let i = 0; i < 2; i++) await ask(gw, undefined, { operation: "summarize" });
    const costs = (await api(gw, "GET", "/admin/calls")).body.data.map((c: { cost: string }) => c.cost);
    expect(costs).toHaveLength(2);
    const { page } = await open(gw);
    await signIn(page, gw.adminKey);
    await page.locator("#spend-chart rect.bar").first().waitFor();
    // Two equal calls in one bar: twice the cost of one, to the last place the ledger keeps.
    expect(costs[1]).toBe(costs[0]);
    const [whole, fraction] = costs[0].split(".");
    expect(whole).toBe("0");
    const twice = `0.${(BigInt(fraction) * 2n).toString().padStart(fraction.length, "0")}`.replace(/0+$/, "");
    expect(twice).toMatch(/^0\.0000000\d+$/);
    expect(await page.locator("#spend-chart rect.bar title").textContent()).toMatch(new RegExp(` summarize: \\$${twice.replace(".", "\\.")}$`));
    expect(await page.locator("#spend-chart").getAttribute("aria-label")).toContain(`$${twice} in all`);
    expect(await page.locator("#spend-table tbody td").allTextContents()).toEqual([twice, twice]);
    await page.close();
  });

  it("shows a key it created to the admin who created it only: it is gone from the page once signed out", async () => {
    const gw = await gateway(config({ operations }));
    const second = (await api(gw, "POST", "/admin/keys", { name: "second admin", kind: "admin" })).body.key as string;
    const { page } = await open(gw);
    await signIn(page, gw.adminKey);
    await page.getByRole("button", { name: "Controls" }).click();
    await page.getByLabel("Name", { exact: true }).fill("reporting");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.locator("#new-key").waitFor();
    const key = (await page.locator("#new-key-value").textContent())!;
    expect(key).toMatch(/^sk-al-/);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    expect(await page.content()).not.toContain(key);
    await signIn(page, second);
    await page.getByRole("button", { name: "Controls" }).click();
    await page.locator("#keys tbody tr").first().waitFor();
    expect(await page.locator("#new-key").isVisible()).toBe(false);
    expect(await page.content()).not.toContain(key);
    await page.close();
  });

  it("shows keys by their names and prefixes, not the ids the ledger keeps", async () => {
    const gw = await gateway(config({ operations }));
    const reporting = (await api(gw, "POST", "/admin/keys", { name: "reporting", kind: "service" })).body;
    for (let i = 0; i < 2; i++) await ask(gw, undefined, { key: reporting.key, operation: "summarize" });
    await ask(gw, undefined, { operation: "summarize" });
    const shown = `reporting (${reporting.prefix}…)`;
    const { page } = await open(gw);
    await signIn(page, gw.adminKey);
    await expect.poll(() => page.locator("#by-key tbody td:first-child").allTextContents()).toEqual([shown, "key_bootstrap_admin"]);
    await page.getByLabel("Split by", { exact: true }).selectOption("key");
    await expect.poll(() => page.locator("#chart-legend li").allTextContents()).toEqual([shown, "key_bootstrap_admin"]);
    // Chosen by name, the key's id is what is asked for.
    await page.getByLabel("Show", { exact: true }).selectOption({ label: shown });
    await expect.poll(() => page.locator("#chart-title").textContent()).toBe(`Spend per day (UTC), by key (${shown} only)`);
    expect(await page.getByLabel("Show", { exact: true }).inputValue()).toBe(reporting.id);
    expect(await page.locator("#spend-chart rect.bar title").textContent()).toContain(` ${shown}: $`);
    await page.close();
  });

  it("shows a key past its expiry as expired, not active, and one that will expire with its end", async () => {
    const gw = await gateway(config({ operations }));
    const brief = (await api(gw, "POST", "/admin/keys", { name: "brief", kind: "service", expiresIn: "1s" })).body;
    await api(gw, "POST", "/admin/keys", { name: "lasting", kind: "service", expiresAt: "2999-01-01" });
    while (Date.now() <= Date.parse(brief.expiresAt)) await new Promise((r) => setTimeout(r, 100));
    const { page } = await open(gw);
    await signIn(page, gw.adminKey);
    await page.getByRole("button", { name: "Controls" }).click();
    await page.locator("#keys tbody tr").first().waitFor();
    const statuses = await page.locator("#keys tbody tr td:nth-child(5)").allTextContents();
    expect(statuses).toHaveLength(2);
    expect(statuses[0]).toMatch(/^expired /);
    expect(statuses[1]).toMatch(/^active until /);
    await page.close();
  });

  it("takes the session another tab signed in as its own: the action refused for the old token says so, and sign-out works", async () => {
    const gw = await gateway(config({ operations }));
    const { body } = await api(gw, "POST", "/admin/keys", { name: "second admin", kind: "admin" });
    // Two tabs of one browser share its cookie.
    const context = await browser.newContext();
    const [first, second] = [await context.newPage(), await context.newPage()];
    // As a person switches tabs: Chromium holds a hidden tab's animation frames back, and each action
    // Playwright takes there waits about 2 s for them.
    try {
      await first.bringToFront();
      await first.goto(gw.url);
      await signIn(first, gw.adminKey);
      await first.getByRole("button", { name: "Controls" }).click();
      await first.locator("#toggles tbody tr").first().waitFor();
      await second.bringToFront();
      await second.goto(gw.url);
      await second.getByRole("button", { name: "Sign out" }).click();
      await signIn(second, body.key);

      await first.bringToFront();
      await first.getByRole("button", { name: "Turn on helix_autonomy_enabled" }).click();
      await first.getByRole("button", { name: "Confirm" }).click();
      const status = () => first.locator("#status").textContent();
      await expect.poll(status).toBe('Toggle "helix_autonomy_enabled" not turned on: this browser was signed in again in another tab, as second admin, so nothing was changed; the page now acts as second admin.');
      expect((await api(gw, "GET", "/v1/toggles/helix_autonomy_enabled")).body.enabled).toBe(false);
      // The same action again is the second admin's, and is made.
      await first.getByRole("button", { name: "Turn on helix_autonomy_enabled" }).click();
      await first.getByRole("button", { name: "Confirm" }).click();
      await expect.poll(status).toBe('Toggle "helix_autonomy_enabled" is on.');
      expect((await api(gw, "GET", "/v1/toggles/helix_autonomy_enabled")).body).toMatchObject({ enabled: true, updatedBy: body.id });

      // Signed in again in the second tab, the first signs out the browser's session at once.
      await second.bringToFront();
      await second.reload();
      await second.getByRole("button", { name: "Sign out" }).click();
      await signIn(second, gw.adminKey);
      await first.bringToFront();
      await first.getByRole("button", { name: "Sign out" }).click();
      await first.getByRole("heading", { name: "Sign in" }).waitFor();
      expect(await first.locator("#status").textContent()).toBe("Signed out.");
      expect(await context.cookies()).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("keeps the keyboard's place: at the sign-in box, at the view after sign-in, and on the control just used once its table is drawn again", async () => {
    const gw = await gateway(config({ operations, budgets: [{ name: "all-daily", scope: "global", limit: "5" }] }));
    const { page } = await open(gw);
    const focused = () => page.evaluate("document.activeElement.getAttribute('aria-label') || document.activeElement.id || document.activeElement.tagName");
    await expect.poll(focused).toBe("login-key");
    await page.keyboard.type(gw.adminKey);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    expect(await focused()).toBe("overview-title");
    await page.getByRole("button", { name: "Controls" }).click();
    // A toggle turned on by keyboard: the focus stays on its row's button, now "Turn off".
    await page.getByRole("button", { name: "Turn on helix_autonomy_enabled" }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("button", { name: "Confirm" }).focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("#status").textContent()).toBe('Toggle "helix_autonomy_enabled" is on.');
    expect(await focused()).toBe("Turn off helix_autonomy_enabled");
    // A budget's limit set in place with Enter: the focus stays in its box, and Tab reaches its "Set".
    await page.getByLabel("New limit of all-daily (USD)").fill("7.50");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("#status").textContent()).toBe("Budget all-daily now allows $7.50.");
    // The outcome is said once the table is drawn again: the focus is already in the new one.
    expect(await focused()).toBe("New limit of all-daily (USD)");
    await page.keyboard.press("Tab");
    expect(await focused()).toBe("Set the limit of all-daily");
    await page.close();
  });
});
