// `mailroom import` as an operator runs it: a Maildir++ tree (flags, Dovecot keywords, nested and
// UTF-8 folder names) into an account of a running server, through its control socket; python's
// imaplib sees the folders, flags, keywords and INTERNALDATEs; running it again adds nothing; an
// mbox goes into a named folder; a missing path is a clear error.
import assert from "node:assert/strict";
import { mkdir, rm, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { listenerPort, makeScratch, runMailroom, serveConfig, startServeProcess } from "../harness/mailroom-process.js";
import { runPython } from "../harness/python.js";

const LIST = `
import imaplib, json, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("alice@example.org", "a long password")
m.enable("UTF8=ACCEPT")
out = {}
for box in ["INBOX", "Work/2024", "Été", "Old"]:
    typ, data = m.select('"' + box + '"', readonly=True)
    if typ != "OK":
        out[box] = None
        continue
    typ, data = m.fetch("1:*", "(FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])") if int(data[0]) > 0 else ("OK", [])
    out[box] = [[p[0].decode(), p[1].decode().strip()] for p in data if isinstance(p, tuple)]
print(json.dumps(out))
`;

test("import a Maildir++ tree and an mbox into a running server; a second run adds nothing", async () => {
  const s = await makeScratch(serveConfig({ plaintextAuthOnLoopback: true, listeners: [{ protocol: "imap" }] }));
  try {
    const store = await openSqliteStore({ dataDir: s.dataDir });
    await store.addDomain("example.org");
    await store.close();
    assert.equal((await runMailroom(["user", "add", "alice@example.org"], { env: s.env, input: "a long password\n" })).code, 0);

    const maildir = join(s.dir, "Maildir");
    for (const dir of ["cur", "new", ".Work.2024/cur", ".&AMk-t&AOk-/cur"]) await mkdir(join(maildir, dir), { recursive: true });
    await writeFile(join(maildir, "dovecot-keywords"), "0 $Label1\n");
    await writeFile(join(maildir, "cur", "1700000001.M1.host:2,Sa"), "Subject: seen and labelled\nFrom: a@x.test\n\none\n");
    await writeFile(join(maildir, "new", "1700000002.M2.host"), "Subject: unread\nFrom: a@x.test\n\ntwo\n");
    await writeFile(join(maildir, ".Work.2024", "cur", "1700000003.M3.host:2,FR"), "Subject: work\n\nthree\n");
    await writeFile(join(maildir, ".&AMk-t&AOk-", "cur", "1700000004.M4.host:2,"), "Subject: summer\n\nfour\n");
    await utimes(join(maildir, "cur", "1700000001.M1.host:2,Sa"), new Date("2021-03-04T05:06:07Z"), new Date("2021-03-04T05:06:07Z"));
    const mbox = join(s.dir, "old.mbox");
    await writeFile(mbox, "From a@x Tue Dec  1 10:00:00 2026\nSubject: from the mbox\nStatus: RO\n\nhello\n>From quoted\n");

    const server = await startServeProcess(s.env);
    try {
      const first = await runMailroom(["import", "--account", "alice@example.org", maildir], { env: s.env });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /^INBOX: 2 imported, 0 already there, 0 skipped$/m);
      assert.match(first.stdout, /^Work\/2024: 1 imported/m);
      assert.match(first.stdout, /^Été: 1 imported/m);
      assert.match(first.stdout, /^import \(maildir\) into alice@example\.org: done/m);
      const again = await runMailroom(["import", "--account", "alice@example.org", maildir], { env: s.env });
      assert.match(again.stdout, /^INBOX: 0 imported, 2 already there, 0 skipped$/m);
      const fromMbox = await runMailroom(["import", "--account", "alice@example.org", "--mailbox", "Old", mbox], { env: s.env });
      assert.equal(fromMbox.code, 0, fromMbox.stderr);
      assert.match(fromMbox.stdout, /^Old: 1 imported/m);
      const missing = await runMailroom(["import", "--account", "alice@example.org", join(s.dir, "nothing-here")], { env: s.env });
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /cannot read .*nothing-here/);

      const boxes = JSON.parse(await runPython(LIST, [String(listenerPort(server.banner, "imap"))])) as Record<string, [string, string][] | null>;
      assert.equal(boxes["INBOX"]!.length, 2);
      const [seen, unread] = boxes["INBOX"]!;
      assert.match(seen![0], /FLAGS \([^)]*\\Seen/);
      assert.match(seen![0], /FLAGS \([^)]*\$Label1/);
      assert.match(seen![0], /INTERNALDATE " 4-Mar-2021 05:06:07 \+0000"/);
      assert.equal(seen![1], "Subject: seen and labelled");
      assert.doesNotMatch(unread![0], /\\Seen/);
      assert.match(boxes["Work/2024"]![0]![0], /\\Flagged/);
      assert.match(boxes["Work/2024"]![0]![0], /\\Answered/);
      assert.equal(boxes["Été"]!.length, 1);
      assert.equal(boxes["Old"]!.length, 1);
      assert.match(boxes["Old"]![0]![0], /\\Seen/);
    } finally {
      await server.stop();
    }
  } finally {
    await rm(s.dir, { recursive: true, force: true });
  }
});
