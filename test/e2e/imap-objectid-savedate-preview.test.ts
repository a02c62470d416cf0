// OBJECTID (RFC 8474), SAVEDATE (RFC 8514), PREVIEW (RFC 8970) and WITHIN (RFC 5032) over a real
// socket: MAILBOXID on CREATE/SELECT/STATUS and across RENAME, EMAILID/THREADID in FETCH and
// SEARCH and kept by COPY and MOVE, the save date against INTERNALDATE, previews stored at delivery
// and computed for messages that predate them (NIL under LAZY), OLDER/YOUNGER; the error paths;
// and python3 imaplib reading the same items as a client would.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";
import { runPython } from "../harness/python.js";

const wire = (text: string) => Buffer.from(text, "utf8").toString("latin1");

function message(id: string, headers: string[] = [], body = "Hello there,\r\n\r\n  see   you\ttomorrow.\r\n"): Buffer {
  return Buffer.from([`From: sender@example.net`, `Subject: ${id}`, `Message-ID: <${id}@example.net>`, ...headers, "", body].join("\r\n"));
}

describe("IMAP OBJECTID, SAVEDATE, PREVIEW and WITHIN", () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImapHarness();
  });
  after(() => h.stop());

  async function loggedIn(user = "alice"): Promise<RawImapClient> {
    const client = await RawImapClient.open(h.ports.imap);
    assert.match(await client.command("a0", `LOGIN ${user}@example.org ${user}-pass`), /a0 OK/);
    return client;
  }

  async function append(client: RawImapClient, tag: string, mailbox: string, bytes: Buffer, date?: string): Promise<number> {
    client.send(`${tag} APPEND ${mailbox} ${date === undefined ? "" : `"${date}" `}{${bytes.length}+}\r\n`);
    client.send(bytes);
    client.send("\r\n");
    await client.until((text) => new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`).test(text));
    const reply = client.take();
    const uid = /\[APPENDUID \d+ (\d+)\]/.exec(reply);
    assert.ok(uid, reply);
    return Number(uid[1]);
  }

  const idOf = (reply: string, item: string): string => {
    const found = new RegExp(`${item} \\(([A-Za-z0-9_-]+)\\)`).exec(reply);
    assert.ok(found, `${item} in ${reply}`);
    return found[1]!;
  };

  it("advertises OBJECTID, SAVEDATE, PREVIEW and WITHIN once logged in", async () => {
    const client = await loggedIn();
    const caps = await client.command("c1", "CAPABILITY");
    for (const cap of ["OBJECTID", "SAVEDATE", "PREVIEW", "WITHIN"]) assert.match(caps, new RegExp(`\\b${cap}\\b`), cap);
    client.close();
  });

  it("MAILBOXID: CREATE, SELECT and STATUS agree; RENAME keeps it; every mailbox has its own", async () => {
    const client = await loggedIn();
    const created = await client.command("m1", "CREATE Projects");
    const id = /m1 OK \[MAILBOXID \(([A-Za-z0-9_-]+)\)\]/.exec(created)?.[1];
    assert.ok(id, created);
    assert.equal(idOf(await client.command("m2", "STATUS Projects (MAILBOXID MESSAGES)"), "MAILBOXID"), id);
    assert.match(await client.command("m3", "RENAME Projects Work"), /m3 OK/);
    const selected = await client.command("m4", "SELECT Work");
    assert.match(selected, new RegExp(`\\* OK \\[MAILBOXID \\(${id}\\)\\]`), "RENAME keeps the MAILBOXID");
    const inbox = idOf(await client.command("m5", "STATUS INBOX (MAILBOXID)"), "MAILBOXID");
    assert.notEqual(inbox, id);
    assert.match(await client.command("m6", 'LIST "" "Work" RETURN (STATUS (MAILBOXID))'), new RegExp(`\\* STATUS "?Work"? \\(MAILBOXID \\(${id}\\)\\)`));
    assert.match(await client.command("m7", "DELETE Work"), /m7 OK/);
    const again = idOf(await client.command("m8", "CREATE Work"), "MAILBOXID");
    assert.notEqual(again, id, "a deleted mailbox's MAILBOXID is never given again");
    assert.match(await client.command("m9", "STATUS INBOX (MAILBOXID BOGUS)"), /m9 BAD/);
    client.close();
  });

  it("EMAILID and THREADID: replies share a thread, COPY and MOVE keep both, SEARCH finds them", async () => {
    const client = await loggedIn();
    await client.command("t0", "CREATE Threads");
    await client.command("t0b", "CREATE Kept");
    const root = await append(client, "t1", "Threads", message("root"));
    const reply = await append(client, "t2", "Threads", message("reply", ["In-Reply-To: <root@example.net>", "References: <root@example.net>"]));
    const other = await append(client, "t3", "Threads", message("other"));
    assert.match(await client.command("t4", "SELECT Threads"), /t4 OK/);
    const fetched = await client.command("t5", `UID FETCH ${root}:${other} (EMAILID THREADID)`);
    const lines = fetched.split("\r\n").filter((l) => l.startsWith("* "));
    assert.equal(lines.length, 3, fetched);
    const ids = lines.map((l) => ({ email: idOf(l, "EMAILID"), thread: idOf(l, "THREADID") }));
    assert.equal(new Set(ids.map((i) => i.email)).size, 3);
    assert.equal(ids[0]!.thread, ids[1]!.thread, "the reply is in its parent's thread");
    assert.notEqual(ids[0]!.thread, ids[2]!.thread);

    assert.match(await client.command("t6", `UID SEARCH THREADID ${ids[0]!.thread}`), new RegExp(`\\* SEARCH ${root} ${reply}\\r\\n`));
    assert.match(await client.command("t7", `UID SEARCH EMAILID ${ids[2]!.email}`), new RegExp(`\\* SEARCH ${other}\\r\\n`));
    assert.match(await client.command("t8", "SEARCH EMAILID Enosuchid"), /\* SEARCH\r\n/);
    assert.match(await client.command("t9", "SEARCH EMAILID bad.id"), /t9 BAD/, "an objectid is letters, digits, _ and -");
    assert.match(await client.command("t10", "SEARCH EMAILID"), /t10 BAD/);

    assert.match(await client.command("t11", `UID COPY ${root} Kept`), /t11 OK/);
    assert.match(await client.command("t12", `UID MOVE ${reply} Kept`), /t12 OK/);
    assert.match(await client.command("t13", "SELECT Kept"), /t13 OK/);
    const kept = await client.command("t14", "FETCH 1:2 (EMAILID THREADID)");
    const keptLines = kept.split("\r\n").filter((l) => l.startsWith("* "));
    assert.deepEqual(keptLines.map((l) => idOf(l, "EMAILID")), [ids[0]!.email, ids[1]!.email], "COPY and MOVE keep EMAILID");
    assert.deepEqual(keptLines.map((l) => idOf(l, "THREADID")), [ids[0]!.thread, ids[1]!.thread]);
    client.close();
  });

  it("SAVEDATE: the time it was stored, not INTERNALDATE; SAVEDSINCE/SAVEDBEFORE/SAVEDON; SAVEDATESUPPORTED", async () => {
    const client = await loggedIn();
    await client.command("s0", "CREATE Saved");
    const old = await append(client, "s1", "Saved", message("old"), "01-Jan-2000 10:00:00 +0000");
    const fresh = await append(client, "s2", "Saved", message("fresh"));
    assert.match(await client.command("s3", "SELECT Saved"), /s3 OK/);
    const now = new Date();
    const fetched = await client.command("s4", `UID FETCH ${old} (INTERNALDATE SAVEDATE)`);
    assert.match(fetched, /INTERNALDATE " 1-Jan-2000 10:00:00 \+0000"/);
    const saved = /SAVEDATE "([^"]+)"/.exec(fetched)?.[1];
    assert.ok(saved !== undefined && saved.includes(String(now.getUTCFullYear())) && !saved.includes("2000"), fetched);
    // The day it was saved on, as the server wrote it (the search keys take a date).
    const today = saved.trim().split(" ")[0]!;
    assert.match(await client.command("s5", `UID SEARCH SAVEDSINCE ${today}`), new RegExp(`\\* SEARCH ${old} ${fresh}\\r\\n`));
    assert.match(await client.command("s6", `UID SEARCH SINCE ${today}`), new RegExp(`\\* SEARCH ${fresh}\\r\\n`), "INTERNALDATE is another date");
    assert.match(await client.command("s7", "UID SEARCH SAVEDBEFORE 1-Jan-2001"), /\* SEARCH\r\n/);
    assert.match(await client.command("s8", `UID SEARCH SAVEDON ${today}`), new RegExp(`\\* SEARCH ${old} ${fresh}\\r\\n`));
    assert.match(await client.command("s9", "UID SEARCH SAVEDATESUPPORTED"), new RegExp(`\\* SEARCH ${old} ${fresh}\\r\\n`));
    assert.match(await client.command("s10", "SEARCH SAVEDSINCE notadate"), /s10 BAD/);
    client.close();
  });

  it("WITHIN: OLDER and YOUNGER measure INTERNALDATE from now", async () => {
    const client = await loggedIn();
    await client.command("w0", "CREATE Within");
    const old = await append(client, "w1", "Within", message("w-old"), "01-Jan-2000 10:00:00 +0000");
    const fresh = await append(client, "w2", "Within", message("w-fresh"));
    assert.match(await client.command("w3", "SELECT Within"), /w3 OK/);
    assert.match(await client.command("w4", "UID SEARCH YOUNGER 3600"), new RegExp(`\\* SEARCH ${fresh}\\r\\n`));
    assert.match(await client.command("w5", "UID SEARCH OLDER 3600"), new RegExp(`\\* SEARCH ${old}\\r\\n`));
    assert.match(await client.command("w6", "UID SEARCH NOT OLDER 3600"), new RegExp(`\\* SEARCH ${fresh}\\r\\n`));
    assert.match(await client.command("w7", "SEARCH OLDER 0"), /w7 BAD/, "the interval is a non-zero number");
    assert.match(await client.command("w8", "SEARCH YOUNGER -5"), /w8 BAD/);
    client.close();
  });

  it("PREVIEW: stored at delivery, LAZY, computed for older messages, and the modifier errors", async () => {
    const client = await loggedIn();
    await client.command("p0", "CREATE Previews");
    const plain = await append(client, "p1", "Previews", message("p-plain"));
    const utf8 = await append(client, "p2", "Previews", message("p-utf8", ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable"], "Gr=C3=BC=C3=9Fe aus Z=C3=BCrich\r\n"));
    const empty = await append(client, "p3", "Previews", message("p-empty", ["Content-Type: application/pdf"], "%PDF\r\n"));
    assert.match(await client.command("p4", "SELECT Previews"), /p4 OK/);
    assert.match(await client.command("p5", `UID FETCH ${plain} (PREVIEW)`), /PREVIEW "Hello there, see you tomorrow\."/);
    assert.match(await client.command("p6", `UID FETCH ${plain} (PREVIEW (LAZY) FLAGS)`), /PREVIEW "Hello there, see you tomorrow\." FLAGS/);
    assert.match(await client.command("p6b", `UID FETCH ${plain} PREVIEW (lazy)`), /PREVIEW "Hello there/);
    // Non-ASCII text goes as a literal (8-bit is not allowed in a quoted string).
    const wide = await client.command("p7", `UID FETCH ${utf8} (PREVIEW)`);
    assert.ok(wide.includes(`PREVIEW {${Buffer.byteLength("Grüße aus Zürich")}}\r\n${wire("Grüße aus Zürich")})`), wide);
    assert.match(await client.command("p8", `UID FETCH ${empty} (PREVIEW)`), /PREVIEW ""/);

    // A message stored before previews were kept: NIL under LAZY, computed from its bytes otherwise.
    const db = new Database(join(h.temp.dataDir, "mailroom.sqlite"));
    db.prepare("UPDATE blobs SET preview = NULL").run();
    db.close();
    assert.match(await client.command("p9", `UID FETCH ${plain} (PREVIEW (LAZY))`), /PREVIEW NIL/);
    assert.match(await client.command("p10", `UID FETCH ${plain} (PREVIEW)`), /PREVIEW "Hello there, see you tomorrow\."/);

    assert.match(await client.command("p11", `UID FETCH ${plain} (PREVIEW (FAST))`), /p11 BAD/);
    assert.match(await client.command("p12", `UID FETCH ${plain} (PREVIEW (LAZY LAZY))`), /p12 BAD/);
    assert.match(await client.command("p13", `UID FETCH ${plain} (PREVIEW ())`), /p13 BAD/);
    client.close();
  });

  it("python3 imaplib reads EMAILID, THREADID, SAVEDATE and PREVIEW and searches by them", async () => {
    const setup = await loggedIn("bob");
    await setup.command("y0", "CREATE Py");
    await append(setup, "y1", "Py", message("py-root"));
    await append(setup, "y2", "Py", message("py-reply", ["References: <py-root@example.net>"]));
    setup.close();
    const script = `
import imaplib, re, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("bob@example.org", "bob-pass")
caps = m.capabilities
assert "OBJECTID" in caps and "PREVIEW" in caps and "SAVEDATE" in caps, caps
typ, data = m.select("Py")
assert typ == "OK"
mailboxid = m.untagged_responses.get("MAILBOXID")
typ, data = m.uid("FETCH", "1:*", "(EMAILID THREADID SAVEDATE PREVIEW)")
assert typ == "OK", data
lines = [d.decode() for d in data if isinstance(d, bytes)]
threads = [re.search(r"THREADID \\(([A-Za-z0-9_-]+)\\)", l).group(1) for l in lines]
emails = [re.search(r"EMAILID \\(([A-Za-z0-9_-]+)\\)", l).group(1) for l in lines]
assert len(lines) == 2 and threads[0] == threads[1] and emails[0] != emails[1], lines
assert all('SAVEDATE "' in l and 'PREVIEW "Hello there' in l for l in lines), lines
typ, found = m.uid("SEARCH", None, "THREADID", threads[0])
assert typ == "OK" and found[0].split() == [b"1", b"2"], found
typ, found = m.uid("SEARCH", None, "YOUNGER", "600")
assert found[0].split() == [b"1", b"2"], found
print("ok", mailboxid)
m.logout()
`;
    const out = await runPython(script, [String(h.ports.imap)]);
    assert.match(out, /^ok \[b'\([A-Za-z0-9_-]+\)'\]/);
  });
});
