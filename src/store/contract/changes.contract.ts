// Conformance: the change log (CONDSTORE/QRESYNC resync) and the live change feed (IDLE):
// every mutation is announced, only after commit, in commit order.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type AccountChange, isStoreError, type MessageSummary } from "../index.js";
import { type OpenBackend, using } from "./fixture.js";

export function changeContract(open: OpenBackend): void {
  test("changesSince reports changed flags and expunged UIDs after a modseq", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const a = await fx.append(inbox.id);
    const b = await fx.append(inbox.id);
    const c = await fx.append(inbox.id);
    const mark = (await fx.mail.mailboxStatus(inbox.id)).highestModSeq;
    const flagged = await fx.mail.updateFlags(inbox.id, [b.uid], { mode: "add", flags: ["\\Flagged"] });
    await fx.mail.removeMessages(inbox.id, [c.uid]);
    const d = await fx.append(inbox.id);
    const since = await fx.mail.changesSince(inbox.id, mark);
    assert.deepEqual(since.changed, [{ uid: b.uid, modseq: flagged.updated[0]!.modseq, flags: ["\\Flagged"] }, { uid: d.uid, modseq: d.modseq, flags: [] }]);
    assert.deepEqual(since.expunged, [c.uid]);
    assert.equal(since.highestModSeq, d.modseq);
    const all = await fx.mail.changesSince(inbox.id, a.modseq);
    assert.deepEqual(all.changed.map((m) => m.uid), [b.uid, d.uid]);
    const now = await fx.mail.changesSince(inbox.id, since.highestModSeq);
    assert.deepEqual(now, { highestModSeq: since.highestModSeq, changed: [], expunged: [] });
    await assert.rejects(fx.mail.changesSince((inbox.id + 10_000) as typeof inbox.id, mark), (e) => isStoreError(e, "NONEXISTENT"));
  }));

  test("the change feed announces every mutation after commit, in order", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const seen: AccountChange[] = [];
    const visible: Promise<MessageSummary[]>[] = [];
    const unsubscribe = fx.mail.changes.subscribe(id, (batch) => {
      assert.equal(batch.accountId, id);
      seen.push(...batch.changes);
      // Asked from inside the listener: an "added" event must already be readable.
      if (batch.changes.some((c) => c.kind === "added")) visible.push(fx.mail.listMessages(inbox.id));
    });
    const a = await fx.append(inbox.id);
    const b = await fx.append(inbox.id);
    const flags = await fx.mail.updateFlags(inbox.id, [a.uid], { mode: "add", flags: ["\\Seen"] });
    const expunge = await fx.mail.removeMessages(inbox.id, [b.uid]);
    const box = await fx.mail.createMailbox(id, "Feed/Child");
    await fx.mail.renameMailbox(id, "Feed/Child", "Feed/Renamed");
    await fx.mail.deleteMailbox(id, "Feed/Renamed");
    await fx.mail.setSubscribed(id, "Feed", true);
    unsubscribe();
    await fx.append(inbox.id);
    const parent = await fx.mailbox(id, "Feed");
    assert.deepEqual(seen, [
      { kind: "added", mailboxId: inbox.id, uid: a.uid, modseq: a.modseq },
      { kind: "added", mailboxId: inbox.id, uid: b.uid, modseq: b.modseq },
      { kind: "flags", mailboxId: inbox.id, uid: a.uid, modseq: flags.updated[0]!.modseq, flags: ["\\Seen"] },
      { kind: "expunged", mailboxId: inbox.id, uid: b.uid, modseq: expunge.highestModSeq },
      { kind: "mailbox-created", mailboxId: parent.id, name: "Feed" },
      { kind: "mailbox-created", mailboxId: box.id, name: "Feed/Child" },
      { kind: "mailbox-renamed", mailboxId: box.id, oldName: "Feed/Child", name: "Feed/Renamed" },
      { kind: "mailbox-deleted", mailboxId: box.id, name: "Feed/Renamed" },
      { kind: "subscription", name: "Feed", subscribed: true },
    ]);
    assert.deepEqual((await visible[0])?.map((m) => m.uid), [a.uid]);
    assert.deepEqual((await visible[1])?.map((m) => m.uid), [a.uid, b.uid]);
  }));

  test("a failed mutation announces nothing", using(open, async (fx) => {
    const alice = await fx.account("alice", 10);
    const inbox = await fx.mailbox(alice.id);
    const seen: AccountChange[] = [];
    fx.mail.changes.subscribe(alice.id, (batch) => seen.push(...batch.changes));
    await assert.rejects(fx.append(inbox.id), (e) => isStoreError(e, "OVERQUOTA"));
    await assert.rejects(fx.mail.createMailbox(alice.id, "INBOX"), (e) => isStoreError(e, "ALREADYEXISTS"));
    await assert.rejects(fx.mail.deleteMailbox(alice.id, "INBOX"), (e) => isStoreError(e, "CANNOT"));
    assert.deepEqual(seen, []);
  }));

  test("concurrent deliveries are announced in commit order with rising modseqs", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const modseqs: number[] = [];
    fx.mail.changes.subscribe(id, (batch) => {
      for (const change of batch.changes) if (change.kind === "added") modseqs.push(change.modseq);
    });
    await Promise.all(Array.from({ length: 20 }, () => fx.append(inbox.id)));
    assert.equal(modseqs.length, 20);
    assert.deepEqual([...modseqs].sort((x, y) => x - y), modseqs);
  }));
}
