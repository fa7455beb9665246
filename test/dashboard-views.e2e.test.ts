import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ask, routesSuite, type Instance } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

// A real browser against a real gateway: slower than most tests, and slower still on a busy machine.
vi.setConfig({ testTimeout: 90_000 });

/**
 * The dashboard in real headless Chromium, around its views rather than its flows (dashboard.e2e.test.ts):
 * what is shown before sign-in, every view at a phone's width, and the page's console.
 */
let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
});
afterAll(async () => {
  await browser?.close();
});

describe.each(STORE_KINDS)("the dashboard's views on %s", (kind) => {
  const { config, gateway } = routesSuite(kind);
  const operations = { summarize: { model: "p1/m1" } };

  /** A page whose console errors and uncaught exceptions are kept, to be checked. */
  async function open(gw: Instance, width = 1280): Promise<{ page: Page; errors: string[] }> {
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
    await page.getByLabel("Admin key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
  }

  it("offers the views only once signed in, and no view scrolls sideways at 390 px", async () => {
    const gw = await gateway(config({ operations, budgets: [{ name: "all-daily", scope: "global", limit: "5" }] }));
    await ask(gw, undefined, { operation: "summarize" });
    const { page } = await open(gw, 390);
    await page.getByLabel("Admin key").waitFor();
    // Before sign-in, the tabs lead nowhere: they are not shown, nor reached by keyboard.
    expect(await page.getByRole("button", { name: "Controls" }).isVisible()).toBe(false);
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement.id")).toBe("login-key");
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
    await page.close();
  });
});
