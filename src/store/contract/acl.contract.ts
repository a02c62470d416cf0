// Conformance: access control lists (RFC 4314) and per-user \Seen on shared mailboxes
// (store/acl-store.ts): entries per grantee and "anyone", the owner's implicit rights, the
// viewer's union of rights, RENAME keeps the list, DELETE and account deletion drop it; a user's
// \Seen apart from the mailbox's, each change under a new modseq that CHANGEDSINCE finds.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ALL_RIGHTS, asModSeq, isStoreError, type Uid } from "../index.js";
import { type OpenBackend, using } from "./fixture.js";

export function aclContract(open: OpenBackend): void {
  test("acl: entries, anyone, owner, shared list, rename and delete", using(open, async (fx) => {
    const mail = fx.mail;
    const alice = await fx.account("alice");
    const bob = await fx.account("bob");
    const carol = await fx.account("carol");
    const folder = await mail.createMailbox(alice.id, "Team/Plans");
    assert.deepEqual(await mail.getAcl(folder.id), []);
    assert.equal(await mail.rightsOf(folder.id, alice.id), ALL_RIGHTS);
    assert.equal(await mail.rightsOf(folder.id, bob.id), "");
    assert.deepEqual(await mail.listSharedMailboxes(bob.id), []);

    await mail.setAcl(folder.id, "Bob@Example.TEST", "lrs");
    await mail.setAcl(folder.id, "anyone", "lw");
    assert.deepEqual(await mail.getAcl(folder.id), [{ identifier: "anyone", rights: "lw" }, { identifier: "bob@example.test", rights: "lrs" }]);
    // A user holds its own entry's rights and anyone's (RFC 4314 §2).
    assert.equal(await mail.rightsOf(folder.id, bob.id), "lrsw");
    assert.equal(await mail.rightsOf(folder.id, carol.id), "lw");
    const shared = await mail.listSharedMailboxes(bob.id);
    assert.equal(shared.length, 1);
    assert.equal(shared[0]?.mailbox.id, folder.id);
    assert.equal(shared[0]?.ownerAddress, "alice@example.test");
    assert.equal(shared[0]?.rights, "lrsw");
    // The owner's own mailboxes are not "shared with" it.
    assert.deepEqual(await mail.listSharedMailboxes(alice.id), []);
    const found = await mail.findSharedMailbox(bob.id, "ALICE@example.test", "Team/Plans");
    assert.equal(found?.mailbox.id, folder.id);
    assert.equal(found?.rights, "lrsw");
    // A mailbox without an entry is found with no rights; unknown owners and names are null.
    const inbox = await fx.mailbox(alice.id);
    assert.equal((await mail.findSharedMailbox(bob.id, "alice@example.test", "inbox"))?.mailbox.id, inbox.id);
    assert.equal((await mail.findSharedMailbox(bob.id, "alice@example.test", "INBOX"))?.rights, "");
    assert.equal(await mail.findSharedMailbox(bob.id, "nobody@example.test", "INBOX"), null);
    assert.equal(await mail.findSharedMailbox(bob.id, "alice@example.test", "Missing"), null);

    // Refusals: unknown grantee, the owner, rights not canonical, unknown mailbox.
    await assert.rejects(mail.setAcl(folder.id, "nobody@example.test", "l"), (e) => isStoreError(e, "NONEXISTENT"));
    await assert.rejects(mail.setAcl(folder.id, "alice@example.test", "l"), (e) => isStoreError(e, "CANNOT"));
    await assert.rejects(mail.setAcl(folder.id, "bob@example.test", "rl"), (e) => isStoreError(e, "INVALID"));
    await assert.rejects(mail.setAcl(folder.id, "bob@example.test", "lz"), (e) => isStoreError(e, "INVALID"));
    await assert.rejects(mail.getAcl(999_999 as typeof folder.id), (e) => isStoreError(e, "NONEXISTENT"));

    // Replacing and removing.
    await mail.setAcl(folder.id, "bob@example.test", "lr");
    await mail.setAcl(folder.id, "anyone", "");
    assert.deepEqual(await mail.getAcl(folder.id), [{ identifier: "bob@example.test", rights: "lr" }]);
    assert.equal(await mail.rightsOf(folder.id, carol.id), "");
    assert.deepEqual(await mail.listSharedMailboxes(carol.id), []);

    // RENAME keeps the list (the mailbox keeps its id); DELETE drops it.
    await mail.renameMailbox(alice.id, "Team/Plans", "Team/Done");
    assert.equal((await mail.listSharedMailboxes(bob.id))[0]?.mailbox.name, "Team/Done");
    await mail.deleteMailbox(alice.id, "Team/Done");
    assert.deepEqual(await mail.listSharedMailboxes(bob.id), []);
    const again = await mail.createMailbox(alice.id, "Team/Done");
    assert.deepEqual(await mail.getAcl(again.id), []);

    // Deleting the grantee's account removes its entries.
    await mail.setAcl(again.id, "carol@example.test", "lr");
    await fx.accounts.deleteAccount("carol@example.test");
    assert.deepEqual(await mail.getAcl(again.id), []);
  }));

  test("acl: per-user \\Seen apart from the mailbox's, with modseqs and change events", using(open, async (fx) => {
    const mail = fx.mail;
    const alice = await fx.account("alice");
    const bob = await fx.account("bob");
    const inbox = await fx.mailbox(alice.id);
    const one = await fx.append(inbox.id);
    const two = await fx.append(inbox.id, ["\\Seen", "\\Flagged"]);
    await fx.append(inbox.id);
    assert.deepEqual(await mail.getPrivateSeen(inbox.id, bob.id), []);
    const events: unknown[] = [];
    const unsubscribe = mail.changes.subscribe(alice.id, (batch) => events.push(...batch.changes));
    const before = (await mail.mailboxStatus(inbox.id)).highestModSeq;

    const result = await mail.updatePrivateSeen(inbox.id, bob.id, [one.uid, two.uid, 999 as Uid], true);
    assert.deepEqual(result.updated.map((u) => u.uid), [one.uid, two.uid]);
    const modseq = result.updated[0]!.modseq;
    assert.ok(modseq > before);
    // The mailbox's flags are untouched (the owner's \Seen stays the owner's).
    assert.deepEqual(result.updated.map((u) => u.flags), [[], ["\\Seen", "\\Flagged"]]);
    assert.deepEqual(await mail.getPrivateSeen(inbox.id, bob.id), [one.uid, two.uid]);
    assert.deepEqual(await mail.getPrivateSeen(inbox.id, bob.id, [two.uid, 3 as Uid]), [two.uid]);
    assert.deepEqual(await mail.getPrivateSeen(inbox.id, alice.id), []);
    assert.deepEqual((await mail.getSummaries(inbox.id, [one.uid])).map((s) => s.flags), [[]]);
    // CHANGEDSINCE finds the change (RFC 7162 §3.1): the message's modseq moved.
    const since = await mail.changesSince(inbox.id, before);
    assert.deepEqual(since.changed.map((c) => c.uid), [one.uid, two.uid]);
    assert.equal(since.highestModSeq, modseq);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(events, [
      { kind: "flags", mailboxId: inbox.id, uid: one.uid, modseq, flags: [] },
      { kind: "flags", mailboxId: inbox.id, uid: two.uid, modseq, flags: ["\\Seen", "\\Flagged"] },
    ]);
    unsubscribe();

    // Setting what is already set changes nothing and takes no modseq.
    assert.deepEqual((await mail.updatePrivateSeen(inbox.id, bob.id, [one.uid], true)).updated, []);
    assert.equal((await mail.mailboxStatus(inbox.id)).highestModSeq, modseq);
    // UNCHANGEDSINCE: a message changed after the client's view is reported, not changed.
    const guarded = await mail.updatePrivateSeen(inbox.id, bob.id, [one.uid, two.uid], false, asModSeq(Number(modseq) - 1));
    assert.deepEqual(guarded, { updated: [], modified: [one.uid, two.uid] });
    const cleared = await mail.updatePrivateSeen(inbox.id, bob.id, [one.uid], false);
    assert.deepEqual(cleared.updated.map((u) => u.uid), [one.uid]);
    assert.deepEqual(await mail.getPrivateSeen(inbox.id, bob.id), [two.uid]);

    // Expunged messages drop out.
    await mail.removeMessages(inbox.id, [two.uid]);
    assert.deepEqual(await mail.getPrivateSeen(inbox.id, bob.id), []);
  }));

  test("acl: COPY and MOVE into another account's mailbox are charged to that account, MOVE too", using(open, async (fx) => {
    const mail = fx.mail;
    const alice = await fx.account("alice");
    const carol = await fx.account("carol", 10);
    const inbox = await fx.mailbox(alice.id);
    const message = await fx.append(inbox.id);
    const target = await fx.mailbox(carol.id);
    await assert.rejects(mail.moveMessages(inbox.id, [message.uid], target.id), (e) => isStoreError(e, "OVERQUOTA"));
    await assert.rejects(mail.copyMessages(inbox.id, [message.uid], target.id), (e) => isStoreError(e, "OVERQUOTA"));
    assert.equal((await mail.listMessages(inbox.id)).length, 1, "nothing moved");
    await fx.accounts.setQuotaLimits("carol@example.test", { storageBytes: 0 });
    assert.deepEqual((await mail.moveMessages(inbox.id, [message.uid], target.id)).pairs, [[message.uid, 1]]);
    assert.equal((await fx.accounts.getAccount(carol.id))!.usedMessages, 1);
    assert.equal((await fx.accounts.getAccount(alice.id))!.usedMessages, 0);
  }));
}
