// WebAuthn passkeys through the account and admin APIs (auth/webauthn.ts) against a whole composed
// server, with a software authenticator (test/harness/soft-authenticator.ts) that can also forge:
// a passkey registered while signed in (password asked again) signs in; a replayed registration or
// assertion, a bad signature, another origin or RP ID, a counter that went back, no user
// verification, an unknown challenge or credential, and an account's passkey at the admin sign-in
// are all refused and counted as failed logins (the /metrics counter, and the throttle's lock-out).
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createAdminOperations } from "../../src/admin/operations/index.js";
import { hashPassword } from "../../src/auth/index.js";
import { startFullServer } from "../harness/full-server.js";
import { SoftAuthenticator } from "../harness/soft-authenticator.js";
import { CHEAP_HASH_PARAMS } from "../harness/temp-store.js";
import { webSession } from "../harness/web-session.js";

type Json = Record<string, unknown>;


test("passkeys over the APIs: register and sign in with a software authenticator; forged, replayed and malformed assertions refused and counted", async () => {
  const server = await startFullServer({ authToml: 'throttle_base_delay = "10ms"\nthrottle_max_delay = "20ms"\nthrottle_lockout_account = 8\nthrottle_lockout_ip = 1000' });
  try {
    const ops = createAdminOperations({ accounts: server.server.store.accounts, hashPassword: (p) => hashPassword(p, { params: CHEAP_HASH_PARAMS }) });
    await ops.addDomain("example.org");
    await ops.addUser({ address: "alice@example.org", password: "alice password 1" });
    await server.server.store.webAuth!.addAdminUser("root", await hashPassword("root password 1", { params: CHEAP_HASH_PARAMS }), new Date());
    const port = server.server.http!.bound.find((b) => b.scheme === "http")!.port;
    const base = `http://127.0.0.1:${port}`;
    const failedWebauthn = async () => Number(/mailroom_logins_total\{protocol="http",mechanism="WEBAUTHN",result="failed"\} (\d+)/.exec(await (await fetch(`${base}/metrics`)).text())?.[1] ?? 0);

    const alice = webSession(base);
    const login = await alice.call("POST", "/account/api/session", { address: "alice@example.org", password: "alice password 1" });
    alice.state.csrf = String(login.json!.csrfToken);
    const key = new SoftAuthenticator("127.0.0.1", base);

    // Registration: options need the password again; the answer is checked and stored once.
    assert.equal((await alice.call("POST", "/account/api/passkeys/options", { current: "wrong" })).status, 403);
    const creation = await alice.call("POST", "/account/api/passkeys/options", { current: "alice password 1" });
    assert.equal(creation.status, 200, JSON.stringify(creation.json));
    assert.equal((creation.json!.rp as Json).id, "127.0.0.1");
    assert.equal((creation.json!.authenticatorSelection as Json).userVerification, "required");
    const challenge = String(creation.json!.challenge);
    assert.equal((await alice.call("POST", "/account/api/passkeys", { name: "soft", response: key.register(challenge, { origin: "https://evil.example" }) })).status, 400, "another origin's registration is refused");
    const again = await alice.call("POST", "/account/api/passkeys/options", { current: "alice password 1" });
    const registration = key.register(String(again.json!.challenge));
    const added = await alice.call("POST", "/account/api/passkeys", { name: "soft", response: registration });
    assert.equal(added.status, 201, JSON.stringify(added.json));
    assert.equal(added.json!.name, "soft");
    assert.equal((await alice.call("POST", "/account/api/passkeys", { name: "soft2", response: registration })).status, 400, "a registration is used once");
    const listed = (await alice.call("GET", "/account/api/passkeys")).json as unknown as Json[];
    assert.deepEqual(listed.map((k) => k.name), ["soft"]);
    assert.equal(JSON.stringify(listed).includes("publicKey"), false, "never the key");
    assert.match(await (await fetch(`${base}/account`, { headers: { cookie: alice.state.cookie } })).text(), /<td data-label="Name">soft<\/td>/);

    // Sign-in with it.
    const b = webSession(base);
    const options = async (path = "/account/api/passkey-session/options") => String((await b.call("POST", path, {})).json!.challenge);
    const first = await options();
    const assertion = key.assert(first);
    const signedIn = await b.call("POST", "/account/api/passkey-session", { response: assertion });
    assert.equal(signedIn.status, 200, JSON.stringify(signedIn.json));
    assert.equal(signedIn.json!.address, "alice@example.org");
    b.state.csrf = String(signedIn.json!.csrfToken);
    assert.equal((await b.call("GET", "/account/api/me")).json!.address, "alice@example.org", "the passkey's session works");
    const used = (await alice.call("GET", "/account/api/passkeys")).json as unknown as Json[];
    assert.ok(used[0]!.lastUsedAt, "the last use is listed");

    // Bad input: a clear 400 for what is not an assertion at all.
    const c = webSession(base);
    assert.equal((await c.call("POST", "/account/api/passkey-session", {})).status, 400);
    assert.equal((await c.call("POST", "/account/api/passkey-session", { response: "nope" })).status, 400);
    assert.equal((await c.call("POST", "/account/api/passkey-session", '{"response": ')).status, 400);
    // Refused assertions: each a 401, each counted.
    const before = await failedWebauthn();
    const refusals: [string, () => Promise<Json>][] = [
      ["replayed", async () => assertion],
      ["unknown challenge", async () => key.assert(randomBytes(32).toString("base64url"))],
      ["bad signature", async () => key.assert(await options(), { badSignature: true })],
      ["another origin", async () => key.assert(await options(), { origin: "https://evil.example" })],
      ["another RP ID", async () => key.assert(await options(), { rpId: "evil.example" })],
      ["counter went back", async () => key.assert(await options(), { counter: 1 })],
      ["no user verification", async () => key.assert(await options(), { flags: 0x01 })],
      ["garbage clientDataJSON", async () => ({ ...key.assert(await options()), response: { clientDataJSON: "!!!", authenticatorData: "", signature: "" } })],
    ];
    for (const [what, make] of refusals) {
      const refused = await c.call("POST", "/account/api/passkey-session", { response: await make() });
      assert.equal(refused.status, 401, `${what}: ${JSON.stringify(refused.json)}`);
      assert.equal(refused.json!.error, "invalid-credentials", what);
    }
    const afterRefusals = await failedWebauthn();
    assert.equal(afterRefusals - before, refusals.length, "each refused assertion is a failed login in /metrics");
    // An account's passkey is not an admin's.
    const adminChallenge = String((await c.call("POST", "/api/v1/passkeys/session/options", {})).json!.challenge);
    assert.equal((await c.call("POST", "/api/v1/passkeys/session", { response: key.assert(adminChallenge) })).status, 401);
    assert.equal((await c.call("POST", "/api/v1/passkeys/session", { response: key.assert(await options()) })).status, 401, "an account challenge at the admin sign-in");
    // An unknown credential, again and again: counted until the throttle refuses outright.
    const stranger = new SoftAuthenticator("127.0.0.1", base);
    let status = 0;
    for (let n = 0; n < 12 && status !== 429; n += 1) status = (await c.call("POST", "/account/api/passkey-session", { response: stranger.assert(await options()) })).status;
    assert.equal(status, 429, "repeated refusals lock the sign-in out");

    // The admin side: register while signed in, then sign in with it.
    const root = webSession(base);
    root.state.csrf = String((await root.call("POST", "/api/v1/session", { name: "root", password: "root password 1" })).json!.csrfToken);
    const adminKey = new SoftAuthenticator("127.0.0.1", base);
    assert.equal((await root.call("POST", "/api/v1/passkeys/options", { password: "wrong" })).status, 403);
    const adminCreation = await root.call("POST", "/api/v1/passkeys/options", { password: "root password 1" });
    assert.equal((await root.call("POST", "/api/v1/passkeys", { name: "yubikey", response: adminKey.register(String(adminCreation.json!.challenge)) })).status, 201);
    const d = webSession(base);
    const adminLogin = await d.call("POST", "/api/v1/passkeys/session", { response: adminKey.assert(String((await d.call("POST", "/api/v1/passkeys/session/options", {})).json!.challenge)) });
    assert.equal(adminLogin.status, 200, JSON.stringify(adminLogin.json));
    assert.equal(adminLogin.json!.name, "root");
    assert.equal((await d.call("GET", "/api/v1/domains")).status, 200);
    const adminKeys = (await d.call("GET", "/api/v1/passkeys")).json as unknown as Json[];
    d.state.csrf = String(adminLogin.json!.csrfToken);
    assert.equal((await d.call("DELETE", `/api/v1/passkeys/${String(adminKeys[0]!.id)}`)).status, 204);
    const gone = await webSession(base).call("POST", "/api/v1/passkeys/session", { response: adminKey.assert(String((await d.call("POST", "/api/v1/passkeys/session/options", {})).json!.challenge)) });
    // An unknown credential is throttled under one shared name, locked out by the stranger above: 429 here.
    assert.ok(gone.status === 401 || gone.status === 429, `a removed passkey no longer signs in (${gone.status})`);
    assert.equal(await server.server.store.webAuth!.findWebAuthnCredential(adminKey.id), null);
  } finally {
    await server.stop();
  }
});
