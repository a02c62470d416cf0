// Conformance: delivery (atomic, one blob for many recipients, quota, size limit), APPEND, UIDs,
// message metadata, exact bytes and search text.
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { test } from "node:test";
import { asUid, isStoreError } from "../index.js";
import { type OpenBackend, readAll, using } from "./fixture.js";

export function messageContract(open: OpenBackend): void {
  test("deliver stores one message for several mailboxes of several accounts, as one blob", using(open, async (fx) => {
    const alice = await fx.account("alice");
    const bob = await fx.account("bob");
    const aliceInbox = await fx.mailbox(alice.id);
    const aliceJunk = await fx.mailbox(alice.id, "Junk");
    const bobInbox = await fx.mailbox(bob.id);
    const bytes = fx.message();
    const prefix = Buffer.from("Delivered-To: bob@example.test\r\n");
    const result = await fx.mail.deliver({
      source: Readable.from([bytes.subarray(0, 10), bytes.subarray(10)]),
      targets: [{ mailboxId: aliceInbox.id }, { mailboxId: aliceJunk.id, flags: ["$Junk"] }, { mailboxId: bobInbox.id, prefix }],
    });
    assert.equal(result.size, bytes.length);
    assert.deepEqual(result.copies.map((c) => [c.mailboxId, c.uid]), [[aliceInbox.id, 1], [aliceJunk.id, 1], [bobInbox.id, 1]]);
    assert.equal(result.copies[2]?.uidValidity, bobInbox.uidValidity);
    assert.deepEqual((await fx.mail.listMessages(aliceJunk.id))[0]?.flags, ["$Junk"]);
    assert.equal((await fx.accounts.getAccount(alice.id))?.usedBytes, 2 * bytes.length);
    assert.equal((await fx.accounts.getAccount(bob.id))?.usedBytes, bytes.length + prefix.length);
    const blobs = fx.blobFileCount();
    if (blobs) assert.equal(await blobs, 1, "one blob file for all recipients");
    const [bobCopy] = await fx.mail.getMessages(bobInbox.id, [asUid(1)]);
    assert.deepEqual(await readAll(fx.mail.openMessage(bobCopy!)), Buffer.concat([prefix, bytes]));
  }));

  test("a delivery where some targets carry their own bytes (a Sieve-edited copy) stores each distinct blob once, atomically", using(open, async (fx) => {
    const alice = await fx.account("alice");
    const bob = await fx.account("bob");
    const aliceInbox = await fx.mailbox(alice.id);
    const aliceWork = await fx.mail.createMailbox(alice.id, "Work");
    const bobInbox = await fx.mailbox(bob.id);
    const bytes = fx.message();
    const editedBytes = Buffer.concat([Buffer.from("X-Edited: yes\r\n"), bytes]);
    const original = await fx.mail.stageMessage(bytes);
    // Two targets share one edited version: staged twice with the same bytes, it is one blob.
    const editedA = await fx.mail.stageMessage(editedBytes);
    const editedB = await fx.mail.stageMessage(editedBytes);
    const prefix = Buffer.from("Delivered-To: bob@example.test\r\n");
    const result = await fx.mail.deliver({
      source: original,
      targets: [{ mailboxId: aliceWork.id }, { mailboxId: aliceInbox.id, source: editedA }, { mailboxId: bobInbox.id, prefix, source: editedB }],
    });
    assert.equal(result.size, bytes.length);
    assert.deepEqual(result.copies.map((c) => c.mailboxId), [aliceWork.id, aliceInbox.id, bobInbox.id], "copies in target order");
    const read = async (mailboxId: typeof aliceInbox.id): Promise<Buffer> => readAll(fx.mail.openMessage((await fx.mail.getMessages(mailboxId, [asUid(1)]))[0]!));
    assert.deepEqual(await read(aliceWork.id), bytes);
    assert.deepEqual(await read(aliceInbox.id), editedBytes);
    assert.deepEqual(await read(bobInbox.id), Buffer.concat([prefix, editedBytes]));
    assert.equal((await fx.mail.listMessages(aliceInbox.id))[0]?.size, editedBytes.length);
    assert.equal((await fx.accounts.getAccount(alice.id))?.usedBytes, bytes.length + editedBytes.length);
    assert.equal((await fx.accounts.getAccount(bob.id))?.usedBytes, prefix.length + editedBytes.length);
    const blobs = fx.blobFileCount();
    if (blobs) assert.equal(await blobs, 2, "the received blob and the edited one");
    for (const m of [original, editedA, editedB]) m.discard();

    // Every target edited: the request's source is not needed. Over quota: nothing lands anywhere.
    const carol = await fx.account("carol", 100);
    const carolInbox = await fx.mailbox(carol.id);
    const big = await fx.mail.stageMessage(Buffer.concat([editedBytes, Buffer.alloc(200, 0x61), Buffer.from("\r\n")]));
    const small = await fx.mail.stageMessage(Buffer.from("Subject: s\r\n\r\nok\r\n"));
    await assert.rejects(
      fx.mail.deliver({ source: small, targets: [{ mailboxId: aliceWork.id, source: small }, { mailboxId: carolInbox.id, source: big }] }),
      (e) => isStoreError(e, "OVERQUOTA"),
    );
    assert.equal((await fx.mail.listMessages(aliceWork.id)).length, 1, "the copy that fitted was not stored either");
    assert.deepEqual(await fx.mail.listMessages(carolInbox.id), []);
    const fits = await fx.mail.deliver({ source: small, targets: [{ mailboxId: aliceWork.id, source: small }, { mailboxId: carolInbox.id, source: small }] });
    assert.deepEqual(fits.copies.map((c) => c.uid), [2, 1]);
    big.discard();
  }));

  test("a target over quota makes the whole delivery fail and stores nothing anywhere", using(open, async (fx) => {
    const alice = await fx.account("alice");
    const bob = await fx.account("bob", 100);
    const aliceInbox = await fx.mailbox(alice.id);
    const bobInbox = await fx.mailbox(bob.id);
    const bytes = Buffer.concat([fx.message(), Buffer.alloc(200, 0x61), Buffer.from("\r\n")]);
    await assert.rejects(fx.mail.deliver({ source: bytes, targets: [{ mailboxId: aliceInbox.id }, { mailboxId: bobInbox.id }] }), (e) => isStoreError(e, "OVERQUOTA"));
    assert.deepEqual(await fx.mail.listMessages(aliceInbox.id), []);
    assert.deepEqual(await fx.mail.listMessages(bobInbox.id), []);
    assert.equal((await fx.mail.mailboxStatus(aliceInbox.id)).uidNext, 1);
    assert.equal((await fx.accounts.getAccount(alice.id))?.usedBytes, 0);
    assert.equal((await fx.accounts.getAccount(bob.id))?.usedBytes, 0);
    const blobs = fx.blobFileCount();
    if (blobs) assert.equal(await blobs, 0);
    const small = await fx.mail.deliver({ source: Buffer.from("Subject: s\r\n\r\nok\r\n"), targets: [{ mailboxId: bobInbox.id }] });
    assert.equal(small.copies[0]?.uid, 1, "a delivery that fits still works");
  }));

  test("a message over maxBytes is refused with TOOBIG and leaves nothing", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    async function* big(): AsyncGenerator<Buffer> {
      yield Buffer.from("Subject: big\r\n\r\n");
      for (let i = 0; i < 100; i++) yield Buffer.alloc(1024, 0x62);
    }
    await assert.rejects(fx.mail.deliver({ source: big(), targets: [{ mailboxId: inbox.id }], maxBytes: 10_000 }), (e) => isStoreError(e, "TOOBIG"));
    await assert.rejects(fx.mail.append(inbox.id, Buffer.alloc(50, 0x61), { maxBytes: 49 }), (e) => isStoreError(e, "TOOBIG"));
    assert.deepEqual(await fx.mail.listMessages(inbox.id), []);
    const blobs = fx.blobFileCount();
    if (blobs) assert.equal(await blobs, 0);
    await fx.mail.append(inbox.id, Buffer.alloc(50, 0x61), { maxBytes: 50 });
  }));

  test("delivery to a missing mailbox or with bad flags is refused before anything is stored", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    await assert.rejects(fx.mail.deliver({ source: fx.message(), targets: [{ mailboxId: inbox.id }, { mailboxId: (inbox.id + 10_000) as typeof inbox.id }] }), (e) => isStoreError(e, "NONEXISTENT"));
    await assert.rejects(fx.mail.append(inbox.id, fx.message(), { flags: ["bad flag"] }), (e) => isStoreError(e, "INVALID"));
    await assert.rejects(fx.mail.append(inbox.id, fx.message(), { flags: ["\\Unknown"] }), (e) => isStoreError(e, "INVALID"));
    await assert.rejects(fx.mail.deliver({ source: fx.message(), targets: [] }), (e) => isStoreError(e, "INVALID"));
    assert.deepEqual(await fx.mail.listMessages(inbox.id), []);
  }));

  test("append keeps flags and INTERNALDATE; metadata has envelope, structure and size", using(open, async (fx) => {
    const { id } = await fx.account();
    const drafts = await fx.mailbox(id, "Drafts");
    const date = new Date("2024-03-01T10:20:30Z");
    const bytes = fx.message("hello structure");
    const copy = await fx.mail.append(drafts.id, Readable.from([bytes]), { flags: ["\\draft", "\\Seen", "$Work", "\\Recent"], internalDate: date });
    assert.equal(copy.uid, 1);
    assert.equal(copy.uidValidity, drafts.uidValidity);
    const [summary] = await fx.mail.listMessages(drafts.id);
    assert.deepEqual(summary?.flags, ["\\Draft", "\\Seen", "$Work"]);
    assert.equal(summary?.internalDate.getTime(), date.getTime());
    assert.equal(summary?.size, bytes.length);
    const [stored] = await fx.mail.getMessages(drafts.id, [copy.uid, asUid(99)]);
    assert.equal(stored?.envelope.subject, "hello structure");
    assert.equal(stored?.envelope.messageId, "<hellostructure@example.net>");
    assert.equal(stored?.prefixLength, 0);
    assert.equal(stored?.structure.headerStart, 0);
    assert.equal(stored?.structure.bodyEnd, bytes.length);
    assert.equal(stored?.modseq, copy.modseq);
  }));

  test("structure offsets of a message with a prefix point into prefix + blob", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const bytes = fx.message("offsets");
    const prefix = Buffer.from("Return-Path: <s@example.net>\r\nReceived: from x by y; Mon, 1 Jan 2024 00:00:00 +0000\r\n");
    const result = await fx.mail.deliver({ source: bytes, targets: [{ mailboxId: inbox.id, prefix }] });
    const [stored] = await fx.mail.getMessages(inbox.id, [result.copies[0]!.uid]);
    const whole = await readAll(fx.mail.openMessage(stored!));
    assert.equal(stored?.size, whole.length);
    assert.equal(stored?.prefixLength, prefix.length);
    assert.equal(stored?.structure.headerStart, 0);
    assert.equal(whole.subarray(stored!.structure.bodyStart, stored!.structure.bodyEnd).toString(), "offsets\r\nsecond line\r\n");
  }));

  test("openMessage returns the exact bytes, whole or any range", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const bytes = Buffer.concat([fx.message(), Buffer.from("x".repeat(70_000) + "\r\n")]);
    const prefix = Buffer.from("Received: by test\r\n");
    const { copies } = await fx.mail.deliver({ source: bytes, targets: [{ mailboxId: inbox.id, prefix }] });
    const [stored] = await fx.mail.getMessages(inbox.id, [copies[0]!.uid]);
    const whole = Buffer.concat([prefix, bytes]);
    assert.deepEqual(await readAll(fx.mail.openMessage(stored!)), whole);
    for (const [start, end] of [[0, 1], [0, prefix.length], [5, prefix.length + 7], [prefix.length, whole.length], [100, 65_636], [whole.length - 3, whole.length + 100], [10, 10]] as const) {
      assert.deepEqual(await readAll(fx.mail.openMessage(stored!, { start, end })), whole.subarray(start, end), `${start}-${end}`);
    }
  }));

  test("search text holds decoded header values and body text", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const copy = await fx.append(inbox.id, [], Buffer.from("Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nK=C3=A4se und Brot\r\n"));
    const text = await fx.mail.getSearchText(inbox.id, copy.uid);
    // Case-folded as SEARCH folds (mail/case-fold.ts): ß becomes ss.
    assert.ok(text?.includes("grüsse"), text ?? "null");
    assert.ok(text?.includes("käse und brot"), text ?? "null");
    assert.equal(await fx.mail.getSearchText(inbox.id, asUid(999)), null);
  }));

  test("UIDs strictly increase and are never reused after expunge, nor after reopening", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const uids = [];
    for (let i = 0; i < 3; i++) uids.push((await fx.append(inbox.id)).uid);
    assert.deepEqual(uids, [1, 2, 3]);
    await fx.mail.removeMessages(inbox.id, [asUid(2), asUid(3)]);
    assert.equal((await fx.append(inbox.id)).uid, 4);
    if (fx.canReopen) {
      await fx.mail.removeMessages(inbox.id, [asUid(4)]);
      await fx.reopen();
      assert.equal((await fx.mail.mailboxStatus(inbox.id)).uidNext, 5);
      assert.equal((await fx.append(inbox.id)).uid, 5);
      assert.deepEqual((await fx.mail.listMessages(inbox.id)).map((m) => m.uid), [1, 5]);
    }
  }));

  test("50 concurrent deliveries all succeed with distinct UIDs", using(open, async (fx) => {
    const { id } = await fx.account();
    const inbox = await fx.mailbox(id);
    const results = await Promise.all(Array.from({ length: 50 }, () => fx.mail.deliver({ source: Readable.from([fx.message()]), targets: [{ mailboxId: inbox.id }] })));
    const uids = results.map((r) => r.copies[0]!.uid);
    assert.equal(new Set(uids).size, 50);
    assert.deepEqual([...uids].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
    const listed = await fx.mail.listMessages(inbox.id);
    assert.equal(listed.length, 50);
    const modseqs = listed.map((m) => m.modseq);
    assert.equal(new Set(modseqs).size, 50, "each delivery is its own mutation with its own modseq");
    const used = listed.reduce((sum, m) => sum + m.size, 0);
    assert.equal((await fx.accounts.getAccount(id))?.usedBytes, used);
  }));
}

