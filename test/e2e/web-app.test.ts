import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium, screenshot, waitForCount } from "./browser.ts";
import { ADMIN_TOKEN, WebCluster } from "./web-cluster.ts";

// The web app in a real Chromium against three real node processes: two people sign up
// and chat live; the node serving one of them is killed and the conversation goes on
// without a reload, losing and doubling nothing; the dashboard shows the new leader
// within two seconds.

const PASSWORD = "correct-horse-1";
const DESKTOP = { width: 1200, height: 760 };
const PHONE = { width: 375, height: 740 };

let cluster: WebCluster | null = null;
let browser: Browser | null = null;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [cluster, browser] = await Promise.all([WebCluster.start(3), launchChromium()]);
}, 40_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await cluster?.stop();
});

/** Everything the pages' Content-Security-Policy blocked: the app must need nothing it forbids. */
const cspViolations: string[] = [];

async function openPage(url: string, viewport = DESKTOP): Promise<Page> {
  const context = await browser!.newContext({ viewport, deviceScaleFactor: 1 });
  contexts.push(context);
  await context.exposeBinding("reportCspViolation", (_source, text: string) => void cspViolations.push(`${url}: ${text}`));
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      void (window as unknown as { reportCspViolation(text: string): Promise<void> }).reportCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error(`page error on ${url}: ${error.message}`));
  const response = await page.goto(url);
  expect(response?.headers()["content-security-policy"] ?? "").toContain("script-src 'self'");
  return page;
}

async function signUp(page: Page, username: string): Promise<void> {
  await page.getByRole("tab", { name: "Create account" }).click();
  await page.fill("#auth-username", username);
  await page.locator("#username-hint", { hasText: "is available" }).waitFor();
  await page.fill("#auth-password", PASSWORD);
  await page.getByRole("button", { name: "Create account", exact: true }).last().click();
  await page.locator('#connection[data-state="connected"]').waitFor({ timeout: 15_000 });
}

async function openConversationBySearch(page: Page, partner: string): Promise<void> {
  await page.fill("#people-search", partner.slice(0, 3));
  await page.locator(`.person[data-username="${partner}"]`).click();
  await page.locator(`.conversation[data-partner="${partner}"]`).waitFor();
}

async function send(page: Page, text: string): Promise<void> {
  await page.fill("#composer", text);
  await page.press("#composer", "Enter");
}

/** Every text appears exactly once among the confirmed bubbles, and nothing else does. */
async function expectMessages(page: Page, texts: readonly string[]): Promise<void> {
  await waitForCount(page, "#messages .bubble:not(.pending)", texts.length, 15_000);
  const shown = await page.locator("#messages .bubble:not(.pending) .content").allTextContents();
  expect(shown).toEqual([...texts]);
}

