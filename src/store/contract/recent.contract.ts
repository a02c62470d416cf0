// Conformance: IMAP4rev1 \Recent claims (RFC 3501 §2.3.2: a message is recent in exactly one
// session) and MULTIAPPEND of staged messages (RFC 3502: all or none, consecutive UIDs).
import assert from "node:assert/strict";
import { test } from "node:test";
import { isStoreError, type Uid } from "../index.js";
import { type OpenBackend, readAll, using } from "./fixture.js";

const uidsIn = (claim: { first: Uid; next: Uid }): number[] => Array.from({ length: claim.next - claim.first }, (_, i) => claim.first + i);

export function recentContract(open: OpenBackend): void {
  test("claimRecent hands each new message to one claim only, and countRecent counts the unclaimed", using(open, async (fx) => {
    const alice = await fx.account("alice");
    const inbox = await fx.mailbox(alice.id);
    await fx.append(inbox.id);
    await fx.append(inbox.id);
    assert.equal(await fx.mail.countRecent(inbox.id), 2);
    assert.deepEqual(uidsIn(await fx.mail.claimRecent(inbox.id, { peek: true })), [1, 2], "a peek shows the range");
    assert.equal(await fx.mail.countRecent(inbox.id), 2, "and moves nothing");
    const first = await fx.mail.claimRecent(inbox.id);
    assert.deepEqual(uidsIn(first), [1, 2]);
    assert.equal(await fx.mail.countRecent(inbox.id), 0);
    assert.deepEqual(uidsIn(await fx.mail.claimRecent(inbox.id)), [], "nothing new: an empty claim");
    await fx.append(inbox.id);
    assert.equal(await fx.mail.countRecent(inbox.id), 1);
    const second = await fx.mail.claimRecent(inbox.id);
    assert.deepEqual(uidsIn(second), [3]);
    // Expunged messages stop counting; the boundary never goes back.
    await fx.append(inbox.id, ["\\Deleted"]);
    await fx.mail.expungeDeleted(inbox.id);
    assert.equal(await fx.mail.countRecent(inbox.id), 0);
    assert.deepEqual(uidsIn(await fx.mail.claimRecent(inbox.id)), [4]);
    await assert.rejects(fx.mail.claimRecent(9999 as never), (e) => isStoreError(e, "NONEXISTENT"));
  }));

  test("concurrent claims interleaved with deliveries never share a message and miss none", using(open, async (fx) => {
    const alice = await fx.account("alice");
    const inbox = await fx.mailbox(alice.id);
    const claims: Promise<{ first: Uid; next: Uid }>[] = [];
    const appends: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      appends.push(fx.append(inbox.id));
      claims.push(fx.mail.claimRecent(inbox.id));
      if (i % 3 === 0) claims.push(fx.mail.claimRecent(inbox.id));
    }
    await Promise.all(appends);
    claims.push(fx.mail.claimRecent(inbox.id));
    const claimed = (await Promise.all(claims)).flatMap(uidsIn);
    assert.equal(new Set(claimed).size, claimed.length, "no UID claimed twice");
    assert.deepEqual([...claimed].sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i + 1));
  }));

  test("appendStaged stores several staged messages in order with consecutive UIDs", using(open, async (fx) => {
    const alice = await fx.account("alice");
    const inbox = await fx.mailbox(alice.id);
    const bytes = [fx.message(), fx.message(), fx.message()];
    const staged = await Promise.all(bytes.map((b) => fx.mail.stageMessage(b)));
    const date = new Date("2024-02-03T04:05:06Z");
    const copies = await fx.mail.appendStaged(inbox.id, staged.map((source, i) => ({ source, flags: i === 1 ? ["\\Seen"] : [], internalDate: date })));
    assert.deepEqual(copies.map((c) => c.uid), [1, 2, 3]);
    assert.ok(copies.every((c) => c.uidValidity === inbox.uidValidity && c.mailboxId === inbox.id));
    const stored = await fx.mail.getMessages(inbox.id, copies.map((c) => c.uid));
    assert.deepEqual(stored.map((m) => m.flags), [[], ["\\Seen"], []]);
    assert.ok(stored.every((m) => m.internalDate.getTime() === date.getTime()));
    for (const [i, message] of stored.entries()) assert.deepEqual(await readAll(fx.mail.openMessage(message)), bytes[i]);
  }));

  test("appendStaged is all or nothing: over quota or over maxBytes stores none of them", using(open, async (fx) => {
    const alice = await fx.account("alice", 1000);
    const inbox = await fx.mailbox(alice.id);
    const small = await fx.mail.stageMessage(fx.message());
    const big = await fx.mail.stageMessage(Buffer.concat([fx.message(), Buffer.alloc(900, 0x61), Buffer.from("\r\n")]));
    await assert.rejects(fx.mail.appendStaged(inbox.id, [{ source: small }, { source: big }]), (e) => isStoreError(e, "OVERQUOTA"));
    await assert.rejects(fx.mail.appendStaged(inbox.id, [{ source: small }, { source: big }], { maxBytes: 500 }), (e) => isStoreError(e, "TOOBIG"));
    assert.deepEqual(await fx.mail.listMessages(inbox.id), []);
    assert.equal((await fx.accounts.getAccount(alice.id))?.usedBytes, 0);
    assert.equal((await fx.mail.mailboxStatus(inbox.id)).uidNext, 1, "no UID was used up");
    // The staged messages are still there to retry with.
    const copies = await fx.mail.appendStaged(inbox.id, [{ source: small }]);
    assert.deepEqual(copies.map((c) => c.uid), [1]);
    big.discard();
  }));
}
