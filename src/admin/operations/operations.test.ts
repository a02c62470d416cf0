import { test, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { verifyPassword } from "../../auth/index.js";
import { cheapHash, openTempStore, type TempStore } from "../../../test/harness/temp-store.js";
import { AdminError, createAdminOperations, type AdminOperations } from "./index.js";

let temp: TempStore;
let ops: AdminOperations;
beforeEach(async () => {
  temp = await openTempStore();
  ops = createAdminOperations({ accounts: temp.store, hashPassword: cheapHash, defaultPop3Policy: { mode: "delete-after-retrieve" } });
});
afterEach(() => temp.cleanup());

const rejects = (promise: Promise<unknown>, kind: AdminError["kind"], text?: RegExp) =>
  assert.rejects(promise, (err: unknown) => err instanceof AdminError && err.kind === kind && (!text || text.test(err.message)));

test("a user needs its domain first, and gets the default folders and POP3 policy", async () => {
  await rejects(ops.addUser({ address: "alice@example.org", password: "long enough pw" }), "not-found", /domain add example\.org/);
  await ops.addDomain("Example.ORG.");
  const view = await ops.addUser({ address: "Alice@example.org", password: "long enough pw", quotaBytes: 1024 ** 3 });
  assert.equal(view.address, "alice@example.org");
  assert.equal(view.pop3.mode, "delete-after-retrieve");
  const account = await temp.store.findAccountByAddress("alice@example.org");
  assert.ok(account && (await verifyPassword(account.passwordHash, "long enough pw")));
  assert.ok(!JSON.stringify(view).includes(account.passwordHash), "views never carry the hash");
  const names = (await temp.store.listMailboxes(account.id)).map((m) => m.name).sort();
  assert.deepEqual(names, ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]);
});

test("bad names and weak passwords are refused with the reason", async () => {
  await rejects(ops.addDomain("not a domain"), "invalid-argument");
  await rejects(ops.addDomain("-bad-.example"), "invalid-argument");
  await ops.addDomain("example.org");
  await rejects(ops.addUser({ address: "no-at-sign", password: "long enough pw" }), "invalid-argument");
  await rejects(ops.addUser({ address: "a b@example.org", password: "long enough pw" }), "invalid-argument");
  await rejects(ops.addUser({ address: "bob@example.org", password: "short" }), "invalid-argument", /at least 8/);
  await rejects(ops.addUser({ address: "bob@example.org", password: "with\nnewline ok" }), "invalid-argument", /control/);
  assert.deepEqual(await ops.listUsers(), []);
});

test("passwords change, and duplicates and clashes with aliases are refused", async () => {
  await ops.addDomain("example.org");
  await ops.addUser({ address: "bob@example.org", password: "first password" });
  await rejects(ops.addUser({ address: "BOB@example.org", password: "first password" }), "conflict");
  await ops.setPassword("bob@example.org", "second password");
  const account = await temp.store.findAccountByAddress("bob@example.org");
  assert.ok(account && (await verifyPassword(account.passwordHash, "second password")));
  assert.equal(await verifyPassword(account.passwordHash, "first password"), false);
  await ops.addAlias("info@example.org", ["bob@example.org"]);
  await rejects(ops.addUser({ address: "info@example.org", password: "long enough pw" }), "conflict", /alias/);
  await rejects(ops.addAlias("bob@example.org", ["bob@example.org"]), "conflict", /user/);
  await rejects(ops.addAlias("x@example.org", ["ghost@example.org"]), "not-found");
});

test("aliases, catch-alls and domain deletion", async () => {
  await ops.addDomain("example.org");
  await ops.addUser({ address: "a@example.org", password: "long enough pw" });
  await ops.addUser({ address: "b@example.org", password: "long enough pw" });
  await ops.addAlias("team@example.org", ["a@example.org", "b@example.org"]);
  await ops.addAlias("@example.org", ["a@example.org"]);
  const listed = (await ops.listAliases()).map((a) => `${a.address}=${[...a.targets].sort().join(",")}`).sort();
  assert.deepEqual(listed, ["@example.org=a@example.org", "team@example.org=a@example.org,b@example.org"]);
  await ops.deleteAlias("team@example.org", ["b@example.org"]);
  assert.deepEqual((await ops.listAliases()).find((a) => a.address === "team@example.org")?.targets, ["a@example.org"]);
  await rejects(ops.deleteDomain("example.org"), "refused", /users or aliases/);
  await ops.deleteAlias("team@example.org");
  await ops.deleteAlias("@example.org");
  await ops.deleteUser("a@example.org");
  await ops.deleteUser("b@example.org");
  await ops.deleteDomain("example.org");
  assert.deepEqual(await ops.listDomains(), []);
});

