import type { Page } from "playwright-core";
import { describe, expect, it, vi } from "vitest";
import { api, refusal, routesSuite, type Instance } from "./support/routing.js";
import { useChromium, signInOnPage } from "./support/chromium.js";
import { STORE_KINDS } from "./support/stores.js";

// A real browser against a real gateway: slower than most tests, and slower still on a busy machine.
vi.setConfig({ testTimeout: 90_000 });

/**
 * The dashboard in real headless Chromium, around what its words say (dashboard-views.e2e.test.ts has
 * its views, dashboard.e2e.test.ts its flows): a budget's state as the store has it, keys by their
 * names wherever the store keeps an id, and where the keyboard lands when its control is gone.
 */
const browser = useChromium();

describe.each(STORE_KINDS)("the dashboard's words on %s", (kind) => {
  const { config, gateway } = routesSuite(kind);

  async function signIn(gw: Instance): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(gw.url);
    await signInOnPage(page, gw.adminKey);
    return page;
  }

  const cells = (page: Page, table: string, row: string) => page.locator(`${table} tbody tr`).filter({ hasText: row }).first().locator("td").allTextContents();

  it("says a budget that refused calls with nothing spent refuses them, not that it is exhausted", async () => {
    const operations = { summarize: { model: "p1/m1" }, translate: { model: "p1/m1" } };
    const budgets = [
      { name: "frozen", scope: "operation" as const, target: "translate", limit: "0" },
      // Less than any call's worst case: every call is refused, and nothing is spent.
      { name: "tiny", scope: "operation" as const, target: "summarize", limit: "0.000001" },
      { name: "roomy", scope: "global" as const, limit: "5" },
    ];
    const gw = await gateway(config({ operations, budgets }));
    expect(await refusal(gw, undefined, { operation: "translate" })).toMatchObject({ status: 429, code: "budget_exceeded" });
    expect(await refusal(gw, undefined, { operation: "summarize" })).toMatchObject({ status: 429, code: "budget_exceeded" });
    // The window is marked as having refused a call just after the refusal is answered.
    const current = async (name: string) => (await api(gw, "GET", "/admin/budgets")).body.data.find((b: { name: string }) => b.name === name).current;
    await expect.poll(() => current("tiny"), { timeout: 10_000 }).toMatchObject({ spent: "0", exhausted: true });
    await expect.poll(() => current("frozen"), { timeout: 10_000 }).toMatchObject({ spent: "0", exhausted: true });

    const page = await signIn(gw);
    const spent = (table: string, name: string) => cells(page, table, name).then((texts) => texts[3]);
    await expect.poll(() => spent("#budget-burn", "frozen"), { timeout: 10_000 }).toBe("0.00 / 0 (limit 0: refuses every call)");
    expect(await spent("#budget-burn", "tiny")).toBe("0.00 / 0.000001 (refusing calls that could cost more than the $0.000001 left)");
    expect(await spent("#budget-burn", "roomy")).toBe("0.00 / 5");
    expect(await page.getByRole("meter", { name: "frozen: a limit of 0" }).count()).toBe(1);
    await page.getByRole("button", { name: "Controls" }).click();
    await expect.poll(() => spent("#budgets", "frozen"), { timeout: 10_000 }).toBe("0.00 / 0 (limit 0: refuses every call)");
    expect(await spent("#budgets", "tiny")).toBe("0.00 / 0.000001 (refusing calls that could cost more than the $0.000001 left)");
    await page.close();
  });

  it("names the keys that asked for changes, acted in the audit log and flipped the kill switch, with each id as its title", async () => {
    const operations = { summarize: { model: "p1/m1" }, payout: { model: "p1/m1", criticality: "HIGH" as const } };
    const gw = await gateway(config({ operations }));
    const agent = (await api(gw, "POST", "/admin/keys", { name: "optimizer", kind: "agent" })).body;
    const ops = (await api(gw, "POST", "/admin/keys", { name: "on-call", kind: "admin" })).body;
    const gone = (await api(gw, "POST", "/admin/keys", { name: "former", kind: "admin" })).body;
    const request = (await api(gw, "POST", "/admin/change-requests", { kind: "route", target: "summarize", proposed: { model: "p2/m2" } }, agent.key)).body;
    // A HIGH operation refused for want of a grant files a grant request for the key.
    expect(await refusal(gw, "payout", { key: agent.key })).toMatchObject({ status: 403, code: "approval_required" });
    const grantRequest = async () => (await api(gw, "GET", "/admin/change-requests?status=PENDING")).body.data.find((r: { kind: string }) => r.kind === "grant");
    await expect.poll(grantRequest, { timeout: 10_000 }).toBeDefined();
    const grant = await grantRequest();
    expect(grant.requestedBy).toBe(agent.id);
    // Flipped by one admin key, then an operation by another that is revoked since, and one by the bootstrap admin.
    expect((await api(gw, "POST", "/admin/kill-switch", { active: true, reason: "drill" }, ops.key)).status).toBe(200);
    expect((await api(gw, "POST", "/admin/kill-switch", { active: true, reason: "old", operation: "payout" }, gone.key)).status).toBe(200);
    expect((await api(gw, "POST", "/admin/kill-switch", { active: true, reason: "bad prompts", operation: "summarize" })).status).toBe(200);
    expect((await api(gw, "DELETE", `/admin/keys/${gone.id}`)).status).toBe(200);
    const optimizer = `optimizer (${agent.prefix}…)`;

    const page = await signIn(gw);
    await page.getByRole("button", { name: "Changes & audit" }).click();
    const card = page.getByRole("article", { name: `Change request ${request.id}` });
    await card.waitFor();
    expect(await card.locator("p").first().textContent()).toMatch(new RegExp(`^Requested by ${optimizer.replace(/[().…]/g, "\\$&")} \\(agent\\), expires `));
    expect(await card.getByText(optimizer, { exact: true }).getAttribute("title")).toBe(agent.id);
    const grantCard = page.getByRole("article", { name: `Change request ${grant.id}` });
    expect(await grantCard.locator("h3").textContent()).toBe(`grant ${optimizer}/payout: approval_grant`);
    expect(await grantCard.locator("h3 span").getAttribute("title")).toBe(agent.id);
    expect(await grantCard.locator("p").first().textContent()).toMatch(/^Requested by optimizer \(/);
    // The audit log: the agent's proposal by name, the bootstrap admin (no key the store lists) by its id.
    await expect.poll(() => cells(page, "#audit", request.id).then((texts) => texts[3])).toBe(`${optimizer} (agent)`);
    expect((await cells(page, "#audit", "kill_switch.on")).slice(1, 4)).toEqual(["kill_switch.on", "operation:summarize", "key_bootstrap_admin (admin)"]);

    await page.getByRole("button", { name: "Controls" }).click();
    await expect.poll(() => page.locator("#kill-state").textContent(), { timeout: 10_000 }).toMatch(new RegExp(`^ON: calls are stopped\\. Flipped by on-call \\(${ops.prefix}…\\) at .*: drill$`));
    expect(await page.locator("#kill-state span").getAttribute("title")).toBe(ops.id);
    expect((await cells(page, "#kill-operations", "summarize"))[3]).toMatch(/^key_bootstrap_admin, /);
    // A key revoked since is still the store's: shown by its name, as in the keys table.
    expect((await cells(page, "#kill-operations", "payout"))[3]).toMatch(new RegExp(`^former \\(${gone.prefix}…\\), `));
    expect(await page.locator("#kill-operations tbody tr", { hasText: "payout" }).locator("span[title]").getAttribute("title")).toBe(gone.id);
    await page.close();
  });

  it("keeps the keyboard in the keys table after a revoke: on the next key's Revoke, else on the status line", async () => {
    const gw = await gateway(config({ operations: { summarize: { model: "p1/m1" } } }));
    for (const name of ["alpha", "beta"]) await api(gw, "POST", "/admin/keys", { name, kind: "service" });
    const page = await signIn(gw);
    const focused = () => page.evaluate("document.activeElement.getAttribute('aria-label') || document.activeElement.id || document.activeElement.tagName");
    await page.getByRole("button", { name: "Controls" }).click();
    const order = async () => (await page.locator("#keys tbody td:first-child").allTextContents()).filter((name) => name === "alpha" || name === "beta");
    await expect.poll(order).toHaveLength(2);
    const [first, second] = await order();
    await page.getByRole("button", { name: `Revoke ${first}` }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("button", { name: "Confirm" }).focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("#status").textContent()).toBe(`Key "${first}" revoked.`);
    // Its own Revoke is disabled now: the focus is on the next key's.
    await expect.poll(focused).toBe(`Revoke ${second}`);
    await page.keyboard.press("Enter");
    await page.getByRole("button", { name: "Confirm" }).focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("#status").textContent()).toBe(`Key "${second}" revoked.`);
    // No key is left to revoke: the focus is on the line that says what happened.
    await expect.poll(focused).toBe("status");
    expect(await page.getByRole("button", { name: `Revoke ${second}` }).isDisabled()).toBe(true);
    await page.close();
  });

  it("says an action's outcome once the view shows it, so that the next key pressed acts on the rows drawn again", async () => {
    const gw = await gateway(config({ operations: { summarize: { model: "p1/m1" } } }));
    const page = await signIn(gw);
    await page.getByRole("button", { name: "Controls" }).click();
    const turnOn = page.getByRole("button", { name: "Turn on helix_autonomy_enabled" });
    await turnOn.waitFor();
    // Each time the status line changes, what it says and whether the toggles table shows the toggle on.
    await page.evaluate(`(() => {
      const status = document.getElementById("status");
      window.__said = [];
      new MutationObserver(() => window.__said.push([status.textContent, document.querySelector('[aria-label="Turn off helix_autonomy_enabled"]') !== null]))
        .observe(status, { childList: true, characterData: true, subtree: true });
    })()`);
    await turnOn.click();
    await page.getByRole("button", { name: "Confirm" }).click();
    await expect.poll(() => page.locator("#status").textContent()).toBe('Toggle "helix_autonomy_enabled" is on.');
    expect(await page.evaluate("window.__said")).toEqual([['Toggle "helix_autonomy_enabled" is on.', true]]);
    await page.close();
  });
});
