// Import into a real SQLite store: Maildir++ folders with flags and Dovecot keywords, an mbox and
// an .eml folder; running the same import again adds nothing; a vanished file is reported.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withScratchStore } from "../store/sqlite/scratch-store.js";
import type { AccountId, MailboxId } from "../store/index.js";
import { importMessages, MessageRing, toCrlf } from "./importer.js";
import { maildirFlags } from "./maildir-reader.js";

async function maildir(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "mailroom-maildir-"));
  for (const dir of ["cur", "new", "tmp", ".Work.2024/cur", ".Work.2024/new", ".&AMk-t&AOk-/cur"]) await mkdir(join(root, dir), { recursive: true });
  await writeFile(join(root, "dovecot-keywords"), "0 $Label1\n1 project\n");
  await writeFile(join(root, "dovecot-uidlist"), "3 V1234 N9 Gabc\n7 :1700000002.M2.host\n4 W120 :1700000001.M1.host\n");
  await writeFile(join(root, "cur", "1700000001.M1.host:2,SF"), "Subject: first\nFrom: a@x.test\n\nbody one\n");
  await writeFile(join(root, "cur", "1700000002.M2.host:2,Rab"), "Subject: second\nFrom: a@x.test\n\nbody two\n");
  await writeFile(join(root, "new", "1700000003.M3.host"), "Subject: third\nFrom: a@x.test\n\nbody three\n");
  await writeFile(join(root, ".Work.2024", "cur", "1700000004.M4.host:2,T"), "Subject: work\n\nw\n");
  await writeFile(join(root, ".&AMk-t&AOk-", "cur", "1700000005.M5.host:2,"), "Subject: summer\n\ns\n");
  await utimes(join(root, "cur", "1700000001.M1.host:2,SF"), new Date("2020-01-02T03:04:05Z"), new Date("2020-01-02T03:04:05Z"));
  return root;
}

test("Maildir flags: letters and Dovecot keywords", () => {
  const keywords = new Map([["a", "$Label1"], ["b", "project"]]);
  assert.deepEqual(maildirFlags("123.M1:2,DFPRST", keywords), ["\\Draft", "\\Flagged", "$Forwarded", "\\Answered", "\\Seen", "\\Deleted"]);
  assert.deepEqual(maildirFlags("123.M1:2,ab", keywords), ["$Label1", "project"]);
  assert.deepEqual(maildirFlags("123.M1;2,S", keywords), ["\\Seen"]);
  assert.deepEqual(maildirFlags("123.M1", keywords), []);
  assert.deepEqual(toCrlf(Buffer.from("a\nb\r\nc\n")).toString(), "a\r\nb\r\nc\r\n");
});

test("a Maildir++ tree with flags, keywords, folder names and dates; a second run adds nothing", () =>
  withScratchStore(async (store, _dir, inbox) => {
    const root = await maildir();
    try {
      const account = (await store.getMailboxById(inbox as MailboxId))!.accountId as AccountId;
      const first = await importMessages({ store, accountId: account, path: root, maxMessageBytes: 1 << 20 });
      assert.equal(first.kind, "maildir");
      assert.deepEqual(first.folders.map((f) => [f.mailbox, f.imported, f.duplicates]), [["INBOX", 3, 0], ["Été", 1, 0], ["Work/2024", 1, 0]]);
      const messages = await store.getMessages(inbox as MailboxId, (await store.listMessages(inbox as MailboxId)).map((m) => m.uid));
      assert.deepEqual(messages.map((m) => m.envelope.subject), ["first", "second", "third"], "the uidlist order is kept");
      assert.deepEqual(messages.map((m) => m.uid), [4, 7, 8], "Dovecot's UIDs are kept; an unlisted new message comes after");
      assert.equal((await store.getMailboxById(inbox as MailboxId))!.uidValidity, 1234, "and its UIDVALIDITY, adopted by the unused INBOX");
      assert.deepEqual(messages[0]!.flags.slice().sort(), ["\\Flagged", "\\Seen"]);
      assert.deepEqual(messages[1]!.flags.slice().sort(), ["$Label1", "\\Answered", "project"].sort());
      assert.deepEqual(messages[0]!.internalDate, new Date("2020-01-02T03:04:05Z"));
      const work = await store.getMailbox(account, "Work/2024");
      assert.ok(work, "Maildir++ folders become mailboxes");
      const again = await importMessages({ store, accountId: account, path: root, maxMessageBytes: 1 << 20 });
      assert.deepEqual(again.folders.map((f) => [f.imported, f.duplicates]), [[0, 3], [0, 1], [0, 1]]);
      assert.equal((await store.listMessages(inbox as MailboxId)).length, 3);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }));

test("an mbox into a named mailbox, and an .eml folder; oversized messages reported", () =>
  withScratchStore(async (store, _dir, inbox) => {
    const dir = await mkdtemp(join(tmpdir(), "mailroom-mbox-"));
    try {
      const account = (await store.getMailboxById(inbox as MailboxId))!.accountId as AccountId;
      const mbox = join(dir, "old.mbox");
      await writeFile(mbox, `From a@x Tue Dec  1 10:00:00 2026\nSubject: m1\nStatus: RO\n\none\n\nFrom a@x Tue Dec  1 10:00:01 2026\nSubject: m2\n\n${"y".repeat(3000)}\n`);
      const report = await importMessages({ store, accountId: account, path: mbox, mailbox: "Archive/Old", maxMessageBytes: 2000 });
      assert.deepEqual(report.folders, [{ mailbox: "Archive/Old", imported: 1, duplicates: 0, skipped: 1 }]);
      assert.equal(report.problemCount, 1);
      assert.match(report.problems[0]!, /old\.mbox message 2: larger than 2000 octets/);
      const eml = join(dir, "eml");
      await mkdir(eml);
      await writeFile(join(eml, "a.eml"), "Subject: e1\n\nx\n");
      await writeFile(join(eml, "b.EML"), "Subject: e2\n\ny\n");
      await writeFile(join(eml, "notes.txt"), "not a message");
      const emlReport = await importMessages({ store, accountId: account, path: eml, maxMessageBytes: 1 << 20 });
      assert.deepEqual(emlReport.folders, [{ mailbox: "INBOX", imported: 2, duplicates: 0, skipped: 0 }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }));

test("MessageRing: live buffers never overlap, given back oldest first; wraps; too big or full gets a buffer of its own", () => {
  const ring = new MessageRing(100);
  const inRing = (b: Buffer) => b.buffer === ring["buffer"].buffer;
  const a = ring.allocate(40);
  const b = ring.allocate(40);
  a.fill(1);
  b.fill(2);
  assert.ok(inRing(a) && inRing(b));
  const c = ring.allocate(40); // 80 + 40 > 100 and the oldest starts at 0: no room
  assert.ok(!inRing(c), "full: a buffer of its own");
  ring.release(c); // not the ring's: ignored
  ring.release(a);
  const d = ring.allocate(30); // wraps to 0..30, before b (40..80)
  assert.ok(inRing(d));
  d.fill(4);
  assert.ok(b.every((x) => x === 2), "a live buffer is never overwritten");
  assert.ok(!inRing(ring.allocate(20)), "10 octets free before b: no room");
  ring.release(b);
  ring.release(d);
  assert.ok(!inRing(ring.allocate(101)), "larger than the ring");
  const e = ring.allocate(100);
  assert.ok(inRing(e), "empty again: the whole ring");
});
