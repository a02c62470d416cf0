// Conformance: IMAP METADATA entries (RFC 5464): private per user, shared per mailbox, server
// entries, all-or-none writes under the count and size limits, RENAME keeps them, DELETE and a
// mailbox created again under the same name start empty, account deletion removes them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isStoreError } from "../index.js";
import { type OpenBackend, using } from "./fixture.js";

const LIMITS = { maxEntriesPerMailbox: 3, maxAccountBytes: 200 };
const v = (text: string) => Buffer.from(text);

export function metadataContract(open: OpenBackend): void {
  test("metadata: private and shared entries, server entries, limits, rename, delete", using(open, async (fx) => {
    const mail = fx.mail;
    const alice = await fx.account("alice");
    const bob = await fx.account("bob");
    const folder = await mail.createMailbox(alice.id, "Projects");
    assert.deepEqual(await mail.getMetadata(alice.id, folder.id), []);
    const published: unknown[] = [];
    const unsubscribe = mail.changes.subscribe(alice.id, (batch) => published.push(...batch.changes.filter((c) => c.kind === "metadata")));
    assert.deepEqual(await mail.setMetadata(alice.id, folder.id, [{ name: "/private/comment", value: v("mine") }, { name: "/shared/comment", value: v("ours") }], LIMITS), { ok: true });
    assert.deepEqual(await mail.getMetadata(alice.id, folder.id), [{ name: "/private/comment", value: v("mine") }, { name: "/shared/comment", value: v("ours") }]);
    // Another user of the mailbox sees the shared entry, not alice's private one.
    assert.deepEqual(await mail.getMetadata(bob.id, folder.id), [{ name: "/shared/comment", value: v("ours") }]);
    // Each entry set is published on the change feed after commit (NOTIFY MailboxMetadataChange).
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(published, [{ kind: "metadata", mailboxId: folder.id, name: "/private/comment" }, { kind: "metadata", mailboxId: folder.id, name: "/shared/comment" }]);
    // Binary values survive.
    const binary = Buffer.from([0, 1, 2, 255, 13, 10]);
    await mail.setMetadata(alice.id, folder.id, [{ name: "/private/comment", value: binary }], LIMITS);
    assert.deepEqual((await mail.getMetadata(alice.id, folder.id))[0]?.value, binary);

    // Server entries are per user (private only).
    await mail.setMetadata(alice.id, null, [{ name: "/private/vendor/x", value: v("1") }], LIMITS);
    assert.deepEqual(await mail.getMetadata(alice.id, null), [{ name: "/private/vendor/x", value: v("1") }]);
    assert.deepEqual(await mail.getMetadata(bob.id, null), []);
    await assert.rejects(mail.setMetadata(alice.id, null, [{ name: "/shared/admin", value: v("x") }], LIMITS), (e) => isStoreError(e, "INVALID"));
    await assert.rejects(mail.setMetadata(alice.id, folder.id, [{ name: "/Private/Upper", value: v("x") }], LIMITS), (e) => isStoreError(e, "INVALID"));
    await assert.rejects(mail.setMetadata(alice.id, folder.id, [{ name: "/other/x", value: v("x") }], LIMITS), (e) => isStoreError(e, "INVALID"));

    // TOOMANY: the fourth entry of the mailbox; nothing of the refused write stays.
    assert.deepEqual(
      await mail.setMetadata(alice.id, folder.id, [{ name: "/private/a", value: v("1") }, { name: "/private/b", value: v("2") }], LIMITS),
      { ok: false, reason: "TOOMANY" },
    );
    assert.equal((await mail.getMetadata(alice.id, folder.id)).length, 2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(published.length, 4, "a refused write publishes nothing (two sets, the binary value, the server entry before it)");
    unsubscribe();
    // Replacing and removing do not count as new.
    assert.deepEqual(await mail.setMetadata(alice.id, folder.id, [{ name: "/private/comment", value: null }, { name: "/private/a", value: v("1") }, { name: "/private/b", value: v("2") }], LIMITS), { ok: true });
    assert.deepEqual((await mail.getMetadata(alice.id, folder.id)).map((e) => e.name), ["/private/a", "/private/b", "/shared/comment"]);
    // FULL: past the account's octets (names count too).
    assert.deepEqual(await mail.setMetadata(alice.id, folder.id, [{ name: "/private/a", value: Buffer.alloc(190, 0x61) }], LIMITS), { ok: false, reason: "FULL" });
    assert.deepEqual((await mail.getMetadata(alice.id, folder.id))[0]?.value, v("1"));

    // RENAME keeps the entries; DELETE drops them, a new mailbox of the same name starts empty.
    await mail.renameMailbox(alice.id, "Projects", "Work/Projects");
    const renamed = await mail.getMailbox(alice.id, "Work/Projects");
    assert.equal(renamed?.id, folder.id);
    assert.equal((await mail.getMetadata(alice.id, folder.id)).length, 3);
    await mail.deleteMailbox(alice.id, "Work/Projects");
    const again = await mail.createMailbox(alice.id, "Work/Projects");
    assert.deepEqual(await mail.getMetadata(alice.id, again.id), []);
    assert.deepEqual(await mail.setMetadata(alice.id, again.id, [{ name: "/private/a", value: v("fresh") }], LIMITS), { ok: true });
    await assert.rejects(mail.setMetadata(alice.id, folder.id, [{ name: "/private/a", value: v("x") }], LIMITS), (e) => isStoreError(e, "NONEXISTENT"));

    // Deleting the account removes its entries (and leaves bob's).
    await mail.setMetadata(bob.id, null, [{ name: "/private/keep", value: v("b") }], LIMITS);
    await fx.accounts.deleteAccount(alice.address);
    assert.deepEqual(await mail.getMetadata(alice.id, null), []);
    assert.deepEqual(await mail.getMetadata(bob.id, null), [{ name: "/private/keep", value: v("b") }]);
  }));
}
