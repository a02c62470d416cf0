// The admin JSON API (/api/v1) of a whole composed server over real sockets (node fetch): the
// OpenAPI description against the routes fastify registered, every route called with a session,
// every authenticated route refused without one, CSRF, tokens, bad and oversized JSON (a clear 4xx
// and nothing changed), plain HTTP refused unless from loopback, and sign-in failures counted by
// the throttle the mail protocols use (a locked-out address cannot log in over IMAP either).
import { test } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_ROUTES, openApiDocument, registeredRoutes } from "../../src/http/admin-api.js";
import { hashPassword } from "../../src/auth/index.js";
import { CHEAP_HASH_PARAMS } from "../harness/temp-store.js";
import { startFullServer, type FullServer } from "../harness/full-server.js";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);
async function python(script: string): Promise<string> {
  return (await run("python3", ["-c", script], { timeout: 30_000 })).stdout;
}

// Answers are read loosely: each test asserts the fields it cares about.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

interface Client {
  base: string;
  cookie: string;
  csrf: string;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; json: Json; headers: Headers }>;
}

function client(base: string): Client {
  const self: Client = {
    base,
    cookie: "",
    csrf: "",
    async call(method, path, body, headers = {}) {
      const response = await fetch(base + path, {
        method,
        headers: { ...(self.cookie ? { cookie: self.cookie } : {}), ...(self.csrf ? { "x-csrf-token": self.csrf } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
        ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
        redirect: "manual",
      });
      const text = await response.text();
      let json: Json = null;
      try {
        json = text ? JSON.parse(text) : null;
      } catch {
        json = text;
      }
      const setCookie = response.headers.get("set-cookie");
      if (setCookie) self.cookie = setCookie.split(";")[0]!;
      return { status: response.status, json, headers: response.headers };
    },
  };
  return self;
}

async function withServer(extraToml: string, body: (server: FullServer, base: string) => Promise<void>, authToml = ""): Promise<void> {
  const server = await startFullServer({ extraToml: `${authToml}[http]\nhttp_port = 0\nhttps_port = 0\naddress = "127.0.0.1"\nadmin_body_limit = "2KiB"\n${extraToml}` });
  try {
    await server.server.store.webAuth!.addAdminUser("root", await hashPassword("correct horse battery", { params: CHEAP_HASH_PARAMS }), new Date());
    const port = server.server.http!.bound.find((b) => b.scheme === "http")!.port;
    await body(server, `http://127.0.0.1:${port}`);
  } finally {
    await server.stop();
  }
}

async function signIn(base: string): Promise<Client> {
  const c = client(base);
  const login = await c.call("POST", "/api/v1/session", { name: "root", password: "correct horse battery" });
  assert.equal(login.status, 200, JSON.stringify(login.json));
  assert.match(login.headers.get("set-cookie") ?? "", /^mailroom_admin=[A-Za-z0-9_-]{40,}; Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=Strict$/);
  c.csrf = login.json.csrfToken;
  return c;
}

const sample: Record<string, string> = { domain: "example.org", address: "alice%40example.org", alias: "info%40example.org", id: "1" };
const concrete = (path: string) => path.replace(/:([a-z]+)/g, (_, name: string) => sample[name] ?? "x");

test("OpenAPI: every route fastify registered under /api/v1 is described, and every described route is registered", async () => {
  await withServer("", async (server, base) => {
    const served = await (await fetch(`${base}/api/v1/openapi.json`)).json() as { paths: Record<string, Record<string, unknown>> };
    assert.deepEqual(served, JSON.parse(JSON.stringify(openApiDocument())));
    const described = new Set<string>();
    for (const [path, methods] of Object.entries(served.paths)) for (const method of Object.keys(methods)) described.add(`${method.toUpperCase()} /api/v1${path.replace(/\{([a-z]+)\}/g, ":$1")}`);
    const registered = registeredRoutes(await server.server.http!.routes());
    assert.ok(registered.size >= 30, `only ${registered.size} routes registered`);
    assert.deepEqual([...registered].sort(), [...described].sort());
  });
});

test("every authenticated route answers 401 without a session or with a wrong token; state changes without the CSRF token or from another Origin are 403 and change nothing", async () => {
  await withServer("", async (_server, base) => {
    const anonymous = client(base);
    for (const route of ADMIN_ROUTES.filter((r) => r.auth === "admin")) {
      const body = route.method === "POST" || route.method === "PUT" ? {} : undefined;
      const plain = await anonymous.call(route.method, `/api/v1${concrete(route.path)}`, body);
      assert.equal(plain.status, 401, `${route.method} ${route.path}: ${JSON.stringify(plain.json)}`);
      assert.equal(plain.json.error, "unauthenticated");
      const token = await anonymous.call(route.method, `/api/v1${concrete(route.path)}`, body, { authorization: "Bearer mrt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" });
      assert.equal(token.status, 401, `${route.method} ${route.path} with a wrong token`);
    }
    const wrong = await client(base).call("POST", "/api/v1/session", { name: "root", password: "wrong password" });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error, "invalid-credentials");
    assert.equal(wrong.headers.get("set-cookie"), null);
    const unknown = await client(base).call("POST", "/api/v1/session", { name: "nobody", password: "correct horse battery" });
    assert.equal(unknown.status, 401);

    const admin = await signIn(base);
    const csrf = admin.csrf;
    admin.csrf = "";
    const noCsrf = await admin.call("POST", "/api/v1/domains", { name: "example.com" });
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.json.error, "csrf");
    admin.csrf = "wrong-token";
    assert.equal((await admin.call("POST", "/api/v1/domains", { name: "example.com" })).status, 403);
    admin.csrf = csrf;
    const foreign = await admin.call("POST", "/api/v1/domains", { name: "example.com" }, { origin: "https://evil.example" });
    assert.equal(foreign.status, 403);
    assert.deepEqual((await admin.call("GET", "/api/v1/domains")).json, [], "nothing was added");
    assert.equal((await admin.call("GET", "/api/v1/session")).json.csrfToken, csrf, "reads need no CSRF token");
    assert.equal((await admin.call("POST", "/api/v1/domains", { name: "example.com" }, { origin: base })).status, 201, "the same Origin and the token: allowed");
    assert.equal((await admin.call("DELETE", "/api/v1/session")).status, 204);
    assert.equal((await admin.call("GET", "/api/v1/domains")).status, 401, "signed out");
  });
});

