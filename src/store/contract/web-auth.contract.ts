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
}
