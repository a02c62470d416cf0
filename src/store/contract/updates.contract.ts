// Conformance: flags with modseq (RFC 7162), COPY/MOVE UID maps (RFC 4315, RFC 6851), expunge,
// POP3 removal and STATUS counts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { asModSeq, asUid, isStoreError } from "../index.js";
import { type OpenBackend, using } from "./fixture.js";

export function updateContract(open: OpenBackend): void {
  test("flags: set, add, remove; each change takes a higher modseq, no-ops take none", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const a = await fx.append(inbox.id);
    const b = await fx.append(inbox.id, ["\\Seen"]);
    const added = await fx.mail.updateFlags(inbox.id, [a.uid, b.uid, asUid(77)], { mode: "add", flags: ["\\Seen", "\\Flagged"] });
    assert.deepEqual(added.updated.map((u) => [u.uid, u.flags]), [[a.uid, ["\\Seen", "\\Flagged"]], [b.uid, ["\\Seen", "\\Flagged"]]]);
    const m1 = added.updated[0]!.modseq;
    assert.ok(m1 > b.modseq);
    const again = await fx.mail.updateFlags(inbox.id, [a.uid], { mode: "add", flags: ["\\seen"] });
    assert.deepEqual(again, { updated: [], modified: [] });
    assert.equal((await fx.mail.mailboxStatus(inbox.id)).highestModSeq, m1, "a no-op takes no modseq");
    const removed = await fx.mail.updateFlags(inbox.id, [a.uid], { mode: "remove", flags: ["\\Flagged"] });
    assert.deepEqual(removed.updated[0]?.flags, ["\\Seen"]);
    assert.ok(removed.updated[0]!.modseq > m1);
    const set = await fx.mail.updateFlags(inbox.id, [a.uid], { mode: "set", flags: ["\\Answered"] });
    assert.deepEqual(set.updated[0]?.flags, ["\\Answered"]);
    const [listed] = await fx.mail.listMessages(inbox.id);
    assert.deepEqual(listed?.flags, ["\\Answered"]);
    assert.equal(listed?.modseq, set.updated[0]?.modseq);
    await assert.rejects(fx.mail.updateFlags(inbox.id, [a.uid], { mode: "add", flags: ["no spaces"] }), (e) => isStoreError(e, "INVALID"));
  }));

  test("UNCHANGEDSINCE leaves newer messages alone and reports them as modified", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const a = await fx.append(inbox.id);
    const b = await fx.append(inbox.id);
    const bumped = await fx.mail.updateFlags(inbox.id, [b.uid], { mode: "add", flags: ["$Seen2"] });
    const result = await fx.mail.updateFlags(inbox.id, [a.uid, b.uid], { mode: "add", flags: ["\\Flagged"], unchangedSince: b.modseq });
    assert.deepEqual(result.updated.map((u) => u.uid), [a.uid]);
    assert.deepEqual(result.modified, [b.uid]);
    const [, bNow] = await fx.mail.listMessages(inbox.id);
    assert.equal(bNow?.modseq, bumped.updated[0]?.modseq);
    assert.deepEqual(bNow?.flags, ["$Seen2"]);
  }));

  test("keywords compare case-insensitively and keep their first spelling", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const a = await fx.append(inbox.id, ["$Label1", "$label1"]);
    assert.deepEqual((await fx.mail.listMessages(inbox.id))[0]?.flags, ["$Label1"]);
    assert.deepEqual((await fx.mail.updateFlags(inbox.id, [a.uid], { mode: "add", flags: ["$LABEL1"] })).updated, []);
    assert.deepEqual((await fx.mail.updateFlags(inbox.id, [a.uid], { mode: "set", flags: ["$LABEL1", "\\SEEN"] })).updated[0]?.flags, ["$Label1", "\\Seen"]);
    assert.deepEqual((await fx.mail.updateFlags(inbox.id, [a.uid], { mode: "remove", flags: ["$label1"] })).updated[0]?.flags, ["\\Seen"]);
  }));

  test("copy gives new UIDs in source order, keeps flags, shares bytes; into another account charged to it", using(open, async (fx) => {
    const alice = await fx.account("alice");
    const bob = await fx.account("bob");
    const inbox = await fx.mailbox(alice.id);
    const archive = await fx.mailbox(alice.id, "Archive");
    await fx.append(archive.id);
    const a = await fx.append(inbox.id, ["\\Seen"]);
    const b = await fx.append(inbox.id, ["$Work"]);
    const usedBefore = (await fx.accounts.getAccount(alice.id))!.usedBytes;
    const map = await fx.mail.copyMessages(inbox.id, [b.uid, a.uid, asUid(50)], archive.id);
    assert.equal(map.uidValidity, archive.uidValidity);
    assert.deepEqual(map.pairs, [[a.uid, 2], [b.uid, 3]]);
    assert.deepEqual((await fx.mail.listMessages(archive.id)).map((m) => m.flags), [[], ["\\Seen"], ["$Work"]]);
    assert.equal((await fx.mail.listMessages(inbox.id)).length, 2, "the source is unchanged");
    assert.equal((await fx.accounts.getAccount(alice.id))!.usedBytes, usedBefore * 2 - (await fx.mail.listMessages(archive.id))[0]!.size);
    const blobs = fx.blobFileCount();
    if (blobs) assert.equal(await blobs, 3);
    // Shared mailboxes (RFC 4314): a copy into another account's mailbox counts against that account.
    const bobBefore = (await fx.accounts.getAccount(bob.id))!;
    const bobInbox = await fx.mailbox(bob.id);
    assert.deepEqual((await fx.mail.copyMessages(inbox.id, [a.uid], bobInbox.id)).pairs, [[a.uid, 1]]);
    const bobAfter = (await fx.accounts.getAccount(bob.id))!;
    assert.equal(bobAfter.usedBytes - bobBefore.usedBytes, (await fx.mail.listMessages(bobInbox.id))[0]!.size);
    assert.equal((await fx.accounts.getAccount(alice.id))!.usedBytes, usedBefore * 2 - (await fx.mail.listMessages(archive.id))[0]!.size, "the source account is not charged");
    await assert.rejects(fx.mail.copyMessages(inbox.id, [a.uid], (archive.id + 10_000) as typeof archive.id), (e) => isStoreError(e, "NONEXISTENT"));
  }));

  test("move maps UIDs and expunges the source atomically", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const trash = await fx.mailbox(id, "Trash");
    const a = await fx.append(inbox.id);
    const b = await fx.append(inbox.id);
    const c = await fx.append(inbox.id);
    const usedBefore = (await fx.accounts.getAccount(id))!.usedBytes;
    const map = await fx.mail.moveMessages(inbox.id, [a.uid, c.uid], trash.id);
    assert.deepEqual(map, { uidValidity: trash.uidValidity, pairs: [[a.uid, 1], [c.uid, 2]] });
    assert.deepEqual((await fx.mail.listMessages(inbox.id)).map((m) => m.uid), [b.uid]);
    assert.equal((await fx.mail.listMessages(trash.id)).length, 2);
    assert.deepEqual((await fx.mail.changesSince(inbox.id, c.modseq)).expunged, [a.uid, c.uid]);
    assert.equal((await fx.accounts.getAccount(id))!.usedBytes, usedBefore);
  }));

  test("expungeDeleted removes \\Deleted messages, all or only among given UIDs", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const a = await fx.append(inbox.id, ["\\Deleted"]);
    const b = await fx.append(inbox.id, ["\\Deleted"]);
    const c = await fx.append(inbox.id);
    const d = await fx.append(inbox.id, ["\\Deleted"]);
    const partial = await fx.mail.expungeDeleted(inbox.id, [b.uid, c.uid]);
    assert.deepEqual(partial.expunged, [b.uid]);
    assert.equal(partial.highestModSeq, (await fx.mail.mailboxStatus(inbox.id)).highestModSeq);
    const rest = await fx.mail.expungeDeleted(inbox.id);
    assert.deepEqual(rest.expunged, [a.uid, d.uid]);
    assert.ok(rest.highestModSeq > partial.highestModSeq);
    assert.deepEqual((await fx.mail.listMessages(inbox.id)).map((m) => m.uid), [c.uid]);
    const none = await fx.mail.expungeDeleted(inbox.id);
    assert.deepEqual(none, { expunged: [], highestModSeq: rest.highestModSeq });
  }));

  test("removeMessages removes whatever the flags and frees the bytes", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const a = await fx.append(inbox.id);
    const b = await fx.append(inbox.id, ["\\Seen"]);
    const result = await fx.mail.removeMessages(inbox.id, [a.uid, b.uid, asUid(40)]);
    assert.deepEqual(result.expunged, [a.uid, b.uid]);
    assert.equal((await fx.accounts.getAccount(id))?.usedBytes, 0);
    const blobs = fx.blobFileCount();
    if (blobs) assert.equal(await blobs, 0);
  }));

  test("status counts messages, unseen, deleted, size, uidNext and highestModSeq", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const empty = await fx.mail.mailboxStatus(inbox.id);
    assert.deepEqual({ ...empty, highestModSeq: 0 }, { messages: 0, unseen: 0, deleted: 0, size: 0, deletedSize: 0, uidNext: 1, uidValidity: inbox.uidValidity, highestModSeq: 0 });
    await fx.append(inbox.id, ["\\Seen"]);
    await fx.append(inbox.id, ["\\Deleted"]);
    const last = await fx.append(inbox.id, ["\\Seen", "\\Deleted"]);
    const listed = await fx.mail.listMessages(inbox.id);
    const sizes = listed.reduce((sum, m) => sum + m.size, 0);
    // RFC 9208 DELETED-STORAGE: the octets of the \Deleted messages (the second and third).
    const deletedSize = listed.filter((m) => m.flags.includes("\\Deleted")).reduce((sum, m) => sum + m.size, 0);
    const status = await fx.mail.mailboxStatus(inbox.id);
    assert.deepEqual(status, { messages: 3, unseen: 1, deleted: 2, size: sizes, deletedSize, uidNext: 4, uidValidity: inbox.uidValidity, highestModSeq: last.modseq });
    assert.ok(deletedSize > 0 && deletedSize < sizes);
    await assert.rejects(fx.mail.mailboxStatus((inbox.id + 10_000) as typeof inbox.id), (e) => isStoreError(e, "NONEXISTENT"));
    assert.equal(asModSeq(1) < status.highestModSeq, true);
  }));
}
