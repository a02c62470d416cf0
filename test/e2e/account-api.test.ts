// Account self-service (/account/api) of a whole composed server over real sockets: sign-in with
// the mail password, CSRF on every change, bad and oversized JSON refused with nothing changed, a
// password change that IMAP then takes (and that signs the account's other browsers out), and
// forwarding saved from the page that the Sieve engine then applies to a message sent over SMTP.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createAdminOperations } from "../../src/admin/operations/index.js";
import { hashPassword } from "../../src/auth/index.js";
import { base32Decode, confirmTotp, enableTotp, hotp, timeStep } from "../../src/auth/totp.js";
import { startFullServer } from "../harness/full-server.js";
import { remoteMta } from "../harness/capture-mta.js";
import { CHEAP_HASH_PARAMS } from "../harness/temp-store.js";
import { webSession } from "../harness/web-session.js";

const run = promisify(execFile);
const python = async (script: string) => (await run("python3", ["-c", script], { timeout: 30_000 })).stdout;


test("account page API: sign-in, CSRF, bad JSON, password change then IMAP, other browsers signed out, forwarding through Sieve", async () => {
  const remote = await remoteMta();
  remote.accepting = true;
  const server = await startFullServer({ extraToml: `[http]\nhttp_port = 0\nhttps_port = 0\naddress = "127.0.0.1"\nadmin_body_limit = "2KiB"\n[outbound]\nroutes = { "remote.test" = "127.0.0.1:${remote.port}" }\nmta_sts = false\n` });
  try {
    const ops = createAdminOperations({ accounts: server.server.store.accounts, hashPassword: (p) => hashPassword(p, { params: CHEAP_HASH_PARAMS }) });
    await ops.addDomain("example.org");
    await ops.addUser({ address: "alice@example.org", password: "alice password 1" });
    await ops.addUser({ address: "bob@example.org", password: "bob password 1" });
    await server.server.store.webAuth!.addAdminUser("root", await hashPassword("root password 1", { params: CHEAP_HASH_PARAMS }), new Date());
    const port = server.server.http!.bound.find((b) => b.scheme === "http")!.port;
    const base = `http://127.0.0.1:${port}`;

    const page = await fetch(`${base}/account`, { redirect: "manual" });
    assert.equal(page.status, 303);
    assert.equal(page.headers.get("location"), "/account/login");

    const a = webSession(base);
    assert.equal((await a.call("POST", "/account/api/session", { address: "alice@example.org", password: "wrong" })).status, 401);
    assert.equal((await a.call("GET", "/account/api/me")).status, 401);
    const login = await a.call("POST", "/account/api/session", { address: "alice@example.org", password: "alice password 1" });
    assert.equal(login.status, 200);
    assert.match(login.setCookie ?? "", /^mailroom_account=[\w-]+; Path=\/account; Max-Age=\d+; HttpOnly; Secure; SameSite=Strict$/);
    a.state.csrf = String(login.json!.csrfToken);
    const me = await a.call("GET", "/account/api/me");
    assert.equal(me.json!.address, "alice@example.org");
    assert.equal(typeof me.json!.usedBytes, "number");

    // An admin session is not an account session, and the other way round.
    const admin = webSession(base);
    const adminLogin = await admin.call("POST", "/api/v1/session", { name: "root", password: "root password 1" });
    assert.equal(adminLogin.status, 200);
    assert.equal((await fetch(`${base}/account/api/me`, { headers: { cookie: admin.state.cookie } })).status, 401);
    assert.equal((await fetch(`${base}/api/v1/domains`, { headers: { cookie: a.state.cookie } })).status, 401);

    // A second browser of alice's, to be signed out by the change.
    const other = webSession(base);
    assert.equal((await other.call("POST", "/account/api/session", { address: "alice@example.org", password: "alice password 1" })).status, 200);

    const csrf = a.state.csrf;
    a.state.csrf = "";
    assert.equal((await a.call("POST", "/account/api/password", { current: "alice password 1", password: "alice password 2" })).status, 403, "no CSRF token");
    a.state.csrf = csrf;
    assert.equal((await a.call("POST", "/account/api/password", { current: "alice password 1", password: "alice password 2" }, { origin: "https://evil.example" })).status, 403, "a foreign Origin");
    assert.equal((await a.call("POST", "/account/api/password", '{"current": "alice password 1"')).status, 400, "broken JSON");
    assert.equal((await a.call("POST", "/account/api/password", { current: "alice password 1", password: "x".repeat(5000) })).status, 413, "oversized");
    assert.equal((await a.call("POST", "/account/api/password", { current: "wrong password", password: "alice password 2" })).status, 403, "the current password must be right");
    assert.equal((await a.call("POST", "/account/api/password", { current: "alice password 1", password: "short" })).status, 400, "too short");
    const imap = (password: string) => python(`
import imaplib, ssl
c = imaplib.IMAP4_SSL("127.0.0.1", ${server.portOf("imaps")}, ssl_context=ssl._create_unverified_context())
try:
    c.login("alice@example.org", "${password}")
    print("OK")
except imaplib.IMAP4.error as e:
    print("NO", e)
`);
    assert.match(await imap("alice password 1"), /^OK/, "nothing refused changed the password");
    const changed = await a.call("POST", "/account/api/password", { current: "alice password 1", password: "alice password 2" });
    assert.equal(changed.status, 200, JSON.stringify(changed.json));
    a.state.csrf = String(changed.json!.csrfToken);
    assert.match(await imap("alice password 2"), /^OK/);
    assert.match(await imap("alice password 1"), /^NO/);
    assert.equal((await other.call("GET", "/account/api/me")).status, 401, "the other browser was signed out");
    assert.equal((await a.call("GET", "/account/api/me")).status, 200, "this one stays signed in");

    // Forwarding elsewhere, keeping a copy: saved as alice's Sieve script and applied at delivery
    // (a redirect leaves through the outbound queue, to the remote MTA here).
    assert.equal((await a.call("PUT", "/account/api/filters", { forwardTo: "not an address" })).status, 400);
    const saved = await a.call("PUT", "/account/api/filters", { forwardTo: "carol@remote.test", keepCopy: true, vacation: { enabled: false } });
    assert.equal(saved.status, 200, JSON.stringify(saved.json));
    assert.equal(((await a.call("GET", "/account/api/me")).json!.filters as { forwardTo: string }).forwardTo, "carol@remote.test");
    const sent = await python(`
import smtplib
s = smtplib.SMTP("127.0.0.1", ${server.portOf("smtp")}, local_hostname="sender.test")
s.sendmail("carol@sender.test", ["alice@example.org"], "From: carol@sender.test\\r\\nTo: alice@example.org\\r\\nSubject: forward me\\r\\nMessage-ID: <fw1@sender.test>\\r\\n\\r\\nhello\\r\\n")
s.quit()
print("sent")
`);
    assert.match(sent, /sent/);
    const count = (user: string, password: string) => python(`
import imaplib, ssl
c = imaplib.IMAP4_SSL("127.0.0.1", ${server.portOf("imaps")}, ssl_context=ssl._create_unverified_context())
c.login("${user}", "${password}")
print(c.select("INBOX")[1][0].decode())
`);
    const end = Date.now() + 30_000;
    while (remote.messages.length < 1) {
      if (Date.now() > end) throw new Error("the forwarded copy never reached the remote MTA");
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.match(remote.messages[0]!, /Subject: forward me/);
    assert.equal(Number(await count("alice@example.org", "alice password 2")), 1, "alice kept a copy");
    assert.equal((await a.call("DELETE", "/account/api/session")).status, 204);
    assert.equal((await a.call("GET", "/account/api/me")).status, 401);
  } finally {
    await server.stop();
    await remote.close();
  }
});

test("account page sessions end with admin disable, password reset and delete (+ re-create of the address); a stale cookie changes nothing", async () => {
  const server = await startFullServer({ extraToml: `[http]\nhttp_port = 0\nhttps_port = 0\naddress = "127.0.0.1"\n` });
  try {
    // Operations without the web session store: what they change is caught at read time only.
    const local = createAdminOperations({ accounts: server.server.store.accounts, hashPassword: (p) => hashPassword(p, { params: CHEAP_HASH_PARAMS }) });
    await local.addDomain("example.org");
    await local.addUser({ address: "alice@example.org", password: "alice password 1" });
    await server.server.store.webAuth!.addAdminUser("root", await hashPassword("root password 1", { params: CHEAP_HASH_PARAMS }), new Date());
    const port = server.server.http!.bound.find((b) => b.scheme === "http")!.port;
    const base = `http://127.0.0.1:${port}`;
    const admin = webSession(base);
    const adminLogin = await admin.call("POST", "/api/v1/session", { name: "root", password: "root password 1" });
    assert.equal(adminLogin.status, 200);
    admin.state.csrf = String(adminLogin.json!.csrfToken);
    const signIn = async (password: string) => {
      const browser = webSession(base);
      const login = await browser.call("POST", "/account/api/session", { address: "alice@example.org", password });
      assert.equal(login.status, 200, JSON.stringify(login.json));
      browser.state.csrf = String(login.json!.csrfToken);
      assert.equal((await browser.call("GET", "/account/api/me")).status, 200);
      return browser;
    };
    const forwardTo = async (password: string) => {
      const browser = await signIn(password);
      return ((await browser.call("GET", "/account/api/me")).json!.filters as { forwardTo: string | null }).forwardTo;
    };
    const refused = async (browser: ReturnType<typeof webSession>, why: string) => {
      assert.equal((await browser.call("GET", "/account/api/me")).status, 401, why);
      assert.equal((await browser.call("PUT", "/account/api/filters", { forwardTo: "thief@remote.test", keepCopy: false })).status, 401, why);
      const page = await fetch(`${base}/account`, { headers: { cookie: browser.state.cookie }, redirect: "manual" });
      assert.equal(page.status, 303, why);
    };

    // Admin disable (API): the attacker's browser is out at once, and stays out after enable.
    const attacker = await signIn("alice password 1");
    assert.equal((await admin.call("POST", "/api/v1/accounts/alice@example.org/disable")).status, 200);
    await refused(attacker, "disabled");
    assert.equal((await admin.call("POST", "/api/v1/accounts/alice@example.org/enable")).status, 200);
    await refused(attacker, "the session was deleted, not just hidden while disabled");
    assert.equal(await forwardTo("alice password 1"), null, "nothing changed");

    // Admin password reset (API).
    const attacker2 = await signIn("alice password 1");
    assert.equal((await admin.call("POST", "/api/v1/accounts/alice@example.org/password", { password: "alice password 2" })).status, 204);
    await refused(attacker2, "password reset");
    assert.equal(await forwardTo("alice password 2"), null);

    // Disabled by operations that cannot reach the web sessions: refused when the cookie is used.
    const attacker3 = await signIn("alice password 2");
    await local.disableUser("alice@example.org");
    await refused(attacker3, "disabled (read-time check)");
    await local.enableUser("alice@example.org");

    // Delete and re-create the address (API): the old cookie never opens the new owner's account.
    const attacker4 = await signIn("alice password 2");
    assert.equal((await admin.call("DELETE", "/api/v1/accounts/alice@example.org")).status, 204);
    assert.equal((await admin.call("POST", "/api/v1/accounts", { address: "alice@example.org", password: "new owner pass 1" })).status, 201);
    await refused(attacker4, "deleted and re-created");

    // The same without the session deletion: the session is older than the account.
    const attacker5 = await signIn("new owner pass 1");
    await new Promise((resolve) => setTimeout(resolve, 20));
    await local.deleteUser("alice@example.org");
    await local.addUser({ address: "alice@example.org", password: "third owner 1" });
    await refused(attacker5, "deleted and re-created (read-time check)");
    assert.equal(await forwardTo("third owner 1"), null, "the new owner's filters are untouched");
  } finally {
    await server.stop();
  }
});

test("account page sign-in asks for the TOTP code when TOTP is on; a wrong code is a counted failure; a code works once", async () => {
  const server = await startFullServer({ authToml: 'throttle_base_delay = "10ms"\nthrottle_max_delay = "20ms"\nthrottle_lockout_account = 3\nthrottle_lockout_ip = 50' });
  try {
    const ops = createAdminOperations({ accounts: server.server.store.accounts, hashPassword: (p) => hashPassword(p, { params: CHEAP_HASH_PARAMS }) });
    await ops.addDomain("example.org");
    await ops.addUser({ address: "alice@example.org", password: "alice password 1" });
    await ops.addUser({ address: "bob@example.org", password: "bob password 1" });
    const authState = server.server.store.authState!;
    // Away from a step boundary, so "the current step" below stays current for the test's few seconds.
    if (Date.now() % 30_000 > 25_000) await new Promise((resolve) => setTimeout(resolve, 30_000 - (Date.now() % 30_000) + 200));
    const step = timeStep(Date.now() / 1000);
    const enroll = async (address: string) => {
      const account = (await server.server.store.accounts.findAccountByAddress(address))!;
      const enrollment = await enableTotp(authState, account, "mx.example.org");
      const secret = base32Decode(enrollment.secret)!;
      // Confirmed with the previous step's code (RFC 6238 §5.2: one step of drift), so the current and next steps are still unused.
      assert.equal(await confirmTotp(authState, account, hotp(secret, step - 1)), true);
      return { secret, recovery: enrollment.recoveryCodes };
    };
    const alice = await enroll("alice@example.org");
    const bob = await enroll("bob@example.org");
    const port = server.server.http!.bound.find((b) => b.scheme === "http")!.port;
    const base = `http://127.0.0.1:${port}`;
    const wrongCode = (secret: Buffer) => {
      const used = new Set([step - 1, step, step + 1].map((s) => hotp(secret, s)));
      for (let n = 0; ; n += 1) {
        const candidate = String(123456 + n).padStart(6, "0");
        if (!used.has(candidate)) return candidate;
      }
    };

    const page = await fetch(`${base}/account/login`);
    assert.match(await page.text(), /name="code"/, "the sign-in page has a code field");

    const a = webSession(base);
    const noCode = await a.call("POST", "/account/api/session", { address: "alice@example.org", password: "alice password 1" });
    assert.equal(noCode.status, 401);
    assert.equal(noCode.json!.error, "code-required");
    assert.equal(noCode.setCookie, null, "no session without the code");
    const badPassword = await a.call("POST", "/account/api/session", { address: "alice@example.org", password: "wrong password", code: hotp(alice.secret, step) });
    assert.equal(badPassword.status, 401);
    assert.equal(badPassword.json!.error, "invalid-credentials");
    const badCode = await a.call("POST", "/account/api/session", { address: "alice@example.org", password: "alice password 1", code: wrongCode(alice.secret) });
    assert.equal(badCode.status, 401);
    assert.equal(badCode.json!.error, "invalid-credentials");
    assert.equal(badCode.setCookie, null);
    assert.equal((await a.call("POST", "/account/api/session", { address: "alice@example.org", password: "alice password 1", code: 123456 })).status, 400, "a code must be a string");

    const login = await a.call("POST", "/account/api/session", { address: "alice@example.org", password: "alice password 1", code: hotp(alice.secret, step) });
    assert.equal(login.status, 200, JSON.stringify(login.json));
    assert.equal((await a.call("GET", "/account/api/me")).json!.address, "alice@example.org");
    const again = await webSession(base).call("POST", "/account/api/session", { address: "alice@example.org", password: "alice password 1", code: hotp(alice.secret, step) });
    assert.equal(again.status, 401, "a code is accepted once");
    assert.equal(again.json!.error, "invalid-credentials");
    const recovery = await webSession(base).call("POST", "/account/api/session", { address: "alice@example.org", password: "alice password 1", code: alice.recovery[0] });
    assert.equal(recovery.status, 200, "a recovery code signs in");
    assert.equal((await webSession(base).call("POST", "/account/api/session", { address: "alice@example.org", password: "alice password 1", code: alice.recovery[0] })).status, 401, "once");

    // Wrong codes with the right password are failed logins: bob (who never signed in from here) is
    // locked out after throttle_lockout_account of them, and then even the right code is refused.
    const b = webSession(base);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await b.call("POST", "/account/api/session", { address: "bob@example.org", password: "bob password 1", code: wrongCode(bob.secret) })).status);
    assert.deepEqual(statuses, [401, 401, 401]);
    assert.equal((await b.call("POST", "/account/api/session", { address: "bob@example.org", password: "bob password 1", code: hotp(bob.secret, step) })).status, 429, "the wrong codes were counted");
  } finally {
    await server.stop();
  }
});
