// Conformance: per-account authentication state (AuthStateStore, issue 22): account settings,
// the SCRAM salt set once, the TOTP compare-and-set, app passwords (unique names, lookup by
// secret hash, last use, deletion), and everything going with the account.
import assert from "node:assert/strict";
import { test } from "node:test";
import { EMPTY_ACCOUNT_AUTH, isStoreError } from "../index.js";
import { type OpenBackend, using } from "./fixture.js";

const HASH_A = "a".repeat(64);
const HASH_B = "b".repeat(64);

export function authStateContract(open: OpenBackend): void {
  test("account auth state: defaults, partial updates, salt set once, TOTP compare-and-set", using(open, async (fx) => {
    const store = fx.handles.authState;
    if (!store) return;
    const account = await fx.account("auth");
    assert.deepEqual(await store.getAccountAuth(account.id), EMPTY_ACCOUNT_AUTH);
    assert.equal(await store.updateAccountAuth(account.id, { appPasswordsOnly: true, scramKeys: "k", scramHashTag: "t" }), true);
    const state = await store.getAccountAuth(account.id);
    assert.equal(state.appPasswordsOnly, true);
    assert.equal(state.scramKeys, "k");
    assert.deepEqual(await store.ensureScramParams(account.id, "c2FsdA==", 4096), { salt: "c2FsdA==", iterations: 4096 });
    assert.deepEqual(await store.ensureScramParams(account.id, "b3RoZXI=", 8192), { salt: "c2FsdA==", iterations: 4096 }, "the first salt stays");
    assert.equal(await store.updateAccountAuth(account.id, { totp: "one" }, null), true);
    assert.equal(await store.updateAccountAuth(account.id, { totp: "two" }, null), false, "expected null, found one");
    assert.equal(await store.updateAccountAuth(account.id, { totp: "two" }, "one"), true);
    assert.equal((await store.getAccountAuth(account.id)).totp, "two");
    await store.updateAccountAuth(account.id, { lockoutNoticeAt: 1234, appPasswordsOnly: false });
    assert.deepEqual(await store.getAccountAuth(account.id), { ...EMPTY_ACCOUNT_AUTH, scramSalt: "c2FsdA==", scramIterations: 4096, scramKeys: "k", scramHashTag: "t", totp: "two", lockoutNoticeAt: 1234 });
    await assert.rejects(store.updateAccountAuth(999_999 as typeof account.id, { appPasswordsOnly: true }), (e) => isStoreError(e, "NONEXISTENT"));
  }));

  test("app passwords: add, unique names per account, find by secret, note use, delete; gone with the account", using(open, async (fx) => {
    const store = fx.handles.authState;
    if (!store) return;
    const account = await fx.account("apps");
    const other = await fx.account("other");
    const phone = await store.addAppPassword(account.id, { name: "phone", protocols: ["imap", "smtp"], secretHash: HASH_A, scramKeys: null });
    assert.equal(phone.name, "phone");
    assert.deepEqual(phone.protocols, ["imap", "smtp"]);
    assert.equal(phone.lastUsedAt, null);
    await assert.rejects(store.addAppPassword(account.id, { name: "phone", protocols: ["imap"], secretHash: HASH_B, scramKeys: null }), (e) => isStoreError(e, "ALREADYEXISTS"));
    await store.addAppPassword(other.id, { name: "phone", protocols: ["pop3"], secretHash: HASH_B, scramKeys: "keys" });
    await assert.rejects(store.addAppPassword(account.id, { name: "bad", protocols: ["imap"], secretHash: "nothex", scramKeys: null }), (e) => isStoreError(e, "INVALID"));

    const found = await store.findAppPasswordBySecret(HASH_A);
    assert.equal(found?.accountId, account.id);
    assert.equal((await store.findAppPasswordBySecret(HASH_B))?.scramKeys, "keys");
    assert.equal(await store.findAppPasswordBySecret("c".repeat(64)), null);
    await store.noteAppPasswordUse(phone.id, new Date(5000), "192.0.2.1");
    const [listed] = await store.listAppPasswords(account.id);
    assert.deepEqual([listed?.lastUsedAt, listed?.lastUsedAddress], [new Date(5000), "192.0.2.1"]);

    assert.equal((await store.deleteAppPassword(account.id, "phone"))?.id, phone.id);
    assert.equal(await store.deleteAppPassword(account.id, "phone"), null);
    assert.deepEqual(await store.listAppPasswords(account.id), []);
    assert.equal((await store.listAppPasswords(other.id)).length, 1, "the other account's is untouched");

    await store.updateAccountAuth(other.id, { appPasswordsOnly: true });
    await fx.accounts.deleteAccount("other@example.test");
    assert.equal(await store.findAppPasswordBySecret(HASH_B), null, "app passwords go with their account");
  }));

  test("account auth state: SCRAM iteration counts per number of accounts, most first", using(open, async (fx) => {
    const store = fx.handles.authState;
    if (!store?.scramIterationCounts) return;
    assert.deepEqual(await store.scramIterationCounts(), []);
    const a = await fx.account("iter-a");
    const b = await fx.account("iter-b");
    const c = await fx.account("iter-c");
    await fx.account("iter-none");
    await store.ensureScramParams(a.id, "c2FsdA==", 4096);
    await store.ensureScramParams(b.id, "c2FsdA==", 10000);
    await store.ensureScramParams(c.id, "c2FsdA==", 10000);
    assert.deepEqual(await store.scramIterationCounts(), [{ iterations: 10000, accounts: 2 }, { iterations: 4096, accounts: 1 }]);
  }));
}
