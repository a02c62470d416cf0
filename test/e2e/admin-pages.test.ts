// The admin pages (/admin) and the account page (/account) in Debian's chromium, driven headless by
// playwright-core, against a whole composed server over HTTPS (its self-signed certificate): sign
// in, create a domain and a user, see the DNS records and check them live, send a message over
// SMTP and watch the dashboard count it, retry a deferred message from the queue page (the remote
// MTA answered 451 the first time), read it in the delivery log, then change the password from
// /account and log in over IMAP with the new one. Every page is saved as a screenshot at desktop
// and phone widths under test-artifacts/screenshots/ (git-ignored) for a reviewer to look at.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { chromium, type Browser, type Page } from "playwright-core";
import { hashPassword } from "../../src/auth/index.js";
import { findRepositoryRoot } from "../harness/fixtures.js";
import { startFullServer } from "../harness/full-server.js";
import { remoteMta } from "../harness/capture-mta.js";
import { CHEAP_HASH_PARAMS } from "../harness/temp-store.js";

const run = promisify(execFile);
const CHROMIUM = "/usr/bin/chromium";
const SHOTS = join(findRepositoryRoot(import.meta.url), "test-artifacts", "screenshots");
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

async function python(script: string): Promise<string> {
  return (await run("python3", ["-c", script], { timeout: 30_000 })).stdout;
}

