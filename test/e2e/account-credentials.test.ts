// The account page's app passwords and two-step sign-in (/account/api, http/account-credentials.ts)
// over real sockets against a whole composed server: an app password made from the page (the
// current password asked again) is shown once, logs in over IMAP, is listed with its last use and
// address, and revoking it from the page ends the IMAP session at once; TOTP is set up from the
// page (QR code and otpauth URI, recovery codes once), confirmed with a code, then required at
// sign-in, and turned off again only with the password and a code. Bad input: clear 4xx, nothing made.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createAdminOperations } from "../../src/admin/operations/index.js";
import { hashPassword } from "../../src/auth/index.js";
import { base32Decode, hotp, timeStep } from "../../src/auth/totp.js";
import { startFullServer } from "../harness/full-server.js";
import { RawImapClient } from "../harness/imap-raw-client.js";
import { CHEAP_HASH_PARAMS } from "../harness/temp-store.js";
import { webSession } from "../harness/web-session.js";

type Json = Record<string, unknown>;


test("account page: app passwords made, used over IMAP, listed with last use, revoked (the IMAP session ends); TOTP set up, required, turned off", async () => {
  const server = await startFullServer({ extraToml: '[tls]\nallow_plaintext_auth_on_loopback = true\n[http]\nhttp_port = 0\nhttps_port = 0\naddress = "127.0.0.1"\nadmin_body_limit = "4KiB"\n' });
  try {
    const ops = createAdminOperations({ accounts: server.server.store.accounts, hashPassword: (p) => hashPassword(p, { params: CHEAP_HASH_PARAMS }) });
    await ops.addDomain("example.org");
    await ops.addUser({ address: "alice@example.org", password: "alice password 1" });
    const port = server.server.http!.bound.find((b) => b.scheme === "http")!.port;
    const base = `http://127.0.0.1:${port}`;
    const a = webSession(base);
    const login = await a.call("POST", "/account/api/session", { address: "alice@example.org", password: "alice password 1" });
    assert.equal(login.status, 200);
    a.state.csrf = String(login.json!.csrfToken);

    // --- App passwords -------------------------------------------------------------------------
    const page = await (await fetch(`${base}/account`, { headers: { cookie: a.state.cookie } })).text();
    assert.match(page, /<h2 id="app-h">App passwords<\/h2>/);
    assert.match(page, /No app passwords yet/);
    assert.equal((await a.call("POST", "/account/api/app-passwords", { name: "phone", current: "wrong password" })).status, 403, "the current password is asked again");
    assert.equal((await a.call("POST", "/account/api/app-passwords", { name: "phone" })).status, 400, "no current password");
    assert.equal((await a.call("POST", "/account/api/app-passwords", { name: "bad/name", current: "alice password 1" })).status, 400);
    assert.equal((await a.call("POST", "/account/api/app-passwords", { name: "phone", current: "alice password 1", protocols: ["gopher"] })).status, 400);
    assert.equal((await a.call("POST", "/account/api/app-passwords", { name: "phone", current: "alice password 1", protocols: "imap" })).status, 400);
    assert.equal((await a.call("POST", "/account/api/app-passwords", '{"name": "phone"')).status, 400, "broken JSON");
    const csrf = a.state.csrf;
    a.state.csrf = "";
    assert.equal((await a.call("POST", "/account/api/app-passwords", { name: "phone", current: "alice password 1" })).status, 403, "no CSRF token");
    a.state.csrf = csrf;
    assert.deepEqual((await a.call("GET", "/account/api/app-passwords")).json, [], "nothing refused made one");

    const made = await a.call("POST", "/account/api/app-passwords", { name: "phone", current: "alice password 1", protocols: ["imap", "smtp"] });
    assert.equal(made.status, 201, JSON.stringify(made.json));
    const secret = String(made.json!.password);
    assert.ok(secret.length >= 16);
    assert.deepEqual(made.json!.protocols, ["imap", "smtp"]);
    assert.equal((await a.call("POST", "/account/api/app-passwords", { name: "phone", current: "alice password 1" })).status, 409, "names are unique");

    const imap = await RawImapClient.open(server.portOf("imap"));
    imap.take();
    assert.match(await imap.command("a", `LOGIN alice@example.org "${secret}"`), /^a OK/m, "the app password logs in over IMAP");
    const listed = (await a.call("GET", "/account/api/app-passwords")).json as unknown as Json[];
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.name, "phone");
    assert.equal(listed[0]!.lastUsedAddress, "127.0.0.1");
    assert.ok(listed[0]!.lastUsedAt, "the last use is listed");
    assert.equal(listed[0]!.password, undefined, "never the secret again");
    assert.equal(JSON.stringify(listed).includes(secret), false);
    const shown = await (await fetch(`${base}/account`, { headers: { cookie: a.state.cookie } })).text();
    assert.match(shown, /<td data-label="Name">phone<\/td><td data-label="Protocols">imap, smtp<\/td>/);
    assert.match(shown, /from 127\.0\.0\.1/);
    assert.equal(shown.includes(secret), false);

    assert.equal((await a.call("DELETE", "/account/api/app-passwords/nothing")).status, 404);
    const revoked = await a.call("DELETE", "/account/api/app-passwords/phone");
    assert.equal(revoked.status, 200, JSON.stringify(revoked.json));
    assert.equal(revoked.json!.sessionsEnded, 1);
    assert.ok(await imap.closedWithin(10_000), "the IMAP session that used it ended at once");
    const again = await RawImapClient.open(server.portOf("imap"));
    again.take();
    assert.match(await again.command("a", `LOGIN alice@example.org "${secret}"`), /^a NO/m, "a revoked app password no longer logs in");
    again.socket.destroy();

    // --- TOTP ----------------------------------------------------------------------------------
    assert.deepEqual((await a.call("GET", "/account/api/totp")).json, { enabled: false });
    assert.equal((await a.call("POST", "/account/api/totp", { current: "wrong password" })).status, 403);
    if (Date.now() % 30_000 > 25_000) await new Promise((resolve) => setTimeout(resolve, 30_000 - (Date.now() % 30_000) + 200));
    const enrolled = await a.call("POST", "/account/api/totp", { current: "alice password 1" });
    assert.equal(enrolled.status, 200, JSON.stringify(enrolled.json));
    assert.match(String(enrolled.json!.uri), /^otpauth:\/\/totp\/mx\.example\.org:alice%40example\.org\?secret=[A-Z2-7]+&issuer=mx\.example\.org/);
    assert.match(String(enrolled.json!.qr), /^data:image\/svg\+xml;base64,/);
    assert.match(Buffer.from(String(enrolled.json!.qr).split(",")[1]!, "base64").toString(), /<svg[^>]*>/);
    const recovery = enrolled.json!.recoveryCodes as string[];
    assert.equal(recovery.length, 10);
    const key = base32Decode(String(enrolled.json!.secret))!;
    const step = timeStep(Date.now() / 1000);
    assert.equal((await a.call("POST", "/account/api/totp/confirm", { code: "000000" === hotp(key, step) ? "111111" : "000000" })).status, 400, "a wrong code does not confirm");
    assert.equal((await a.call("POST", "/account/api/totp/confirm", { code: hotp(key, step - 1) })).status, 200);
    const status = (await a.call("GET", "/account/api/totp")).json!;
    assert.equal(status.enabled, true);
    assert.equal(status.confirmed, true);
    assert.equal(status.recoveryCodesLeft, 10);
    assert.equal((await a.call("POST", "/account/api/totp", { current: "alice password 1" })).status, 409, "a confirmed factor is not replaced in place");

    const b = webSession(base);
    const noCode = await b.call("POST", "/account/api/session", { address: "alice@example.org", password: "alice password 1" });
    assert.equal(noCode.json!.error, "code-required");
    const withRecovery = await b.call("POST", "/account/api/session", { address: "alice@example.org", password: "alice password 1", code: recovery[0] });
    assert.equal(withRecovery.status, 200, "a recovery code signs in");
    b.state.csrf = String(withRecovery.json!.csrfToken);
    assert.equal(((await b.call("GET", "/account/api/totp")).json!.recoveryCodesLeft), 9);

    assert.equal((await b.call("DELETE", "/account/api/totp", { current: "alice password 1" })).json!.error, "code-required", "off needs a code");
    assert.equal((await b.call("DELETE", "/account/api/totp", { current: "alice password 1", code: recovery[0] })).status, 403, "a used recovery code does not work again");
    const off = await b.call("DELETE", "/account/api/totp", { current: "alice password 1", code: hotp(key, Math.max(step, timeStep(Date.now() / 1000))) });
    assert.equal(off.status, 200, JSON.stringify(off.json));
    assert.deepEqual((await b.call("GET", "/account/api/totp")).json, { enabled: false });
    const plain = webSession(base);
    assert.equal((await plain.call("POST", "/account/api/session", { address: "alice@example.org", password: "alice password 1" })).status, 200, "the password alone signs in again");
  } finally {
    await server.stop();
  }
});
