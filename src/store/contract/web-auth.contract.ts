// Conformance: admin accounts, browser sessions and API tokens (WebAuthStore): names unique,
// sessions found only before they expire, a subject's sessions ended together, tokens unique per
// admin and gone with their admin.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isStoreError } from "../index.js";
import { type OpenBackend, using } from "./fixture.js";

const T0 = Date.UTC(2026, 11, 1);

export function webAuthContract(open: OpenBackend): void {
  test("web auth: admins are unique, listed by name, their password changes, deletion takes their sessions and tokens", using(open, async (fx) => {
    const store = fx.webAuth;
    if (!store) return;
    await store.addAdminUser("root", "$argon2id$a", new Date(T0));
    await store.addAdminUser("alice", "$argon2id$b", new Date(T0 + 1000));
    await assert.rejects(store.addAdminUser("root", "$argon2id$c", new Date(T0)), (e: unknown) => isStoreError(e, "ALREADYEXISTS"));
    assert.deepEqual((await store.listAdminUsers()).map((a) => a.name), ["alice", "root"]);
    await store.setAdminPasswordHash("root", "$argon2id$new");
    assert.equal((await store.findAdminUser("root"))?.passwordHash, "$argon2id$new");
    assert.equal((await store.findAdminUser("root"))?.createdAt.getTime(), T0);
    await assert.rejects(store.setAdminPasswordHash("nobody", "x"), (e: unknown) => isStoreError(e, "NONEXISTENT"));
    await store.createWebSession({ idHash: "s-root", kind: "admin", subject: "root", csrfToken: "c1", createdAt: new Date(T0), expiresAt: new Date(T0 + 60_000) });
    const token = await store.addApiToken({ name: "backup", admin: "root", tokenHash: "t-root", createdAt: new Date(T0), expiresAt: null });
    assert.equal((await store.findApiToken("t-root"))?.id, token.id);
    await store.deleteAdminUser("root");
    assert.equal(await store.findAdminUser("root"), null);
    assert.equal(await store.findWebSession("s-root", new Date(T0)), null, "the admin's sessions went with it");
    assert.equal(await store.findApiToken("t-root"), null, "the admin's tokens went with it");
    await assert.rejects(store.deleteAdminUser("root"), (e: unknown) => isStoreError(e, "NONEXISTENT"));
  }));

  test("web auth: sessions are found until they expire, extended, ended one by one or per subject, pruned", using(open, async (fx) => {
    const store = fx.webAuth;
    if (!store) return;
    const at = (ms: number) => new Date(T0 + ms);
    await store.createWebSession({ idHash: "a1", kind: "account", subject: "bob@example.org", csrfToken: "x1", createdAt: at(0), expiresAt: at(1000) });
    await store.createWebSession({ idHash: "a2", kind: "account", subject: "bob@example.org", csrfToken: "x2", createdAt: at(0), expiresAt: at(1000) });
    await store.createWebSession({ idHash: "b1", kind: "admin", subject: "bob@example.org", csrfToken: "x3", createdAt: at(0), expiresAt: at(1000) });
    const found = await store.findWebSession("a1", at(999));
    assert.deepEqual(found, { idHash: "a1", kind: "account", subject: "bob@example.org", csrfToken: "x1", createdAt: at(0), expiresAt: at(1000) });
    assert.equal(await store.findWebSession("a1", at(1000)), null, "expired at its expiry time");
    await store.extendWebSession("a1", at(5000));
    assert.equal((await store.findWebSession("a1", at(4000)))?.csrfToken, "x1");
    assert.equal(await store.deleteWebSessionsOf("account", "bob@example.org"), 2);
    assert.equal(await store.findWebSession("a1", at(0)), null);
    assert.ok(await store.findWebSession("b1", at(0)), "an admin session of the same name is another subject");
    assert.equal(await store.pruneWebSessions(at(2000)), 1);
    assert.equal(await store.findWebSession("b1", at(0)), null);
    await store.createWebSession({ idHash: "c1", kind: "admin", subject: "x", csrfToken: "y", createdAt: at(0), expiresAt: at(1000) });
    await store.deleteWebSession("c1");
    assert.equal(await store.findWebSession("c1", at(0)), null);
  }));

  test("web auth: tokens are unique per admin, need their admin, record their last use, and are deleted by id", using(open, async (fx) => {
    const store = fx.webAuth;
    if (!store) return;
    await store.addAdminUser("root", "h", new Date(T0));
    const first = await store.addApiToken({ name: "ci", admin: "root", tokenHash: "h1", createdAt: new Date(T0), expiresAt: new Date(T0 + 86_400_000) });
    assert.equal(first.lastUsedAt, null);
    assert.equal(first.expiresAt?.getTime(), T0 + 86_400_000);
    await assert.rejects(store.addApiToken({ name: "ci", admin: "root", tokenHash: "h2", createdAt: new Date(T0), expiresAt: null }), (e: unknown) => isStoreError(e, "ALREADYEXISTS"));
    await assert.rejects(store.addApiToken({ name: "ci", admin: "ghost", tokenHash: "h3", createdAt: new Date(T0), expiresAt: null }), (e: unknown) => isStoreError(e, "NONEXISTENT"));
    await store.addApiToken({ name: "backup", admin: "root", tokenHash: "h4", createdAt: new Date(T0), expiresAt: null });
    await store.markApiTokenUsed(first.id, new Date(T0 + 5000));
    assert.equal((await store.findApiToken("h1"))?.lastUsedAt?.getTime(), T0 + 5000);
    assert.deepEqual((await store.listApiTokens()).map((t) => t.name), ["backup", "ci"]);
    assert.equal(await store.deleteApiToken(first.id), true);
    assert.equal(await store.deleteApiToken(first.id), false);
    assert.equal(await store.findApiToken("h1"), null);
  }));

  test("web auth: an admin's TOTP state is set, compared-and-set, cleared, and goes with the admin", using(open, async (fx) => {
    const store = fx.webAuth;
    if (!store) return;
    await store.addAdminUser("root", "h", new Date(T0));
    assert.equal(await store.getAdminTotp("root"), null);
    assert.equal(await store.getAdminTotp("ghost"), null);
    assert.equal(await store.setAdminTotp("root", "one", null), true, "expected null (no row yet), found null");
    assert.equal(await store.setAdminTotp("root", "two", null), false, "expected null, found one");
    assert.equal(await store.getAdminTotp("root"), "one");
    assert.equal(await store.setAdminTotp("root", "two", "one"), true);
    assert.equal(await store.setAdminTotp("root", "three", "one"), false);
    assert.equal(await store.setAdminTotp("root", null), true, "unconditional");
    assert.equal(await store.getAdminTotp("root"), null);
    assert.equal(await store.setAdminTotp("root", "four", null), true, "a cleared state compares as null");
    await assert.rejects(store.setAdminTotp("ghost", "x"), (e: unknown) => isStoreError(e, "NONEXISTENT"));
    await store.deleteAdminUser("root");
    await store.addAdminUser("root", "h", new Date(T0));
    assert.equal(await store.getAdminTotp("root"), null, "a new admin of the same name starts without it");
  }));

  test("web auth: WebAuthn credentials of admins and accounts: unique ids and names, counter compare-and-set, deleted by owner, gone with their owner", using(open, async (fx) => {
    const store = fx.webAuth;
    if (!store) return;
    await store.addAdminUser("root", "h", new Date(T0));
    const account = await fx.account("passkeys");
    const admin = { kind: "admin" as const, name: "root" };
    const user = { kind: "account" as const, accountId: account.id };
    const key = await store.addWebAuthnCredential({ owner: admin, credentialId: "cred-1", publicKey: "pk1", signCount: 0, transports: ["usb", "nfc"], name: "YubiKey", createdAt: new Date(T0) });
    assert.deepEqual(key, { id: key.id, owner: admin, credentialId: "cred-1", publicKey: "pk1", signCount: 0, transports: ["usb", "nfc"], name: "YubiKey", createdAt: new Date(T0), lastUsedAt: null });
    const phone = await store.addWebAuthnCredential({ owner: user, credentialId: "cred-2", publicKey: "pk2", signCount: 5, transports: [], name: "YubiKey", createdAt: new Date(T0) });
    assert.deepEqual(phone.owner, user, "the same name under another owner");
    await assert.rejects(store.addWebAuthnCredential({ owner: user, credentialId: "cred-1", publicKey: "x", signCount: 0, transports: [], name: "other", createdAt: new Date(T0) }), (e: unknown) => isStoreError(e, "ALREADYEXISTS"), "a credential ID is registered once");
    await assert.rejects(store.addWebAuthnCredential({ owner: admin, credentialId: "cred-3", publicKey: "x", signCount: 0, transports: [], name: "YubiKey", createdAt: new Date(T0) }), (e: unknown) => isStoreError(e, "ALREADYEXISTS"), "names are unique per owner");
    await assert.rejects(store.addWebAuthnCredential({ owner: { kind: "admin", name: "ghost" }, credentialId: "cred-4", publicKey: "x", signCount: 0, transports: [], name: "a", createdAt: new Date(T0) }), (e: unknown) => isStoreError(e, "NONEXISTENT"));
    await assert.rejects(store.addWebAuthnCredential({ owner: { kind: "account", accountId: 999_999 as typeof account.id }, credentialId: "cred-5", publicKey: "x", signCount: 0, transports: [], name: "a", createdAt: new Date(T0) }), (e: unknown) => isStoreError(e, "NONEXISTENT"));
    await store.addWebAuthnCredential({ owner: admin, credentialId: "cred-6", publicKey: "pk6", signCount: 0, transports: ["internal"], name: "laptop", createdAt: new Date(T0 + 1) });
    assert.deepEqual((await store.listWebAuthnCredentials(admin)).map((c) => c.name), ["YubiKey", "laptop"]);
    assert.deepEqual((await store.listWebAuthnCredentials(user)).map((c) => c.credentialId), ["cred-2"]);
    assert.equal((await store.findWebAuthnCredential("cred-2"))?.publicKey, "pk2");
    assert.equal(await store.findWebAuthnCredential("nothing"), null);
    assert.equal(await store.useWebAuthnCredential(phone.id, 5, 6, new Date(T0 + 9)), true);
    assert.equal(await store.useWebAuthnCredential(phone.id, 5, 7, new Date(T0 + 10)), false, "the counter moved since it was read");
    const used = await store.findWebAuthnCredential("cred-2");
    assert.equal(used?.signCount, 6);
    assert.equal(used?.lastUsedAt?.getTime(), T0 + 9);
    assert.equal(await store.deleteWebAuthnCredential(user, key.id), false, "another owner's credential is not deleted");
    assert.equal(await store.deleteWebAuthnCredential(admin, key.id), true);
    assert.equal(await store.findWebAuthnCredential("cred-1"), null);
    await store.deleteAdminUser("root");
    assert.equal(await store.findWebAuthnCredential("cred-6"), null, "an admin's credentials go with it");
    await fx.accounts.deleteAccount(account.address);
    assert.equal(await store.findWebAuthnCredential("cred-2"), null, "an account's credentials go with it");
  }));
}
