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

test("app passwords, app-passwords-only, a disabled account, and SCRAM outcomes counted in the throttle", async () => {
  const { openTempStore, cheapHash } = await import("../../test/harness/temp-store.js");
  const { appPasswordSecretHash, scramKeysFor, storeMainScramKeys } = await import("./credentials.js");
  const temp = await openTempStore();
  try {
    const { store } = temp;
    await store.addDomain("example.org");
    const account = await store.createAccount({ address: "tim@example.org", passwordHash: await cheapHash(PASSWORD) });
    await storeMainScramKeys(store, account, PASSWORD);
    await store.addAppPassword(account.id, { name: "phone", protocols: ["imap"], secretHash: appPasswordSecretHash("app-secret-1")!, scramKeys: await scramKeysFor(store, account, "app-secret-1") });
    const log = createMemoryLogger();
    let now = 0;
    const throttle = new AuthThrottle({ clock: () => now, lockoutThresholdAccount: 3, lockoutThresholdIp: 100 });
    const authenticator = new Authenticator({ accounts: store, throttle, log, hashParams, authState: store, sleep: async () => {} });
    const locked: string[] = [];
    authenticator.onLockout = (a) => void locked.push(a.address);
    const login = (password: string, protocol: "imap" | "pop3" | "admin" = "imap") => authenticator.authenticate({ ...context, protocol, username: "tim@example.org", password });

    const byApp = await login("app-secret-1");
    assert.equal(byApp.ok && byApp.credential, "app:1");
    assert.equal((await login("app-secret-1", "pop3")).ok, false, "not made for POP3");
    assert.equal((await store.listAppPasswords(account.id))[0]?.lastUsedAddress, "192.0.2.10");

    await store.updateAccountAuth(account.id, { appPasswordsOnly: true });
    assert.equal((await login(PASSWORD)).ok, false, "main password refused on IMAP");
    assert.equal((await login(PASSWORD, "admin")).ok, true, "but not for the admin pages");
    assert.ok(log.records.some((e) => e.event === "auth.failure" && e.reason === "app-password-required"));
    await store.updateAccountAuth(account.id, { appPasswordsOnly: false });

    // SCRAM verdicts: a matched proof logs in; a failed one counts, and the third locks the account.
    const { passwordHashTag } = await import("./credentials.js");
    const scram = (credential: string | null, failure: "invalid-proof" | "nonce-mismatch" | null) =>
      authenticator.authenticateSasl({ kind: "scram", mechanism: "SCRAM-SHA-256", authcid: "tim@example.org", authzid: null, credential, failure, accountId: account.id, keyTag: passwordHashTag(account.passwordHash) }, context);
    assert.equal((await scram("password", null)).ok, true);
    for (const failure of ["invalid-proof", "nonce-mismatch", "invalid-proof"] as const) assert.deepEqual(await scram(null, failure), { ok: false, reason: "invalid-credentials" });
    assert.deepEqual(locked, ["tim@example.org"]);
    const refused = await authenticator.scramContext({ ...context, remoteAddress: "198.51.100.1" }, null)!.lookup("tim@example.org", "sha256");
    assert.deepEqual(refused, { kind: "refused", reason: "throttled" });
    await authenticator.unlock("tim@example.org");
    const lookup = await authenticator.scramContext({ ...context, remoteAddress: "198.51.100.1" }, null)!.lookup("tim@example.org", "sha256");
    assert.equal(lookup.kind === "credentials" && lookup.keys.map((k) => k.credential).join(","), "password,app:1");

    // Disabled (the admin's mark before the hash): no secret works, and SCRAM has no keys.
    await store.setPasswordHash("tim@example.org", `!${account.passwordHash}`);
    assert.equal((await login("app-secret-1")).ok, false);
    const none = await authenticator.scramContext(context, null)!.lookup("tim@example.org", "sha256");
    assert.equal(none.kind === "credentials" && none.keys.length, 0);
    // An unknown user gets the same fake salt every time.
    const a = await authenticator.scramContext(context, null)!.lookup("nobody@example.org", "sha1");
    const b = await authenticator.scramContext(context, null)!.lookup("nobody@example.org", "sha1");
    assert.ok(a.kind === "credentials" && b.kind === "credentials" && a.salt.equals(b.salt) && a.keys.length === 0);
    now += 1;
  } finally {
    await temp.cleanup();
  }
});