test("oversized, invalid and non-object JSON get a clear 4xx and change nothing", async () => {
  await withServer("", async (_server, base) => {
    const admin = await signIn(base);
    const big = await admin.call("POST", "/api/v1/domains", { name: "x".repeat(4096) + ".example" });
    assert.equal(big.status, 413, JSON.stringify(big.json));
    assert.equal(typeof big.json.message, "string");
    const broken = await admin.call("POST", "/api/v1/domains", '{"name": "example.com"');
    assert.equal(broken.status, 400);
    assert.match(broken.json.message, /JSON/i);
    const array = await admin.call("POST", "/api/v1/domains", '["example.com"]');
    assert.equal(array.status, 400);
    const text = await admin.call("POST", "/api/v1/domains", "name=example.com", { "content-type": "application/x-www-form-urlencoded" });
    assert.equal(text.status, 415);
    const typed = await admin.call("POST", "/api/v1/domains", { name: 42 });
    assert.equal(typed.status, 400);
    const badName = await admin.call("POST", "/api/v1/domains", { name: "not a domain" });
    assert.equal(badName.status, 400);
    const badUser = await admin.call("POST", "/api/v1/accounts", { address: "a@nowhere.example", password: "short" });
    assert.ok(badUser.status === 400 || badUser.status === 404, String(badUser.status));
    const badQuery = await admin.call("GET", "/api/v1/accounts?limit=100000");
    assert.equal(badQuery.status, 400);
    assert.equal((await admin.call("GET", "/api/v1/nothing-here")).status, 404);
    assert.deepEqual((await admin.call("GET", "/api/v1/domains")).json, []);
    assert.equal((await admin.call("GET", "/api/v1/accounts")).json.total, 0);
  });
});

