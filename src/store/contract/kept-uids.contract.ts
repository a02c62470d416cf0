// Conformance: keeping another server's UIDVALIDITY and UIDs (mailroom import of a Dovecot
// Maildir with dovecot-uidlist, docs/architecture.md "Import, export and migration"), so its
// clients do not download everything again. RFC 9051 §2.3.1.1: UIDs still strictly increase and
// are never reused; a UID skipped over is never handed out later.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isStoreError, type Uid, type UidValidity } from "../index.js";
import { type OpenBackend, readAll, using } from "./fixture.js";

export function keptUidContract(open: OpenBackend): void {
  test("createMailbox keeps a given UIDVALIDITY; its new parents get fresh ones; out of range is INVALID", using(open, async (fx) => {
    const alice = await fx.account("alice");
    const box = await fx.mail.createMailbox(alice.id, "Old/Work", { uidValidity: 1234567890 as UidValidity });
    assert.equal(box.uidValidity, 1234567890);
    assert.equal((await fx.mailbox(alice.id, "Old/Work")).uidValidity, 1234567890);
    assert.notEqual((await fx.mailbox(alice.id, "Old")).uidValidity, 1234567890);
    for (const bad of [0, -1, 2 ** 32, 1.5]) {
      await assert.rejects(fx.mail.createMailbox(alice.id, `Bad${String(bad).replace(/\W/g, "")}`, { uidValidity: bad as UidValidity }), (e) => isStoreError(e, "INVALID"));
    }
  }));

  test("adoptUidValidity changes an unused mailbox's UIDVALIDITY and refuses one that has held a message", using(open, async (fx) => {
    const alice = await fx.account("alice");
    const inbox = await fx.mailbox(alice.id);
    const adopted = await fx.mail.adoptUidValidity(inbox.id, 77 as UidValidity);
    assert.equal(adopted.uidValidity, 77);
    assert.equal((await fx.mail.mailboxStatus(inbox.id)).uidValidity, 77);
    const sent = await fx.mailbox(alice.id, "Sent");
    await fx.append(sent.id, ["\\Deleted"]);
    await fx.mail.expungeDeleted(sent.id);
    await assert.rejects(fx.mail.adoptUidValidity(sent.id, 78 as UidValidity), (e) => isStoreError(e, "CANNOT"), "emptied is not unused: UID 1 was handed out");
    assert.equal((await fx.mailbox(alice.id, "Sent")).uidValidity, sent.uidValidity);
    await assert.rejects(fx.mail.adoptUidValidity(inbox.id, 0 as UidValidity), (e) => isStoreError(e, "INVALID"));
  }));

  test("appendStaged with kept UIDs stores them, moves UIDNEXT past the last, and never reuses a skipped UID", using(open, async (fx) => {
    const alice = await fx.account("alice");
    const box = await fx.mail.createMailbox(alice.id, "Kept", { uidValidity: 4242 as UidValidity });
    const bytes = [fx.message(), fx.message(), fx.message()];
    const staged = await Promise.all(bytes.map((b) => fx.mail.stageMessage(b)));
    const date = new Date("2023-05-06T07:08:09Z");
    const copies = await fx.mail.appendStaged(box.id, staged.map((source, i) => ({ source, uid: [3, 7, 20][i] as Uid, flags: i === 0 ? ["\\Seen", "$Work"] : [], internalDate: date })));
    assert.deepEqual(copies.map((c) => c.uid), [3, 7, 20]);
    assert.ok(copies.every((c) => c.uidValidity === 4242));
    const status = await fx.mail.mailboxStatus(box.id);
    assert.equal(status.uidNext, 21);
    const stored = await fx.mail.getMessages(box.id, [3, 7, 20] as Uid[]);
    assert.deepEqual(stored.map((m) => m.uid), [3, 7, 20]);
    assert.deepEqual([...stored[0]!.flags].sort(), ["$Work", "\\Seen"]);
    assert.equal(stored[1]!.internalDate.getTime(), date.getTime());
    assert.deepEqual(await readAll(fx.mail.openMessage(stored[2]!)), bytes[2]);
    // An ordinary append goes on after the kept ones.
    assert.equal((await fx.append(box.id)).uid, 21);
    // Below UIDNEXT (or not ascending): refused, nothing stored.
    const late = await fx.mail.stageMessage(fx.message());
    await assert.rejects(fx.mail.appendStaged(box.id, [{ source: late, uid: 10 as Uid }]), (e) => isStoreError(e, "INVALID"));
    const twoMore = await Promise.all([fx.message(), fx.message()].map((b) => fx.mail.stageMessage(b)));
    await assert.rejects(fx.mail.appendStaged(box.id, [{ source: twoMore[0]!, uid: 40 as Uid }, { source: twoMore[1]!, uid: 30 as Uid }]), (e) => isStoreError(e, "INVALID"));
    await assert.rejects(fx.mail.appendStaged(box.id, [{ source: twoMore[0]!, uid: 50 as Uid }, { source: twoMore[1]!, uid: 22 as Uid }]), (e) => isStoreError(e, "INVALID"), "a later UID below UIDNEXT fails the whole call");
    assert.equal((await fx.mail.listMessages(box.id)).length, 4, "the failed calls stored nothing");
    assert.equal((await fx.mail.mailboxStatus(box.id)).uidNext, 22);
  }));
}

export function migrationStateContract(open: OpenBackend): void {
  test("migration state: a folder's mark and its copied messages are recorded together, listed, and forgotten", using(open, async (fx) => {
    const migrations = fx.handles.migrations;
    if (!migrations) return;
    const alice = await fx.account("alice");
    const bob = await fx.account("bob");
    const inbox = await fx.mailbox(alice.id);
    const source = "imaps://old@mail.example.net:993";
    assert.equal(await migrations.getMigrationFolder(alice.id, source, "INBOX"), null);
    await migrations.recordMigration(alice.id, source, "INBOX", { uidValidity: 4000000000, lastUid: 12, mailbox: "INBOX" }, [
      { key: "11", mailboxId: inbox.id, uid: 1 as Uid },
      { key: "12", mailboxId: inbox.id, uid: 2 as Uid },
    ]);
    await migrations.recordMigration(alice.id, source, "INBOX", { uidValidity: 4000000000, lastUid: 15, mailbox: "INBOX" }, [{ key: "15", mailboxId: inbox.id, uid: 3 as Uid }]);
    assert.deepEqual(await migrations.getMigrationFolder(alice.id, source, "INBOX"), { uidValidity: 4000000000, lastUid: 15, mailbox: "INBOX" });
    const copied = await migrations.listMigrated(alice.id, source, "INBOX");
    assert.deepEqual([...copied.keys()].sort(), ["11", "12", "15"]);
    assert.deepEqual(copied.get("15"), { mailboxId: inbox.id, uid: 3 });
    assert.equal((await migrations.listMigrated(bob.id, source, "INBOX")).size, 0, "per account");
    assert.equal(await migrations.getMigrationFolder(alice.id, "pop3s://old@mail.example.net:995", "INBOX"), null, "per source");
    await migrations.forgetMigrationFolder(alice.id, source, "INBOX");
    assert.equal(await migrations.getMigrationFolder(alice.id, source, "INBOX"), null);
    assert.equal((await migrations.listMigrated(alice.id, source, "INBOX")).size, 0);
  }));
}