describe("the web app", () => {
  test("two people chat live, and a node's death changes nothing for them", async () => {
    const c = cluster!;
    const leader = await c.leader();
    const [followerB, followerC] = [...c.urls.keys()].filter((id) => id !== leader) as [number, number];

    // Alice is served by the leader, Bob by a follower, the dashboard by the third node.
    const alice = await openPage(`${c.url(leader)}/`);
    await screenshot(alice, "01-sign-in");
    await signUp(alice, "alice");
    const bob = await openPage(`${c.url(followerB)}/`);
    await bob.getByRole("tab", { name: "Create account" }).click();
    await bob.fill("#auth-username", "alice");
    await bob.locator("#username-hint", { hasText: "is taken" }).waitFor();
    await screenshot(bob, "02-sign-up-name-taken");
    await signUp(bob, "bob");

    await openConversationBySearch(alice, "bob");
    await send(alice, "Hi Bob! Did the deploy go out?");
    // Bob sees the conversation arrive live, with an unread badge, newest first.
    await bob.locator('.conversation-item[data-partner="alice"] .badge', { hasText: "1" }).waitFor();
    await screenshot(bob, "03-conversation-list-unread");
    await bob.locator('.conversation-item[data-partner="alice"]').click();
    await expectMessages(bob, ["Hi Bob! Did the deploy go out?"]);
    // Opening it marks it read: the badge goes, and Alice sees the double tick.
    await bob.locator('.conversation-item[data-partner="alice"] .badge').waitFor({ state: "detached" });
    await alice.locator('.bubble.mine .read-mark', { hasText: "✓✓" }).waitFor();
    await send(bob, "Yes, about ten minutes ago. All green so far.");
    await expectMessages(alice, ["Hi Bob! Did the deploy go out?", "Yes, about ten minutes ago. All green so far."]);
    await screenshot(alice, "04-chat-desktop");

    const dashboard = await openPage(`${c.url(followerC)}/cluster`);
    await waitForCount(dashboard, '.node-card[data-state="up"]', 3);
    await dashboard.locator(`#cluster-summary[data-leader="${leader}"]`).waitFor();
    await screenshot(dashboard, "05-dashboard");

    // Alice's page talks to the leader's node. Kill it, mid-conversation.
    expect(await alice.locator("#connection").getAttribute("data-node")).toBe(c.url(leader));
    await alice.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    const killedAt = Date.now();
    await c.kill(leader);
    await send(alice, "Still there? My server just went away.");

    // The dashboard names a new leader within two seconds of the old one's death.
    await dashboard.locator(`#cluster-summary:not([data-leader=""]):not([data-leader="${leader}"])`).waitFor({ timeout: 2000 - (Date.now() - killedAt) });
    const electedWithinMs = Date.now() - killedAt;
    await dashboard.locator(`.node-card[data-url="${c.url(leader)}"][data-state="down"]`).waitFor();
    await screenshot(dashboard, "06-dashboard-after-leader-death");

    // Alice's page moved to another node by itself and goes on; nothing lost or doubled.
    await alice.locator('#connection[data-state="connected"]').waitFor({ timeout: 15_000 });
    expect(await alice.locator("#connection").getAttribute("data-node")).not.toBe(c.url(leader));
    const before = ["Hi Bob! Did the deploy go out?", "Yes, about ten minutes ago. All green so far."];
    await expectMessages(bob, [...before, "Still there? My server just went away."]);
    await send(bob, "Still here. Your page didn't even blink.");
    await send(alice, "Great, one more to be sure.");
    const after = [...before, "Still there? My server just went away.", "Still here. Your page didn't even blink.", "Great, one more to be sure."];
    await expectMessages(alice, after);
    await expectMessages(bob, after);
    expect(await alice.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    await screenshot(alice, "07-chat-after-failover");
    console.log(`new leader shown on the dashboard ${electedWithinMs} ms after the old one was killed`);
    expect(cspViolations).toEqual([]);
  }, 60_000);

  test("on a phone: sign in, delete a message live for both sides, delete the account", async () => {
    const c = cluster!;
    const live = [...c.nodes.values()].filter((n) => n.running).map((n) => n.id);
    const phone = await openPage(`${c.url(live[0]!)}/`, PHONE);
    await phone.fill("#auth-username", "bob");
    await phone.fill("#auth-password", PASSWORD);
    await phone.getByRole("button", { name: "Sign in", exact: true }).last().click();
    await phone.locator('#connection[data-state="connected"]').waitFor({ timeout: 15_000 });
    await screenshot(phone, "08-phone-conversations");
    await phone.locator('.conversation-item[data-partner="alice"]').click();
    await phone.locator('.conversation[data-partner="alice"] .bubble').first().waitFor();
    await screenshot(phone, "09-phone-conversation");

    const alice = await openPage(`${c.url(live[1]!)}/`);
    await alice.fill("#auth-username", "alice");
    await alice.fill("#auth-password", PASSWORD);
    await alice.press("#auth-password", "Enter");
    await alice.locator('.conversation-item[data-partner="bob"]').click();
    await waitForCount(alice, "#messages .bubble", 5);

    // Alice changes her password: her desktop page's session (the first test's) ends, this one stays.
    await alice.locator(".account-menu summary").click();
    await alice.locator("#change-password").click();
    await alice.fill("#current-password", PASSWORD);
    await alice.fill("#new-password", `${PASSWORD}-new`);
    await alice.locator("#confirm-password").click();
    await alice.locator("#account-notice", { hasText: "Password changed; 1 other session signed out." }).waitFor();
    await alice.keyboard.press("Escape");

    // Bob deletes his last message; it disappears on Alice's screen too.
    const last = phone.locator("#messages .bubble.mine").last();
    await last.click();
    await last.locator(".delete-button").click();
    await waitForCount(phone, "#messages .bubble", 4);
    await waitForCount(alice, "#messages .bubble", 4);

    // Delete the account, behind a confirmation that asks for the password.
    await phone.getByRole("button", { name: "Back to conversations" }).click();
    await phone.locator(".account-menu summary").click();
    await phone.locator("#delete-account").click();
    await phone.fill("#delete-password", PASSWORD);
    await screenshot(phone, "10-phone-delete-account");
    await phone.locator("#confirm-delete").click();
    await phone.locator("#auth-username").waitFor();
    await alice.locator(".conversation-status", { hasText: "deleted" }).waitFor();
    // Admin token (from the dashboard's form) unlocks cluster actions.
    const dashboard = await openPage(`${c.url(live[1]!)}/cluster`, PHONE);
    await dashboard.fill("#admin-token", ADMIN_TOKEN);
    await dashboard.press("#admin-token", "Enter");
    await dashboard.getByRole("button", { name: "Make leader" }).first().waitFor();
    await screenshot(dashboard, "11-phone-dashboard-admin");
    // The admin token is kept in memory only: nothing in either storage, nothing left in the field.
    const stored = await dashboard.evaluate(() => JSON.stringify({ session: { ...sessionStorage }, local: { ...localStorage } }));
    expect(stored).not.toContain(ADMIN_TOKEN);
    await dashboard.getByRole("button", { name: "Lock" }).click();
    await dashboard.locator("#admin-token").waitFor();
    expect(await dashboard.inputValue("#admin-token")).toBe("");
    expect(await dashboard.getByRole("button", { name: "Make leader" }).count()).toBe(0);
    expect(cspViolations).toEqual([]);
  }, 45_000);
});