test("every route works with a session: domains with DNS records, accounts, aliases, queue, TLS, status, stats, deliveries, admins, tokens", async () => {
  await withServer("", async (server, base) => {
    const admin = await signIn(base);
    const called = new Set<string>();
    const call = async (method: string, route: string, path: string, body?: unknown, expected = 200) => {
      const result = await admin.call(method, `/api/v1${path}`, body);
      assert.equal(result.status, expected, `${method} ${path}: ${JSON.stringify(result.json)}`);
      called.add(`${method} ${route}`);
      return result.json;
    };
    await call("GET", "/openapi.json", "/openapi.json");
    await call("GET", "/session", "/session");
    assert.equal((await call("POST", "/domains", "/domains", { name: "Example.org" }, 201)).name, "example.org");
    assert.deepEqual((await call("GET", "/domains", "/domains")).map((d: { name: string }) => d.name), ["example.org"]);
    const records = await call("GET", "/domains/:domain/dns", "/domains/example.org/dns");
    assert.ok(records.some((r: { type: string; zoneLine: string }) => r.type === "MX" && r.zoneLine === "example.org. 3600 IN MX 10 mx.example.org."));
    const check = await call("GET", "/domains/:domain/dns/check", "/domains/example.org/dns/check");
    assert.equal(check.checks.length, check.lines.length);
    assert.equal((await call("POST", "/domains/:domain/dkim/rotate", "/domains/example.org/dkim/rotate")).selectors.length, 2);
    await call("POST", "/accounts", "/accounts", { address: "alice@example.org", password: "alice password 1" }, 201);
    await call("POST", "/accounts", "/accounts", { address: "bob@example.org", password: "bob password 1", quotaBytes: 1_000_000 }, 201);
    const page = await call("GET", "/accounts", "/accounts?search=ali&limit=10");
    assert.deepEqual([page.total, page.items.map((a: { address: string }) => a.address)], [1, ["alice@example.org"]]);
    assert.equal((await call("GET", "/accounts/:address", "/accounts/bob%40example.org")).quotaBytes, 1_000_000);
    await call("POST", "/accounts/:address/password", "/accounts/alice%40example.org/password", { password: "alice password 2" }, 204);
    assert.equal((await call("POST", "/accounts/:address/disable", "/accounts/alice%40example.org/disable")).disabled, true);
    assert.equal((await call("POST", "/accounts/:address/enable", "/accounts/alice%40example.org/enable")).disabled, false);
    assert.equal((await call("PUT", "/accounts/:address/quota", "/accounts/alice%40example.org/quota", { storageBytes: 5_000_000, messages: 100 })).quotaSetting.messages, 100);
    assert.equal((await call("PUT", "/accounts/:address/pop3", "/accounts/alice%40example.org/pop3", { mode: "delete-after-retrieve" })).pop3.mode, "delete-after-retrieve");
    const login = await python(`import imaplib, ssl\nc = imaplib.IMAP4_SSL("127.0.0.1", ${server.portOf("imaps")}, ssl_context=ssl._create_unverified_context())\nprint(c.login("alice@example.org", "alice password 2")[0])\n`).catch((e: Error) => e.message);
    assert.match(String(login), /OK/, "the reset password works over IMAP");
    await call("POST", "/aliases", "/aliases", { alias: "@example.org", targets: ["alice@example.org"] }, 201);
    await call("POST", "/aliases", "/aliases", { alias: "info@example.org", targets: ["alice@example.org", "bob@example.org"] }, 201);
    assert.equal((await call("GET", "/aliases", "/aliases?domain=example.org")).length, 2);
    await call("DELETE", "/aliases/:alias", "/aliases/info%40example.org", undefined, 204);
    await call("DELETE", "/aliases/:alias", "/aliases/%40example.org", undefined, 204);
    // The queue: one message for a remote recipient, enqueued as submission would.
    const staged = await server.server.store.mail.stageMessage(Buffer.from("Subject: q\r\n\r\nbody\r\n"));
    const entry = await server.server.store.queue.enqueue({ message: staged, mailFrom: "alice@example.org", submittedBy: "alice@example.org", recipients: [{ address: "x@remote.invalid", notify: null, originalRecipient: null }], envelopeId: null, ret: null, bodyType: "7BIT", smtputf8: false });
    await server.server.store.queue.recordAttempt(entry.id, [], new Date(Date.now() + 3_600_000));
    assert.equal((await call("GET", "/queue", "/queue")).entries.length, 1);
    assert.equal((await call("GET", "/queue", "/queue?domain=remote.invalid&status=pending&limit=10")).entries[0].id, entry.id);
    assert.deepEqual((await call("GET", "/queue", "/queue?to=y%40remote.invalid")).entries, []);
    assert.equal((await call("GET", "/queue/:id", `/queue/${entry.id}`)).id, entry.id);
    assert.ok(new Date((await call("POST", "/queue/:id/hold", `/queue/${entry.id}/hold`)).nextAttemptAt).getUTCFullYear() >= 9000);
    const released = await call("POST", "/queue/:id/release", `/queue/${entry.id}/release`);
    assert.ok(new Date(released.nextAttemptAt).getTime() <= Date.now());
    // Leased by the worker at once (due now): retry/delete may meet "being delivered"; hold it first.
    await server.server.store.queue.recordAttempt(entry.id, [], new Date(Date.now() + 3_600_000));
    const retried = await admin.call("POST", `/api/v1/queue/${entry.id}/retry`);
    assert.ok(retried.status === 200 || retried.status === 409, JSON.stringify(retried.json));
    called.add("POST /queue/:id/retry");
    await waitUntil(async () => (await server.server.store.queue.getQueued(entry.id))?.leasedUntil === null || (await server.server.store.queue.getQueued(entry.id)) === null);
    await call("DELETE", "/queue/:id", `/queue/${entry.id}`, undefined, 204).catch(async () => {
      // The worker finished it first (the .invalid domain fails at once): nothing left to delete.
      assert.equal(await server.server.store.queue.getQueued(entry.id), null);
    });
    called.add("DELETE /queue/:id");
    const second = await server.server.store.queue.enqueue({ message: staged, mailFrom: "alice@example.org", submittedBy: "alice@example.org", recipients: [{ address: "y@remote.invalid", notify: null, originalRecipient: null }], envelopeId: null, ret: null, bodyType: "7BIT", smtputf8: false });
    await server.server.store.queue.recordAttempt(second.id, [], new Date(Date.now() + 3_600_000));
    await call("POST", "/queue/:id/bounce", `/queue/${second.id}/bounce`, { reason: "test" }, 204);
    assert.equal(await server.server.store.queue.getQueued(second.id), null, "a bounced entry is gone");
    await waitUntil(async () => (await python(`import imaplib, ssl\nc = imaplib.IMAP4_SSL("127.0.0.1", ${server.portOf("imaps")}, ssl_context=ssl._create_unverified_context())\nc.login("alice@example.org", "alice password 2")\nprint(c.select("INBOX")[1][0].decode())\n`)).trim() !== "0");
    const tls = await call("GET", "/tls", "/tls");
    assert.ok(tls.certificates.length >= 1);
    const status = await call("GET", "/status", "/status");
    assert.equal(status.pid, process.pid);
    const stats = await call("GET", "/stats", "/stats?minutes=30");
    assert.equal(stats.stepMs, 60_000);
    assert.ok(Array.isArray(stats.series.received));
    const log = await call("GET", "/deliveries", "/deliveries?event=failed");
    assert.ok(log.some((e: { to: string[]; detail: string }) => e.to.includes("y@remote.invalid") && /postmaster: test/.test(e.detail)), JSON.stringify(log));
    await call("POST", "/admins", "/admins", { name: "second", password: "second admin pw" }, 201);
    assert.deepEqual((await call("GET", "/admins", "/admins")).map((a: { name: string }) => a.name), ["root", "second"]);
    const token = await call("POST", "/tokens", "/tokens", { name: "ci", days: 1 }, 201);
    assert.match(token.token, /^mrt_/);
    assert.equal((await call("GET", "/tokens", "/tokens"))[0].admin, "root");
    // A script with the token: no cookie, no CSRF token.
    const script = client(base);
    const viaToken = await script.call("POST", "/api/v1/domains", { name: "example.net" }, { authorization: `Bearer ${token.token}` });
    assert.equal(viaToken.status, 201);
    await call("DELETE", "/domains/:domain", "/domains/example.net", undefined, 204);
    await call("DELETE", "/tokens/:id", `/tokens/${token.id}`, undefined, 204);
    assert.equal((await script.call("GET", "/api/v1/domains", undefined, { authorization: `Bearer ${token.token}` })).status, 401, "a revoked token is refused");
    // Passkeys (the ceremonies themselves: e2e/passkeys-api.test.ts and the browser test).
    assert.match(String((await call("POST", "/passkeys/session/options", "/passkeys/session/options", {})).challenge), /^[\w-]{16,}$/);
    await call("POST", "/passkeys/session", "/passkeys/session", {}, 400);
    assert.deepEqual(await call("GET", "/passkeys", "/passkeys"), []);
    await call("POST", "/passkeys/options", "/passkeys/options", {}, 400);
    await call("POST", "/passkeys", "/passkeys", { name: "key" }, 400);
    await call("DELETE", "/passkeys/:id", "/passkeys/999", undefined, 404);
    await call("DELETE", "/accounts/:address", "/accounts/bob%40example.org", undefined, 204);
    await call("POST", "/session", "/session", undefined, 400).catch(() => undefined);
    called.add("POST /session");
    await call("DELETE", "/session", "/session", undefined, 204);
    const missing = ADMIN_ROUTES.map((r) => `${r.method} ${r.path}`).filter((r) => !called.has(r));
    assert.deepEqual(missing, [], "every route was called");
  });
});

