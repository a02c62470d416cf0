// Export then import round trips on a real SQLite store: an account's mailboxes (nested, UTF-8,
// "&", "%", a leading ".") with every system flag, keywords, INTERNALDATEs and bodies with "From "
// lines, exported as mbox and as Maildir++, imported into other accounts: the same messages
// (bytes), flags, keywords and dates come back, and the Maildir export keeps the UIDs. A cut
// mbox is reported, not stored broken.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { AccountId, Mailbox, UidValidity } from "../store/index.js";
import type { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { withScratchStore } from "../store/sqlite/scratch-store.js";
import { asctime, fileLevel, levelFromFile, maildirFolder, mboxStatusLines } from "./exporter.js";
import { exportMessages } from "./exporter.js";
import { importMessages } from "./importer.js";
import { maildirFlags } from "./maildir-reader.js";
import { statusFlags } from "./mbox-reader.js";

const NAMES = ["INBOX", "Work/Été & Co", "Work/Été & Co/Deep", "100% done", ".hidden", "Sent"];
const FLAG_SETS = [[], ["\\Seen"], ["\\Seen", "\\Answered", "$Label1"], ["\\Flagged", "\\Draft", "project-x"], ["\\Deleted", "\\Seen", "$Forwarded", "$Junk"]];

function body(name: string, i: number): Buffer {
  const text = [
    `From: Sender ${i} <s${i}@example.net>`,
    `Subject: ${name} ${i}`,
    `Message-ID: <${i}.${name.replace(/\W/g, "")}@example.net>`,
    "",
    "From the top of the body, a line mbox must quote.",
    ">From an already quoted line",
    ">>From twice",
    i % 2 === 0 ? "" : "a line after which the message ends with an empty line",
    "",
  ].join("\r\n");
  return Buffer.from(text);
}

interface Seen {
  sha: string;
  flags: string[];
  date: number;
  uid: number;
}

async function contents(store: SqliteStore, accountId: AccountId): Promise<Map<string, Seen[]>> {
  const out = new Map<string, Seen[]>();
  for (const box of await store.listMailboxes(accountId)) {
    const uids = (await store.listMessages(box.id)).map((m) => m.uid);
    const rows: Seen[] = [];
    for (const message of await store.getMessages(box.id, uids)) {
      const bytes = (await store.readMessages(box.id, [message.uid], { maxSize: 1 << 20 })).get(message.uid)!;
      rows.push({ sha: createHash("sha256").update(bytes).digest("hex"), flags: [...message.flags].sort(), date: message.internalDate.getTime(), uid: message.uid });
    }
    if (rows.length > 0) out.set(box.name, rows);
  }
  return out;
}

async function fill(store: SqliteStore, accountId: AccountId): Promise<void> {
  for (const [n, name] of NAMES.entries()) {
    const box: Mailbox = (await store.getMailbox(accountId, name)) ?? (await store.createMailbox(accountId, name));
    for (let i = 0; i < 12; i++) {
      await store.append(box.id, body(name, i), { flags: FLAG_SETS[i % FLAG_SETS.length]!, internalDate: new Date(Date.UTC(2020, n, 1 + i, 10, i, 7)) });
    }
  }
}

test("export as mbox and as Maildir++, import each into another account: same bytes, flags, keywords, dates", () =>
  withScratchStore(async (store, _dataDir, inbox) => {
    const dir = await mkdtemp(join(tmpdir(), "mailroom-export-"));
    try {
      const source = (await store.getMailboxById(inbox as never))!.accountId;
      await fill(store, source);
      const original = await contents(store, source);
      assert.equal(original.size, NAMES.length);

      for (const format of ["mbox", "maildir"] as const) {
        const out = join(dir, format);
        const report = await exportMessages({ store, accountId: source, dir: out, format });
        assert.equal(report.folders.filter((f) => f.messages > 0).length, NAMES.length);
        const target = await store.createAccount({ address: `${format}@example.test`, passwordHash: "x" });
        const imported = await importMessages({ store, accountId: target.id, path: out, maxMessageBytes: 1 << 20 });
        assert.equal(imported.kind, format === "mbox" ? "mbox-tree" : "maildir");
        assert.equal(imported.problemCount, 0, imported.problems.join("\n"));
        // Maildir++ separates levels with ".": a "." in a name is written as "_" (and reported).
        const named = (name: string) => (format === "maildir" ? name.replaceAll(".", "_") : name);
        if (format === "maildir") assert.match(report.problems.join("\n"), /mailbox \.hidden: "\." separates Maildir\+\+ levels, written as "_" in \._hidden/);
        const back = await contents(store, target.id);
        assert.deepEqual([...back.keys()].sort(), [...original.keys()].map(named).sort(), `${format}: the same mailboxes`);
        for (const [originalName, rows] of original) {
          const name = named(originalName);
          const strip = (r: Seen[]) => r.map(({ sha, flags, date }) => ({ sha, flags, date }));
          assert.deepEqual(strip(back.get(name)!), strip(rows), `${format} ${name}: bytes, flags, keywords and dates in order`);
          if (format === "maildir") {
            assert.deepEqual(back.get(name)!.map((r) => r.uid), rows.map((r) => r.uid), `${name}: UIDs kept through dovecot-uidlist`);
            const sourceBox = (await store.getMailbox(source, originalName))!;
            assert.equal((await store.getMailbox(target.id, name))!.uidValidity, sourceBox.uidValidity as UidValidity);
          }
        }
        // Running the import again adds nothing.
        const again = await importMessages({ store, accountId: target.id, path: out, maxMessageBytes: 1 << 20 });
        assert.ok(again.folders.every((f) => f.imported === 0));
      }
      const mbox = await readFile(join(dir, "mbox", "Work", "Été & Co.mbox"), "utf8");
      assert.match(mbox, /^From MAILER-DAEMON Sat Feb {2}1 10:00:07 2020$/m);
      assert.match(mbox, /^>From the top/m);
      assert.match(mbox, /^>>From an already quoted line$/m);
      assert.match(mbox, /^Status: RO\nX-Status: A\nX-Keywords: \$Label1\n\n/m);
      assert.ok((await readFile(join(dir, "mbox", "%2Ehidden.mbox"))).length > 0, "a leading dot is escaped");
      assert.ok((await readFile(join(dir, "mbox", "100%25 done.mbox"))).length > 0, "so is %");
      assert.equal(await readFile(join(dir, "maildir", ".Work.&AMk-t&AOk- &- Co", "dovecot-keywords"), "utf8"), "0 $Label1\n1 project-x\n2 $Junk\n");

      // Export refuses a directory that is not empty.
      await assert.rejects(exportMessages({ store, accountId: source, dir: join(dir, "mbox"), format: "mbox" }), /not empty/);

      // A copy of the mbox cut in the middle of a line: the whole messages go in, the cut one is reported.
      const cut = join(dir, "cut.mbox");
      await writeFile(cut, await readFile(join(dir, "mbox", "INBOX.mbox")));
      const whole = (await readFile(cut)).length;
      await truncate(cut, whole - 20);
      const partial = await store.createAccount({ address: "cut@example.test", passwordHash: "x" });
      const report = await importMessages({ store, accountId: partial.id, path: cut, maxMessageBytes: 1 << 20 });
      assert.deepEqual(report.folders, [{ mailbox: "INBOX", imported: 11, duplicates: 0, skipped: 1 }]);
      assert.match(report.problems[0]!, /message 12: the file ends mid-line/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }));

test("the pieces: asctime, status fields, file and folder names", () => {
  assert.equal(asctime(new Date("2026-12-01T10:00:00Z")), "Tue Dec  1 10:00:00 2026");
  const flags = ["\\Seen", "\\Answered", "\\Flagged", "\\Draft", "\\Deleted", "$Label1", "work"];
  const lines = mboxStatusLines(flags);
  assert.equal(lines, "Status: RO\nX-Status: AFTD\nX-Keywords: $Label1 work\n");
  assert.deepEqual(statusFlags(lines).sort(), [...flags].sort(), "the reader reads back what the writer writes");
  assert.equal(mboxStatusLines([]), "Status: O\n");
  assert.equal(levelFromFile(fileLevel(".a%b")), ".a%b");
  assert.deepEqual(maildirFolder("Work/Été & Co"), { folder: ".Work.&AMk-t&AOk- &- Co", replaced: false });
  assert.deepEqual(maildirFolder("v1.2"), { folder: ".v1_2", replaced: true });
  assert.deepEqual(maildirFlags("1.M1.mailroom,S=5:2,DFPRSTab", new Map([["a", "$Label1"], ["b", "x"]])).sort(), ["$Forwarded", "$Label1", "\\Answered", "\\Deleted", "\\Draft", "\\Flagged", "\\Seen", "x"]);
});