test("a SCRAM exchange fails at client-final when its secret was revoked, disabled or changed after client-first", async () => {
  const { openTempStore, cheapHash } = await import("../../test/harness/temp-store.js");
  const { ScramClient } = await import("../../test/harness/scram-client.js");
  const { appPasswordSecretHash, scramKeysFor, storeMainScramKeys } = await import("./credentials.js");
  const { SCRAM_SHA_256 } = await import("./sasl/scram.js");
  const { DEFAULT_SASL_LIMITS } = await import("./sasl/mechanism.js");
  const temp = await openTempStore();
  try {
    const { store } = temp;
    await store.addDomain("example.org");
    const authenticator = new Authenticator({ accounts: store, throttle: new AuthThrottle({ lockoutThresholdAccount: 100, lockoutThresholdIp: 100 }), log: createMemoryLogger(), hashParams, authState: store, sleep: async () => {} });
    let n = 0;
    const appSecret = (account: Account) => `app-secret-${account.id}`;
    const fresh = async () => {
      n += 1;
      const address = `user${n}@example.org`;
      const account = await store.createAccount({ address, passwordHash: await cheapHash(PASSWORD) });
      await storeMainScramKeys(store, account, PASSWORD);
      await store.addAppPassword(account.id, { name: "phone", protocols: ["imap"], secretHash: appPasswordSecretHash(appSecret(account))!, scramKeys: await scramKeysFor(store, account, appSecret(account)) });
      return account;
    };
    /** Runs client-first, then `meanwhile`, then client-final, and settles the exchange. */
    const exchange = async (address: string, password: string, meanwhile: () => Promise<unknown>) => {
      const mechanism = SCRAM_SHA_256.create(DEFAULT_SASL_LIMITS, authenticator.saslContext(context, null))!;
      const client = new ScramClient({ hash: "sha256", username: address, password });
      const first = await mechanism.start(Buffer.from(client.first()));
      assert.equal(first.kind, "challenge");
      await meanwhile();
      const final = await mechanism.next(Buffer.from(client.final(first.kind === "challenge" ? first.challenge.toString() : "")));
      if (final.kind !== "challenge") return final.kind === "done" ? authenticator.authenticateSasl(final.credentials, context) : { ok: false };
      const done = await mechanism.next(Buffer.alloc(0));
      assert.equal(done.kind, "done");
      return authenticator.authenticateSasl(done.kind === "done" ? done.credentials : (undefined as never), context);
    };
    const nothing = async () => {};

    // Control: both secrets log in when nothing changes in between.
    const a = await fresh();
    assert.equal((await exchange(a.address, PASSWORD, nothing)).ok, true);
    assert.equal((await exchange(a.address, appSecret(a), nothing)).ok, true);

    // The app password is revoked while the exchange is open.
    assert.equal((await exchange(a.address, appSecret(a), () => store.deleteAppPassword(a.id, "phone"))).ok, false, "revoked app password");

    // The account is disabled (the admin's mark before the hash): neither secret.
    const b = await fresh();
    assert.equal((await exchange(b.address, PASSWORD, () => store.setPasswordHash(b.address, `!${b.passwordHash}`))).ok, false, "disabled, main password");
    const c = await fresh();
    assert.equal((await exchange(c.address, appSecret(c), () => store.setPasswordHash(c.address, `!${c.passwordHash}`))).ok, false, "disabled, app password");

    // The password is changed (new hash, new keys): the old password's proof no longer counts.
    const d = await fresh();
    const changed = async () => {
      await store.setPasswordHash(d.address, await cheapHash("another password 2"));
      await storeMainScramKeys(store, (await store.findAccountByAddress(d.address))!, "another password 2");
    };
    assert.equal((await exchange(d.address, PASSWORD, changed)).ok, false, "password changed");

    // App passwords only is switched on: the main password stops on IMAP, the app password still works.
    const e = await fresh();
    assert.equal((await exchange(e.address, PASSWORD, () => store.updateAccountAuth(e.id, { appPasswordsOnly: true }))).ok, false, "app passwords only");
    assert.equal((await exchange(e.address, appSecret(e), nothing)).ok, true);
  } finally {
    await temp.cleanup();
  }
});

