import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";

/**
 * Debian's Chromium (playwright-core never downloads a browser), launched once for a test file and
 * closed after it. Call it at the top level of the file; the pages it opens work from `beforeAll` on.
 */
export function useChromium(): Pick<Browser, "newPage" | "newContext"> {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
  });
  afterAll(async () => {
    await browser?.close();
  });
  const launched = (): Browser => {
    if (!browser) throw new Error("Chromium is launched in beforeAll: open pages in a test or a later hook");
    return browser;
  };
  return {
    newPage: (options) => launched().newPage(options),
    newContext: (options) => launched().newContext(options),
  };
}

/** Signs in with `key` on the dashboard's form, already open on `page`, and waits for the overview. */
export async function signInOnPage(page: Page, key: string): Promise<void> {
  await page.getByLabel("Admin key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
}
