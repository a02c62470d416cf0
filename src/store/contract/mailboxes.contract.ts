// Conformance: mailbox hierarchy (create, rename, delete) and subscriptions (RFC 9051 §6.3).
import assert from "node:assert/strict";
import { test } from "node:test";
import { isStoreError } from "../index.js";
import { type OpenBackend, using } from "./fixture.js";

export function mailboxContract(open: OpenBackend): void {
  test("create makes missing parents; INBOX is case-insensitive; duplicates refused", using(open, async (fx) => {
    const { id } = await fx.account();
    const created = await fx.mail.createMailbox(id, "Work/Projects/2025", { specialUse: "\\Archive" });
    assert.equal(created.name, "Work/Projects/2025");
    assert.equal(created.specialUse, "\\Archive");
    assert.equal(created.uidNext, 1);
    assert.ok(await fx.mail.getMailbox(id, "Work"));
    assert.ok(await fx.mail.getMailbox(id, "Work/Projects"));
    assert.equal((await fx.mail.getMailbox(id, "inbox"))?.name, "INBOX");
    assert.equal((await fx.mail.getMailboxById(created.id))?.name, "Work/Projects/2025");
    await assert.rejects(fx.mail.createMailbox(id, "Work"), (e) => isStoreError(e, "ALREADYEXISTS"));
    await assert.rejects(fx.mail.createMailbox(id, "inbox"), (e) => isStoreError(e, "ALREADYEXISTS"));
    const child = await fx.mail.createMailbox(id, "inbox/Receipts");
    assert.equal(child.name, "INBOX/Receipts");
    assert.ok(await fx.mail.createMailbox(id, "Ünïcödé/名前"));
  }));

  test("invalid mailbox names are refused with CANNOT", using(open, async (fx) => {
    const { id } = await fx.account();
    for (const name of ["", "/", "/lead", "trail/", "a//b", "bad\u0000nul", "tab\there", "x".repeat(1025), "é".repeat(513)]) {
      await assert.rejects(fx.mail.createMailbox(id, name), (e) => isStoreError(e, "CANNOT"), JSON.stringify(name.slice(0, 20)));
    }
    assert.ok(await fx.mail.createMailbox(id, "x".repeat(1024)));
    assert.equal(await fx.mail.getMailbox(id, "a//b"), null);
  }));

  test("rename moves the mailbox with its children and keeps ids and UIDVALIDITY", using(open, async (fx) => {
    const { id } = await fx.account();
    const parent = await fx.mail.createMailbox(id, "Old");
    const child = await fx.mail.createMailbox(id, "Old/Child");
    const other = await fx.mail.createMailbox(id, "Oldish");
    await fx.append(child.id);
    await fx.mail.renameMailbox(id, "Old", "New/Place");
    assert.equal(await fx.mail.getMailbox(id, "Old"), null);
    assert.equal((await fx.mail.getMailbox(id, "New/Place"))?.id, parent.id);
    const movedChild = await fx.mail.getMailbox(id, "New/Place/Child");
    assert.equal(movedChild?.id, child.id);
    assert.equal(movedChild?.uidValidity, child.uidValidity);
    assert.equal((await fx.mail.listMessages(child.id)).length, 1);
    assert.ok(await fx.mail.getMailbox(id, "New"), "parent of the new name created");
    assert.equal((await fx.mail.getMailboxById(other.id))?.name, "Oldish", "a sibling sharing the prefix is untouched");
    await assert.rejects(fx.mail.renameMailbox(id, "Missing", "X"), (e) => isStoreError(e, "NONEXISTENT"));
    await assert.rejects(fx.mail.renameMailbox(id, "Oldish", "Sent"), (e) => isStoreError(e, "ALREADYEXISTS"));
    await assert.rejects(fx.mail.renameMailbox(id, "New", "New/Place/Deeper"), (e) => isStoreError(e, "CANNOT"));
    await assert.rejects(fx.mail.renameMailbox(id, "Oldish", "bad//name"), (e) => isStoreError(e, "CANNOT"));
  }));

  test("renaming INBOX moves its messages to a new mailbox and leaves INBOX empty", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const child = await fx.mail.createMailbox(id, "INBOX/Kept");
    const first = await fx.append(inbox.id, ["\\Seen"]);
    const second = await fx.append(inbox.id);
    await fx.mail.renameMailbox(id, "INBOX", "Old Mail");
    const moved = await fx.mailbox(id, "Old Mail");
    assert.notEqual(moved.id, inbox.id);
    assert.notEqual(moved.uidValidity, inbox.uidValidity);
    const movedMessages = await fx.mail.listMessages(moved.id);
    assert.equal(movedMessages.length, 2);
    assert.deepEqual(movedMessages[0]?.flags, ["\\Seen"]);
    const inboxAfter = await fx.mailbox(id);
    assert.equal(inboxAfter.id, inbox.id);
    assert.equal(inboxAfter.uidValidity, inbox.uidValidity);
    assert.deepEqual(await fx.mail.listMessages(inbox.id), []);
    assert.equal((await fx.mail.getMailboxById(child.id))?.name, "INBOX/Kept", "INBOX's children do not move");
    const next = await fx.append(inbox.id);
    assert.ok(next.uid > second.uid && second.uid > first.uid, "INBOX never reuses a UID");
    const since = await fx.mail.changesSince(inbox.id, second.modseq);
    assert.deepEqual(since.expunged, [first.uid, second.uid]);
  }));

  test("delete refuses INBOX, missing and parent mailboxes; a recreated mailbox gets a new UIDVALIDITY", using(open, async (fx) => {
    const alice = await fx.account();
    await assert.rejects(fx.mail.deleteMailbox(alice.id, "inbox"), (e) => isStoreError(e, "CANNOT"));
    await assert.rejects(fx.mail.deleteMailbox(alice.id, "Nope"), (e) => isStoreError(e, "NONEXISTENT"));
    await fx.mail.createMailbox(alice.id, "Parent/Child");
    await assert.rejects(fx.mail.deleteMailbox(alice.id, "Parent"), (e) => isStoreError(e, "HASCHILDREN"));
    const child = await fx.mailbox(alice.id, "Parent/Child");
    const bytes = fx.message();
    await fx.append(child.id, [], bytes);
    assert.equal((await fx.accounts.getAccount(alice.id))?.usedBytes, bytes.length);
    await fx.mail.deleteMailbox(alice.id, "Parent/Child");
    await fx.mail.deleteMailbox(alice.id, "Parent");
    assert.equal(await fx.mail.getMailboxById(child.id), null);
    assert.equal((await fx.accounts.getAccount(alice.id))?.usedBytes, 0);
    const blobs = fx.blobFileCount();
    if (blobs) assert.equal(await blobs, 0, "the message's blob is gone with its last row");
    const again = await fx.mail.createMailbox(alice.id, "Parent/Child");
    assert.notEqual(again.uidValidity, child.uidValidity);
    assert.equal(again.uidNext, 1);
  }));

  test("subscriptions are kept by name, may name missing mailboxes, and show on Mailbox", using(open, async (fx) => {
    const { id } = await fx.account();
    const box = await fx.mail.createMailbox(id, "Lists");
    assert.equal(box.subscribed, false);
    await fx.mail.setSubscribed(id, "Lists", true);
    await fx.mail.setSubscribed(id, "Lists", true);
    await fx.mail.setSubscribed(id, "Not/There", true);
    assert.equal((await fx.mail.getMailbox(id, "Lists"))?.subscribed, true);
    assert.ok((await fx.mail.listSubscriptions(id)).includes("Not/There"));
    await fx.mail.setSubscribed(id, "Lists", false);
    assert.equal((await fx.mail.getMailbox(id, "Lists"))?.subscribed, false);
    const subs = await fx.mail.listSubscriptions(id);
    assert.ok(!subs.includes("Lists"));
    assert.ok(subs.includes("INBOX"));
    const created = await fx.mail.createMailbox(id, "Auto", { subscribed: true });
    assert.equal(created.subscribed, true);
    await fx.mail.deleteMailbox(id, "Auto");
    assert.ok((await fx.mail.listSubscriptions(id)).includes("Auto"), "RFC 9051 §6.3.9: deleting does not unsubscribe");
  }));
}