test("after auth.scram_iterations is raised, a PLAIN login moves the account to the new count, so server-first no longer tells it from an unknown name", async () => {
  const { openTempStore, cheapHash } = await import("../../test/harness/temp-store.js");
  const { ScramClient } = await import("../../test/harness/scram-client.js");
  const { appPasswordSecretHash, scramKeysFor, storeMainScramKeys } = await import("./credentials.js");
  const { SCRAM_SHA_256 } = await import("./sasl/scram.js");
  const { DEFAULT_SASL_LIMITS } = await import("./sasl/mechanism.js");
  const temp = await openTempStore();
  try {
    const { store } = temp;
    await store.addDomain("example.org");
    // Keys made under the old count (4096); the server now runs with 8192.
    const account = await store.createAccount({ address: "ivy@example.org", passwordHash: await cheapHash(PASSWORD) });
    await storeMainScramKeys(store, account, PASSWORD, 4096);
    const withApp = await store.createAccount({ address: "jay@example.org", passwordHash: await cheapHash(PASSWORD) });
    await storeMainScramKeys(store, withApp, PASSWORD, 4096);
    await store.addAppPassword(withApp.id, { name: "phone", protocols: ["imap"], secretHash: appPasswordSecretHash("jay-app-secret")!, scramKeys: await scramKeysFor(store, withApp, "jay-app-secret") });
    const authenticator = new Authenticator({ accounts: store, throttle: new AuthThrottle({ lockoutThresholdIp: 100 }), log: createMemoryLogger(), hashParams, authState: store, scramIterations: 8192, sleep: async () => {} });
    const iterationsOf = async (username: string) => {
      const lookup = await authenticator.scramContext(context, null)!.lookup(username, "sha256");
      return lookup.kind === "credentials" ? lookup.iterations : -1;
    };
    // Every stored account is at 4096: an unknown name is answered with a count accounts have
    // (FakeSalts.iterationsFor), not the configured 8192 that no account has yet.
    assert.equal(await iterationsOf("nobody@example.org"), 4096);
    assert.equal(await iterationsOf("ivy@example.org"), 4096, "before: the old count shows");

    assert.equal((await authenticator.authenticate({ ...context, username: "ivy@example.org", password: PASSWORD })).ok, true);
    assert.equal(await iterationsOf("ivy@example.org"), 8192, "after a PLAIN login: the configured count");
    assert.equal((await store.getAccountAuth(account.id)).scramIterations, 8192);
    // And SCRAM logs in with the keys derived at the new count.
    const mechanism = SCRAM_SHA_256.create(DEFAULT_SASL_LIMITS, authenticator.saslContext(context, null))!;
    const client = new ScramClient({ hash: "sha256", username: "ivy@example.org", password: PASSWORD });
    const first = await mechanism.start(Buffer.from(client.first()));
    assert.ok(first.kind === "challenge" && first.challenge.toString().endsWith(",i=8192"));
    const final = await mechanism.next(Buffer.from(client.final(first.challenge.toString())));
    assert.ok(final.kind === "challenge" && client.verifyServerFinal(final.challenge.toString()));
    const done = await mechanism.next(Buffer.alloc(0));
    assert.ok(done.kind === "done" && (await authenticator.authenticateSasl(done.credentials, context)).ok);

    // An account with SCRAM keys for an app password keeps its count (the app password's keys
    // cannot be derived again), and its app password still works over SCRAM; unknown names are
    // drawn from the stored counts, so the old count does not single it out (next test).
    assert.equal((await authenticator.authenticate({ ...context, username: "jay@example.org", password: PASSWORD })).ok, true);
    assert.equal(await iterationsOf("jay@example.org"), 4096);
  } finally {
    await temp.cleanup();
  }
});

test("SCRAM iteration-count oracle: unknown names get counts drawn from the stored ones, each name always the same", async () => {
  const { openTempStore } = await import("../../test/harness/temp-store.js");
  const temp = await openTempStore();
  try {
    const { store } = temp;
    await store.addDomain("example.org");
    // The operator raised auth.scram_iterations from 4096 to 10000: three accounts (SCRAM-only
    // clients) kept 4096, one moved. Unknown names answered with 10000 alone would stand out.
    for (const [name, iterations] of [["a", 4096], ["b", 4096], ["c", 4096], ["d", 10000]] as const) {
      const account = await store.createAccount({ address: `${name}@example.org`, passwordHash: "$argon2id$x" });
      await store.ensureScramParams(account.id, "c2FsdA==", iterations);
    }
    const authenticator = new Authenticator({ accounts: store, throttle: new AuthThrottle({ lockoutThresholdAccount: 1000, lockoutThresholdIp: 100_000 }), log: createMemoryLogger(), authState: store, scramIterations: 10000, sleep: async () => {} });
    const lookup = async (name: string) => {
      const result = await authenticator.scramContext(context, null)!.lookup(name, "sha256");
      assert.equal(result.kind, "credentials");
      return result.kind === "credentials" ? result.iterations : 0;
    };
    assert.equal(await lookup("a@example.org"), 4096, "a real account answers with its own count");
    const counts = new Map<number, number>();
    for (let i = 0; i < 400; i += 1) {
      const name = `nobody${i}@example.org`;
      const iterations = await lookup(name);
      assert.equal(await lookup(name), iterations, "the same name, the same count");
      counts.set(iterations, (counts.get(iterations) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), [10000, 4096], "only counts that accounts have");
    const old = counts.get(4096)! / 400;
    assert.ok(old > 0.6 && old < 0.9, `about 3 in 4 unknown names get the old count, as accounts do (${old})`);
  } finally {
    await temp.cleanup();
  }
});