test("quotas and POP3 policy are set per account", async () => {
  await ops.addDomain("example.org");
  await ops.addUser({ address: "q@example.org", password: "long enough pw" });
  assert.equal((await ops.setQuota("q@example.org", 5000)).quotaBytes, 5000);
  assert.equal((await ops.setQuota("q@example.org", null)).quotaBytes, null);
  await rejects(ops.setQuota("q@example.org", -1), "invalid-argument");
  await rejects(ops.setQuota("ghost@example.org", 10), "not-found");
  const view = await ops.setPop3Policy("q@example.org", { mode: "keep", markSeen: false });
  assert.deepEqual([view.pop3.mode, view.pop3.markSeen], ["keep", false]);
});

test("listUsersPage pages on the server, filters by domain and search, and refuses bad bounds", async () => {
  await ops.addDomain("example.org");
  await ops.addDomain("example.net");
  for (let i = 0; i < 25; i++) await temp.store.createAccount({ address: `user${String(i).padStart(2, "0")}@example.org`, passwordHash: "x", quotaBytes: null });
  await temp.store.createAccount({ address: "other@example.net", passwordHash: "x", quotaBytes: null });
  const first = await ops.listUsersPage({ limit: 10 });
  assert.equal(first.total, 26);
  assert.deepEqual(first.items.map((v) => v.address).slice(0, 2), ["other@example.net", "user00@example.org"]);
  const third = await ops.listUsersPage({ domain: "example.org", offset: 20, limit: 10 });
  assert.equal(third.total, 25);
  assert.deepEqual(third.items.map((v) => v.address), ["user20@example.org", "user21@example.org", "user22@example.org", "user23@example.org", "user24@example.org"]);
  const found = await ops.listUsersPage({ search: "USER1" });
  assert.equal(found.total, 10);
  await rejects(ops.listUsersPage({ limit: 0 }), "invalid-argument");
  await rejects(ops.listUsersPage({ limit: 10_000 }), "invalid-argument");
  await rejects(ops.listUsersPage({ offset: -1 }), "invalid-argument");
  await rejects(ops.tlsStatus(), "refused");
  await rejects(ops.serverStatus(), "refused");
});

test("two overlapping password changes never leave the older password's SCRAM keys current", async () => {
  const { currentScramKeys, scramKeysFor } = await import("../../auth/credentials.js");
  const store = temp.store;
  // The first change stops right after writing its hash until the second change is done, so the
  // first one stores its keys last, when the account already has the second change's hash.
  let gate: Promise<void> | null = null;
  let release = () => {};
  let held = () => {};
  const heldNow = new Promise<void>((resolve) => (held = resolve));
  const accounts = new Proxy(store, {
    get(target, name) {
      if (name === "setPasswordHash") {
        return async (address: string, hash: string) => {
          await target.setPasswordHash(address, hash);
          if (gate) {
            const wait = gate;
            gate = null;
            held();
            await wait;
          }
        };
      }
      const value: unknown = Reflect.get(target, name, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const withKeys = createAdminOperations({ accounts, hashPassword: cheapHash, authState: store });
  await withKeys.addDomain("example.org");
  await withKeys.addUser({ address: "carol@example.org", password: "first password" });
  gate = new Promise<void>((resolve) => (release = resolve));
  const first = withKeys.setPassword("carol@example.org", "password A long");
  await heldNow;
  await withKeys.setPassword("carol@example.org", "password B long");
  release();
  await first;

  const account = (await store.findAccountByAddress("carol@example.org"))!;
  assert.ok(await verifyPassword(account.passwordHash, "password B long"), "the second change's hash is the account's");
  const current = currentScramKeys(account, await store.getAccountAuth(account.id));
  assert.notEqual(current, await scramKeysFor(store, account, "password A long"), "the older password must not log in over SCRAM");
  assert.ok(current === null || current === (await scramKeysFor(store, account, "password B long")));
});