/** Saves the page at desktop and phone widths. */
async function shoot(page: Page, name: string): Promise<void> {
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: join(SHOTS, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: join(SHOTS, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize(DESKTOP);
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test("admin and account pages in chromium: sign in, domain and DNS, user, dashboard counts a message, queue retry, delivery log, password change then IMAP", { skip: existsSync(CHROMIUM) ? false : "no /usr/bin/chromium" }, async () => {
  await mkdir(SHOTS, { recursive: true });
  const remote = await remoteMta();
  const server = await startFullServer({
    extraToml: `[http]\nhttp_port = 0\nhttps_port = 0\naddress = "127.0.0.1"\n[outbound]\nroutes = { "remote.test" = "127.0.0.1:${remote.port}" }\nmta_sts = false\nretry_schedule = ["1h"]\n`,
  });
  let browser: Browser | null = null;
  try {
    await server.server.store.webAuth!.addAdminUser("root", await hashPassword("correct horse battery", { params: CHEAP_HASH_PARAMS }), new Date());
    const https = server.server.http!.bound.find((b) => b.scheme === "https")!.port;
    // By name, as a browser would come: TLS needs SNI to pick the certificate (none is sent for an IP).
    const base = `https://mx.example.org:${https}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--host-resolver-rules=MAP mx.example.org 127.0.0.1"] });
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: DESKTOP });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      // Failed loads are judged by their responses below; anything else (a CSP violation) counts.
      if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) errors.push(message.text());
    });
    // The one failure expected is the wrong password; the browser's own /favicon.ico probe may 404.
    page.on("response", (response) => {
      const path = new URL(response.url()).pathname;
      if (response.status() >= 400 && path !== "/favicon.ico" && !(path === "/api/v1/session" && response.status() === 401)) errors.push(`${response.status()} ${path}`);
    });

    // Sign in: /admin sends a stranger to the sign-in page.
    await page.goto(`${base}/admin`);
    assert.equal(new URL(page.url()).pathname, "/admin/login");
    await shoot(page, "admin-login");
    await page.getByLabel("Admin name").fill("root");
    await page.getByLabel("Password").fill("wrong password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "wrong name or password" }).waitFor();
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${base}/admin`);
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();

    // A domain, and its DNS records with copy buttons and live check marks.
    await page.getByRole("link", { name: "Domains", exact: true }).click();
    await page.getByLabel("New domain").fill("example.org");
    await page.getByRole("button", { name: "Add domain" }).click();
    await page.getByRole("link", { name: "example.org" }).click();
    await page.getByRole("heading", { name: "example.org" }).waitFor();
    const mx = page.locator("tr", { hasText: "10 mx.example.org." });
    await mx.waitFor();
    assert.equal(await mx.getByRole("button", { name: /Copy the MX record/ }).count(), 1);
    assert.ok((await page.locator("td", { hasText: /^v=DKIM1; k=ed25519; p=/ }).count()) >= 1, "the DKIM key is listed");
    await page.getByRole("button", { name: "Check live DNS" }).click();
    await page.locator("#dns-summary", { hasText: /checks are not ok|Every record/ }).waitFor({ timeout: 60_000 });
    assert.ok((await page.locator("[data-check].bad, [data-check].ok").count()) >= 5, "each record got a live mark");
    await shoot(page, "admin-domain");
    await page.goto(`${base}/admin/domains`);
    await shoot(page, "admin-domains");

    // A user.
    await page.getByRole("link", { name: "Accounts", exact: true }).click();
    await page.getByLabel("Address").fill("alice@example.org");
    await page.getByLabel("Password").fill("first password 1");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.locator("tr", { hasText: "alice@example.org" }).waitFor();
    await page.getByLabel("Search").fill("alice");
    await page.getByRole("button", { name: "Search" }).click();
    await page.locator("caption", { hasText: "1 account(s) matching" }).waitFor();
    await shoot(page, "admin-accounts");

    // A message over SMTP (submission, alice to herself and to remote.test): the dashboard counts it.
    await page.goto(`${base}/admin`);
    const received = page.locator('[data-total="received"]');
    await received.waitFor();
    const before = Number(await received.textContent());
    const sent = await python(`
import smtplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL("127.0.0.1", ${server.portOf("submissions")}, context=ctx, local_hostname="py.test")
s.login("alice@example.org", "first password 1")
s.sendmail("alice@example.org", ["alice@example.org"], "From: alice@example.org\\r\\nSubject: to myself\\r\\n\\r\\nhi\\r\\n")
s.sendmail("alice@example.org", ["bob@remote.test"], "From: alice@example.org\\r\\nSubject: to bob\\r\\n\\r\\nhello bob\\r\\n")
s.quit()
print("sent")
`);
    assert.match(sent, /sent/);
    await eventually(async () => Number(await received.textContent()) >= before + 2, "the dashboard counts the two messages received", 30_000);
    await shoot(page, "admin-dashboard");

    // The remote said 451: the message waits in the queue; the queue page retries it once the remote takes mail.
    await eventually(async () => (await server.server.store.queue.listQueue()).some((e) => e.recipients.some((r) => r.state === "deferred")), "the remote's 451 defers the message");
    await page.getByRole("link", { name: "Queue", exact: true }).click();
    const row = page.locator("tr[data-queue-id]", { hasText: "bob@remote.test" });
    await row.waitFor();
    assert.match((await row.textContent()) ?? "", /deferred.*451 4\.3\.0 not now/s);
    assert.match((await row.textContent()) ?? "", /next attempt/);
    await shoot(page, "admin-queue");
    remote.accepting = true;
    await row.getByRole("button", { name: /Retry message \d+ now/ }).click();
    await eventually(async () => remote.messages.length === 1, "the retried message reaches the remote");
    assert.match(remote.messages[0]!, /hello bob/);
    await eventually(async () => (await server.server.store.queue.listQueue()).length === 0, "the queue empties");
    await page.reload();
    await page.locator("td", { hasText: "The queue is empty." }).waitFor();

    // The delivery log shows the deferral and the delivery, filtered.
    await page.getByRole("link", { name: "Delivery log", exact: true }).click();
    await page.getByLabel("Event").selectOption("delivered");
    await page.getByRole("button", { name: "Filter" }).click();
    const delivered = page.locator("tbody tr", { hasText: "bob@remote.test" });
    await delivered.first().waitFor();
    assert.match((await delivered.first().textContent()) ?? "", /delivered/);
    assert.equal(await page.locator("tbody tr", { hasText: "deferred" }).count(), 0, "the filter keeps deliveries only");
    await page.goto(`${base}/admin/log`);
    await shoot(page, "admin-log");
    await page.goto(`${base}/admin/aliases`);
    await shoot(page, "admin-aliases");

    // /account: alice signs in with her mail password, changes it, and IMAP takes the new one.
    const own = await browser.newContext({ ignoreHTTPSErrors: true, viewport: DESKTOP });
    const mine = await own.newPage();
    mine.on("pageerror", (error) => errors.push(error.message));
    await mine.goto(`${base}/account`);
    assert.equal(new URL(mine.url()).pathname, "/account/login");
    await shoot(mine, "account-login");
    await mine.getByLabel("Email address").fill("alice@example.org");
    await mine.getByLabel("Password").fill("first password 1");
    await mine.getByRole("button", { name: "Sign in" }).click();
    await mine.waitForURL(`${base}/account`);
    await mine.getByRole("heading", { name: "Storage" }).waitFor();
    assert.equal(await mine.getByRole("link", { name: "download the settings profile" }).getAttribute("href"), "/apple/mobileconfig?emailaddress=alice%40example.org");
    await shoot(mine, "account");
    await mine.getByLabel("Current password").fill("first password 1");
    await mine.getByLabel(/New password/).fill("second password 2");
    await mine.getByRole("button", { name: "Change password" }).click();
    await mine.getByRole("alert").filter({ hasText: "Password changed" }).waitFor();
    const imap = (password: string) => python(`
import imaplib, ssl
c = imaplib.IMAP4_SSL("127.0.0.1", ${server.portOf("imaps")}, ssl_context=ssl._create_unverified_context())
try:
    c.login("alice@example.org", "${password}")
    print("OK", c.select("INBOX")[1][0].decode())
except imaplib.IMAP4.error as e:
    print("NO", e)
`);
    assert.match(await imap("second password 2"), /^OK [1-9]/, "the new password logs in over IMAP, and the message is there");
    assert.match(await imap("first password 1"), /^NO/, "the old one no longer does");
    // Out-of-office through Sieve, saved from the page and shown back.
    await mine.getByLabel("Answer incoming mail automatically").check();
    await mine.getByLabel("Subject").fill("Away");
    await mine.getByLabel("Text").fill("Back on Monday.");
    await mine.getByRole("button", { name: "Save" }).click();
    await mine.getByRole("alert").filter({ hasText: "Saved." }).waitFor();
    await mine.reload();
    assert.equal(await mine.getByLabel("Subject").inputValue(), "Away");
    await shoot(mine, "account-saved");
    assert.deepEqual(errors, [], "no script errors and no CSP violations in the pages");
  } finally {
    await browser?.close();
    await server.stop();
    await remote.close();
  }
});