export function stagingContract(open: OpenBackend): void {
  test("a staged message can be read, delivered to several targets, and delivered again", using(open, async (fx) => {
    const alice = await fx.account("alice");
    const inbox = await fx.mailbox(alice.id);
    const archive = await fx.mailbox(alice.id, "Archive");
    const bytes = fx.message("staged");
    const staged = await fx.mail.stageMessage(Readable.from([bytes]));
    assert.equal(staged.size, bytes.length);
    assert.equal(staged.parsed.envelope.subject, "staged");
    assert.deepEqual(await readAll(staged.open()), bytes);
    const first = await fx.mail.deliver({ source: staged, targets: [{ mailboxId: inbox.id }] });
    const second = await fx.mail.deliver({ source: staged, targets: [{ mailboxId: archive.id, flags: ["\\Seen"] }] });
    staged.discard();
    assert.equal(first.size, bytes.length);
    assert.equal(second.copies[0]?.uid, 1);
    const [stored] = await fx.mail.getMessages(archive.id, [second.copies[0]!.uid]);
    assert.deepEqual(await readAll(fx.mail.openMessage(stored!)), bytes);
    const blobs = fx.blobFileCount();
    if (blobs) assert.equal(await blobs, 1);
  }));

  test("a staged message that is discarded leaves nothing; staging enforces maxBytes", using(open, async (fx) => {
    await fx.account();
    const staged = await fx.mail.stageMessage(fx.message());
    staged.discard();
    staged.discard();
    await assert.rejects(fx.mail.stageMessage(Buffer.alloc(100, 0x61), { maxBytes: 99 }), (e) => isStoreError(e, "TOOBIG"));
    const blobs = fx.blobFileCount();
    if (blobs) {
      // discard() returns at once; the file goes right after.
      for (let i = 0; i < 50 && (await blobs) !== 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(await fx.blobFileCount(), 0);
    }
  }));

  test("a staged message over quota fails but stays deliverable elsewhere", using(open, async (fx) => {
    const small = await fx.account("small", 10);
    const big = await fx.account("big");
    const staged = await fx.mail.stageMessage(fx.message());
    await assert.rejects(fx.mail.deliver({ source: staged, targets: [{ mailboxId: (await fx.mailbox(small.id)).id }] }), (e) => isStoreError(e, "OVERQUOTA"));
    const ok = await fx.mail.deliver({ source: staged, targets: [{ mailboxId: (await fx.mailbox(big.id)).id }] });
    staged.discard();
    assert.equal(ok.copies.length, 1);
    assert.equal((await fx.accounts.getAccount(small.id))?.usedBytes, 0);
  }));
}
