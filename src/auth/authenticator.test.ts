import { test } from "node:test";
import assert from "node:assert/strict";
import { createMemoryLogger } from "../observability/log.js";
import { asAccountId, StoreError } from "../store/index.js";
import type { Account, AccountStore } from "../store/index.js";
import { AuthThrottle } from "./auth-throttle.js";
import { Authenticator } from "./authenticator.js";
import { hashPassword } from "./password-hash.js";
import type { SaslCredentials } from "./sasl/mechanism.js";

const hashParams = { memoryCost: 64, timeCost: 1, parallelism: 1 };
const PASSWORD = "correct horse battery staple";
const context = { remoteAddress: "192.0.2.10", protocol: "imap" as const, tls: true };

async function fixture(options: { findAccountByAddress?: AccountStore["findAccountByAddress"]; lockoutThresholdIp?: number } = {}) {
  const account: Account = {
    id: asAccountId(1),
    address: "alice@example.org",
    passwordHash: await hashPassword(PASSWORD, { params: hashParams }),
    quotaBytes: null,
    usedBytes: 0,
    pop3: { mode: "keep", markSeen: false, loginDelaySeconds: null, expireDays: null },
    createdAt: new Date(0),
  };
  const lookups: string[] = [];
  const accounts = {
    findAccountByAddress:
      options.findAccountByAddress ??
      (async (address: string) => {
        lookups.push(address);
        if (!address.includes("@")) throw new StoreError("INVALID", "not an address");
        return address.toLowerCase() === account.address ? account : null;
      }),
  };
  const log = createMemoryLogger();
  const sleeps: number[] = [];
  let now = 0;
  const throttle = new AuthThrottle({ clock: () => now, lockoutThresholdIp: options.lockoutThresholdIp ?? 10 });
  const authenticator = new Authenticator({ accounts, throttle, log, hashParams, sleep: async (ms) => void sleeps.push(ms) });
  return { authenticator, account, log, sleeps, lookups, advance: (ms: number) => (now += ms) };
}

test("the right password logs in, without any delay", async () => {
  const { authenticator, account, log, sleeps } = await fixture();
  const result = await authenticator.authenticate({ ...context, username: "Alice@example.org", password: PASSWORD });
  assert.deepEqual(result, { ok: true, account, credential: "password" });
  assert.deepEqual(sleeps, []);
  assert.equal(log.records.length, 1);
  assert.equal(log.records[0]!.event, "auth.success");
  assert.equal(log.records[0]!.username, "Alice@example.org");
  assert.equal(log.records[0]!.remoteAddress, "192.0.2.10");
  assert.equal(log.records[0]!.protocol, "imap");
});

test("a wrong password and an unknown user get the same answer and the failure delay", async () => {
  const { authenticator, log, sleeps } = await fixture();
  const wrong = await authenticator.authenticate({ ...context, username: "alice@example.org", password: "Tr0ub4dor&3" });
  const unknown = await authenticator.authenticate({ ...context, username: "mallory@example.org", password: "Tr0ub4dor&3" });
  const notAnAddress = await authenticator.authenticate({ ...context, username: "root", password: "toor" });
  const empty = await authenticator.authenticate({ ...context, username: "", password: "" });
  for (const result of [wrong, unknown, notAnAddress, empty]) assert.deepEqual(result, { ok: false, reason: "invalid-credentials" });
  assert.deepEqual(sleeps, [200, 400, 800, 1600]);
  assert.deepEqual(
    log.records.map((r) => [r.event, r.reason]),
    [
      ["auth.failure", "wrong-password"],
      ["auth.failure", "unknown-user"],
      ["auth.failure", "unknown-user"],
      ["auth.failure", "unknown-user"],
    ],
  );
});

test("once throttled, even the right password is refused without a store lookup", async () => {
  const { authenticator, lookups, advance } = await fixture({ lockoutThresholdIp: 3 });
  for (let i = 0; i < 3; i += 1) await authenticator.authenticate({ ...context, username: "alice@example.org", password: `guess ${i}` });
  const before = lookups.length;
  const refused = await authenticator.authenticate({ ...context, username: "alice@example.org", password: PASSWORD });
  assert.equal(refused.ok, false);
  assert.equal(!refused.ok && refused.reason, "throttled");
  assert.ok(!refused.ok && refused.retryAfterMs !== undefined && refused.retryAfterMs > 0);
  assert.equal(lookups.length, before);
  advance(15 * 60_000);
  assert.equal((await authenticator.authenticate({ ...context, username: "alice@example.org", password: PASSWORD })).ok, true);
});

test("a failing store is a temporary failure, not a wrong password", async () => {
  const { authenticator, log, sleeps } = await fixture({
    findAccountByAddress: async () => {
      throw new StoreError("UNAVAILABLE", "database is locked");
    },
  });
  const result = await authenticator.authenticate({ ...context, username: "alice@example.org", password: PASSWORD });
  assert.deepEqual(result, { ok: false, reason: "temporary-failure" });
  assert.deepEqual(sleeps, []);
  assert.equal(log.records[0]!.level, "error");
  assert.equal(log.records[0]!.reason, "temporary-failure");
});

test("SASL credentials authenticate through the same path", async () => {
  const { authenticator, account } = await fixture();
  const credentials: SaslCredentials = { kind: "password", authcid: "alice@example.org", authzid: null, password: PASSWORD };
  assert.deepEqual(await authenticator.authenticateSasl(credentials, { ...context, protocol: "smtp" }), { ok: true, account, credential: "password" });
  assert.equal((await authenticator.authenticateSasl({ ...credentials, password: "nope" }, context)).ok, false);
});

test("no log record ever contains a password", async () => {
  const { authenticator, log } = await fixture({ lockoutThresholdIp: 2 });
  const secrets = [PASSWORD, "wrong-secret-1", "wrong-secret-2", "wrong-secret-3"];
  await authenticator.authenticate({ ...context, username: "alice@example.org", password: secrets[0]! });
  await authenticator.authenticate({ ...context, username: "alice@example.org", password: secrets[1]! });
  await authenticator.authenticate({ ...context, username: "nobody@example.org", password: secrets[2]! });
  await authenticator.authenticate({ ...context, username: "alice@example.org", password: secrets[3]! });
  assert.equal(log.records.length, 4);
  const text = JSON.stringify(log.records);
  for (const secret of secrets) assert.ok(!text.includes(secret), secret);
  assert.ok(!text.includes("$argon2"));
});
