// The pieces of `mailroom migrate` without a network: --from parsing, folder names from LIST
// (modified UTF-7, other delimiters, names that do not decode), POP3 dates, and the receiving
// side's crash window (a batch stored but not recorded is recognised by its bytes on the next
// run, never stored twice) and flag sync, on a real SQLite store.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AccountId, MailboxId, Uid } from "../store/index.js";
import { withScratchStore } from "../store/sqlite/scratch-store.js";
import { mapFolderName, parseSource } from "./migrate-imap.js";
import { receivedDate } from "./migrate-pop3.js";
import { MigrationTarget } from "./migrate-target.js";

test("--from: schemes, default ports, a percent-encoded user; no password, path or unknown scheme", () => {
  const source = parseSource("imaps://old%40example.net@mail.example.net", "pw", false);
  assert.deepEqual({ ...source, password: "" }, { protocol: "imaps", host: "mail.example.net", port: 993, user: "old@example.net", password: "", insecureTls: false, key: "imaps://old%40example.net@mail.example.net:993" });
  assert.equal(parseSource("imap://u@h", "p", false).port, 143);
  assert.equal(parseSource("pop3s://u@h", "p", false).port, 995);
  assert.equal(parseSource("pop3://u@h:1110", "p", true).port, 1110);
  assert.throws(() => parseSource("imaps://u:secret@h", "p", false), /must not carry the password/);
  assert.throws(() => parseSource("https://u@h", "p", false), /must start with imaps:/);
  assert.throws(() => parseSource("imaps://h", "p", false), /must name the user/);
  assert.throws(() => parseSource("imaps://u@h/INBOX", "p", false), /no path/);
  assert.throws(() => parseSource("not a url", "p", false), /must be a URL/);
});

test("folder names: modified UTF-7 decoded, mapped onto '/', bad names refused with a reason", () => {
  assert.deepEqual(mapFolderName({ path: "", pathAsListed: "Work/&AMk-t&AOk- &- Co", delimiter: "/" }, false), { name: "Work/Été & Co" });
  assert.deepEqual(mapFolderName({ path: "", pathAsListed: "INBOX.Sub.a/b", delimiter: "." }, false), { name: "INBOX/Sub/a_b" });
  assert.deepEqual(mapFolderName({ path: "", pathAsListed: "inbox", delimiter: "/" }, false), { name: "INBOX" });
  assert.deepEqual(mapFolderName({ path: "", pathAsListed: "Flat", delimiter: "" }, false), { name: "Flat" });
  assert.deepEqual(mapFolderName({ path: "", pathAsListed: "Été/Sub", delimiter: "/" }, true), { name: "Été/Sub" }, "UTF8=ACCEPT names are taken as they are");
  assert.match((mapFolderName({ path: "", pathAsListed: "Bad&Jjo", delimiter: "/" }, false) as { problem: string }).problem, /not valid modified UTF-7/);
  assert.match((mapFolderName({ path: "", pathAsListed: "Bad\u00e9", delimiter: "/" }, false) as { problem: string }).problem, /not valid modified UTF-7/);
  assert.match((mapFolderName({ path: "", pathAsListed: "Bad\uFFFD", delimiter: "/" }, true) as { problem: string }).problem, /not valid UTF-8/);
  assert.match((mapFolderName({ path: "", pathAsListed: "a/../b", delimiter: "/" }, false) as { problem: string }).problem, /"\.\."/);
});

test("POP3 messages are dated by their newest Received field, else Date:", () => {
  const received = Buffer.from("Received: from a by b;\r\n Tue, 2 Jan 2018 03:04:05 +0100\r\nReceived: from c by d; Mon, 1 Jan 2018 00:00:00 +0000\r\nDate: Sun, 31 Dec 2017 10:00:00 +0000\r\n\r\nx\r\n");
  assert.deepEqual(receivedDate(received), new Date("2018-01-02T02:04:05Z"));
  assert.deepEqual(receivedDate(Buffer.from("Date: Sun, 31 Dec 2017 10:00:00 +0000\r\n\r\nx\r\n")), new Date("2017-12-31T10:00:00Z"));
  assert.equal(receivedDate(Buffer.from("Subject: none\r\n\r\nx\r\n")), null);
});

