// Debian's Chromium, driven by playwright-core. Missing Chromium is a failure, not a
// skip: `npm test` runs `concord setup --for tests` first, which installs it (root) or
// stops naming the command, so its absence means the machine is not set up.

import { existsSync } from "node:fs";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { CHROMIUM_CANDIDATES } from "../../src/cli/ensure-debian-packages.ts";

const CANDIDATES = [process.env["CHROMIUM_PATH"], ...CHROMIUM_CANDIDATES];
export const SCREENSHOTS = join(import.meta.dir, "screenshots");

export async function launchChromium(): Promise<Browser> {
  const executablePath = CANDIDATES.find((p): p is string => p !== undefined && existsSync(p));
  if (executablePath === undefined) {
    throw new Error("Chromium is not installed: npm run concord -- setup --for tests (as root), or apt-get install -y --no-install-recommends chromium (or set CHROMIUM_PATH)");
  }
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

/** Waits (auto-waiting, no sleeps) until exactly `count` elements match `selector`. */
export async function waitForCount(page: Page, selector: string, count: number, timeout = 10_000): Promise<void> {
  await page.waitForFunction(([s, n]) => document.querySelectorAll(s as string).length === n, [selector, count] as const, { timeout });
}