test("plain HTTP is refused unless the client is on loopback; a trusted proxy's X-Forwarded-Proto https is accepted", async () => {
  await withServer('trusted_proxies = ["127.0.0.1/32"]\n', async (_server, base) => {
    const remote = await fetch(`${base}/api/v1/domains`, { headers: { "x-forwarded-for": "203.0.113.9" } });
    assert.equal(remote.status, 403);
    assert.equal(((await remote.json()) as { error: string }).error, "https-required");
    const page = await fetch(`${base}/admin/login`, { headers: { "x-forwarded-for": "203.0.113.9" } });
    assert.equal(page.status, 403);
    const proxied = await fetch(`${base}/api/v1/domains`, { headers: { "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https" } });
    assert.equal(proxied.status, 401, "past the HTTPS rule: now it wants a session");
    assert.equal((await fetch(`${base}/api/v1/domains`)).status, 401, "loopback itself may use plain HTTP");
  });
});

test("failed admin sign-ins count in the throttle of the mail protocols: after the lockout, IMAP from that address is refused too", async () => {
  await withServer("", async (server, base) => {
    await server.server.store.accounts.addDomain("example.org");
    const { createAdminOperations } = await import("../../src/admin/operations/index.js");
    await createAdminOperations({ accounts: server.server.store.accounts, hashPassword: (p) => hashPassword(p, { params: CHEAP_HASH_PARAMS }) }).addUser({ address: "alice@example.org", password: "alice password 1" });
    let last = 0;
    for (let i = 0; i < 40 && last !== 429; i++) {
      const attempt = await client(base).call("POST", "/api/v1/session", { name: "root", password: `wrong ${i}` });
      last = attempt.status;
      assert.ok(last === 401 || last === 429, String(last));
    }
    assert.equal(last, 429, "the admin sign-in is locked out");
    const locked = await client(base).call("POST", "/api/v1/session", { name: "root", password: "correct horse battery" });
    assert.equal(locked.status, 429, "even the right password, while locked out");
    const imap = await python(`import imaplib, ssl\nc = imaplib.IMAP4_SSL("127.0.0.1", ${server.portOf("imaps")}, ssl_context=ssl._create_unverified_context())\ntry:\n  c.login("alice@example.org", "alice password 1")\n  print("OK")\nexcept Exception as e:\n  print("NO", e)\n`);
    assert.match(imap, /^NO .*UNAVAILABLE/, `IMAP from the same address is throttled too: ${imap}`);
  }, 'throttle_base_delay = "10ms"\nthrottle_max_delay = "20ms"\nthrottle_lockout_ip = 5\n');
});

async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
