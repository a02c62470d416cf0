// Passkeys in Debian's chromium (playwright-core, the system browser), with the Chrome DevTools
// Protocol's virtual authenticator (WebAuthn.enable, WebAuthn.addVirtualAuthenticator): on
// /account a user makes an app password from the page (shown once), adds a passkey, signs out and
// signs in with the passkey alone; on /admin an admin does the same from the Passkeys page. The
// pages' own script does the ceremonies (no CDN). Served on http://localhost, which browsers treat
// as a secure context (WebAuthn refuses pages with certificate errors, so not the self-signed HTTPS).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { createAdminOperations } from "../../src/admin/operations/index.js";
import { hashPassword } from "../../src/auth/index.js";
import { findRepositoryRoot } from "../harness/fixtures.js";
import { startFullServer } from "../harness/full-server.js";
import { CHEAP_HASH_PARAMS } from "../harness/temp-store.js";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = join(findRepositoryRoot(import.meta.url), "test-artifacts", "screenshots");

/** A page whose browser context holds a virtual platform authenticator with user verification. */
async function withAuthenticator(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", { options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true } });
  return page;
}

test("passkeys in chromium with a virtual authenticator: add one on /account and /admin, sign out, sign in with it", { skip: existsSync(CHROMIUM) ? false : "no /usr/bin/chromium" }, async () => {
  await mkdir(SHOTS, { recursive: true });
  const server = await startFullServer();
  let browser: Browser | null = null;
  try {
    const ops = createAdminOperations({ accounts: server.server.store.accounts, hashPassword: (p) => hashPassword(p, { params: CHEAP_HASH_PARAMS }) });
    await ops.addDomain("example.org");
    await ops.addUser({ address: "alice@example.org", password: "alice password 1" });
    await server.server.store.webAuth!.addAdminUser("root", await hashPassword("root password 1", { params: CHEAP_HASH_PARAMS }), new Date());
    const port = server.server.http!.bound.find((b) => b.scheme === "http")!.port;
    const base = `http://localhost:${port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--host-resolver-rules=MAP localhost 127.0.0.1"] });
    const errors: string[] = [];

    // --- /account ----------------------------------------------------------------------------
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await withAuthenticator(context);
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${base}/account/login`);
    await page.getByLabel("Email address").fill("alice@example.org");
    await page.getByLabel("Password").fill("alice password 1");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL(`${base}/account`);

    // An app password made from the page, shown once.
    await page.getByLabel("Name of the app or device").fill("phone");
    await page.getByLabel("POP3").uncheck();
    await page.locator("#app-current").fill("alice password 1");
    await page.getByRole("button", { name: "Create app password" }).click();
    const secret = page.locator("#secret-value");
    await secret.waitFor();
    assert.match((await secret.textContent()) ?? "", /^\S{16,}$/);
    await page.screenshot({ path: join(SHOTS, "account-app-password-desktop.png"), fullPage: true });
    await page.reload();
    await page.locator("tr", { hasText: "phone" }).filter({ hasText: "imap, smtp, managesieve" }).waitFor();

    await page.getByLabel("Name of the passkey").fill("laptop");
    await page.locator("#passkey-current").fill("alice password 1");
    await page.getByRole("button", { name: "Add a passkey" }).click();
    await page.locator("tr", { hasText: "laptop" }).waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(SHOTS, "account-passkeys-desktop.png"), fullPage: true });
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${base}/account/login`);
    await page.getByRole("button", { name: "Use a passkey instead" }).click();
    await page.waitForURL(`${base}/account`, { timeout: 30_000 });
    await page.getByRole("heading", { name: "Storage" }).waitFor();
    const account = (await server.server.store.accounts.findAccountByAddress("alice@example.org"))!;
    const keys = await server.server.store.webAuth!.listWebAuthnCredentials({ kind: "account", accountId: account.id });
    assert.equal(keys.length, 1);
    assert.ok(keys[0]!.lastUsedAt, "the passkey sign-in was recorded");

    // --- /admin ------------------------------------------------------------------------------
    const adminContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const admin = await withAuthenticator(adminContext);
    admin.on("pageerror", (error) => errors.push(error.message));
    await admin.goto(`${base}/admin/login`);
    await admin.getByLabel("Admin name").fill("root");
    await admin.getByLabel("Password").fill("root password 1");
    await admin.getByRole("button", { name: "Sign in", exact: true }).click();
    await admin.waitForURL(`${base}/admin`);
    await admin.getByRole("link", { name: "Passkeys", exact: true }).click();
    await admin.getByLabel("Name of the passkey").fill("yubikey");
    await admin.locator("#passkey-current").fill("root password 1");
    await admin.getByRole("button", { name: "Add a passkey" }).click();
    await admin.locator("tr", { hasText: "yubikey" }).waitFor({ timeout: 30_000 });
    await admin.screenshot({ path: join(SHOTS, "admin-passkeys-desktop.png"), fullPage: true });
    await admin.getByRole("button", { name: "Sign out" }).click();
    await admin.waitForURL(`${base}/admin/login`);
    await admin.getByRole("button", { name: "Use a passkey instead" }).click();
    await admin.waitForURL(`${base}/admin`, { timeout: 30_000 });
    await admin.getByRole("heading", { name: "Dashboard" }).waitFor();
    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
    await server.stop();
  }
});