test("a batch stored but not recorded (the process died in between) is recognised by its bytes; flags sync to the source's", () =>
  withScratchStore(async (store, _dir, inboxNumber) => {
    const inbox = inboxNumber as MailboxId;
    const accountId = (await store.getMailboxById(inbox))!.accountId as AccountId;
    const source = "imaps://old@example.net:993";
    const message = (i: number) => Buffer.from(`Subject: ${i}\r\nMessage-ID: <${i}@x>\r\n\r\nbody ${i}\r\n`);
    const state = { uidValidity: 77, lastUid: 0, mailbox: "INBOX" };
    // A state store that loses every record, as a crash right after the append would.
    const forgetful = { ...store, recordMigration: async () => {}, getMigrationFolder: store.getMigrationFolder.bind(store), listMigrated: store.listMigrated.bind(store), forgetMigrationFolder: store.forgetMigrationFolder.bind(store) };
    const first = await MigrationTarget.open(store, forgetful, accountId, source, "INBOX", inbox, "INBOX", state);
    for (let i = 1; i <= 3; i++) await first.add(String(i * 10), message(i), 40, ["\\Seen"], new Date("2020-01-01T00:00:00Z"), 1 << 20, i * 10);
    await first.flush();
    assert.equal(first.counts.copied, 3);
    assert.equal(await store.getMigrationFolder(accountId, source, "INBOX"), null, "nothing recorded");

    const second = await MigrationTarget.open(store, store, accountId, source, "INBOX", inbox, "INBOX", state);
    for (let i = 1; i <= 4; i++) await second.add(String(i * 10), message(i), 40, i === 2 ? ["\\Flagged"] : ["\\Seen"], new Date("2020-01-01T00:00:00Z"), 1 << 20, i * 10);
    await second.flush();
    assert.deepEqual(second.counts, { copied: 1, present: 3, skipped: 0, flagsSynced: 0 });
    assert.equal((await store.listMessages(inbox)).length, 4, "no message twice");
    assert.deepEqual(await store.getMigrationFolder(accountId, source, "INBOX"), { uidValidity: 77, lastUid: 40, mailbox: "INBOX" });
    const copied = await store.listMigrated(accountId, source, "INBOX");
    assert.deepEqual([...copied.keys()].sort(), ["10", "20", "30", "40"]);

    // Flag sync: the source's flags win; an unchanged message is left alone.
    await second.syncFlags([
      { uid: copied.get("20")!.uid, flags: ["\\Flagged", "$Work"] },
      { uid: copied.get("30")!.uid, flags: ["\\Seen"] },
    ]);
    assert.equal(second.counts.flagsSynced, 1);
    const [twenty] = await store.getSummaries(inbox, [copied.get("20")!.uid as Uid]);
    assert.deepEqual([...twenty!.flags].sort(), ["$Work", "\\Flagged"]);

    // Too big: skipped, and the mark moves past it.
    const third = await MigrationTarget.open(store, store, accountId, source, "INBOX", inbox, "INBOX", (await store.getMigrationFolder(accountId, source, "INBOX"))!);
    assert.equal(await third.add("50", Buffer.alloc(5000, 97), 5000, [], null, 1000, 50), "toobig");
    await third.flush();
    assert.equal((await store.getMigrationFolder(accountId, source, "INBOX"))!.lastUid, 50);
  }));

test("the same bytes twice in one batch: one copy stored, both source UIDs recorded against its real UID", () =>
  withScratchStore(async (store, _dir, inboxNumber) => {
    const inbox = inboxNumber as MailboxId;
    const accountId = (await store.getMailboxById(inbox))!.accountId as AccountId;
    const source = "imaps://old@example.net:993";
    const bytes = Buffer.from("Subject: twice\r\nMessage-ID: <twice@x>\r\n\r\nsame body\r\n");
    const target = await MigrationTarget.open(store, store, accountId, source, "INBOX", inbox, "INBOX", { uidValidity: 5, lastUid: 0, mailbox: "INBOX" });
    assert.equal(await target.add("1", bytes, bytes.length, [], null, 1 << 20, 1), "queued");
    assert.equal(await target.add("2", bytes, bytes.length, [], null, 1 << 20, 2), "present");
    await target.flush();
    const stored = await store.listMessages(inbox);
    assert.equal(stored.length, 1, "stored once");
    const recorded = await store.listMigrated(accountId, source, "INBOX");
    assert.deepEqual([...recorded.keys()].sort(), ["1", "2"]);
    for (const entry of recorded.values()) assert.equal(entry.uid, stored[0]!.uid, "a real UID, not a placeholder");
  }));
