// RFC 9738 MESSAGELIMIT over a real socket, with [imap] message_limit = 3 and 8 messages (UIDs
// 1-8): MESSAGELIMIT=3 advertised; FETCH, STORE, SEARCH, MOVE and UID EXPUNGE process the 3
// highest UIDs of what they name and finish `OK [MESSAGELIMIT 3 uid]` (the lowest UID processed),
// or send it as an untagged NO when the tagged OK has a code of its own; the client goes on with
// UIDBEFORE / UID ranges; COPY, MULTIAPPEND and a FETCH PARTIAL page of more are
// `NO [MESSAGELIMIT 3]` and change nothing; EXPUNGE, STATUS, SORT and THREAD (outside RFC 9738's
// scope: they answer about the whole mailbox) are not limited; python3 imaplib
// pages through a mailbox with the response code. Without the key nothing is advertised or cut.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { deliverTo, startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";
import { runPython } from "../harness/python.js";

const uidsOf = (text: string): number[] => [...text.matchAll(/UID (\d+)/g)].map((m) => Number(m[1]));

describe("IMAP MESSAGELIMIT (RFC 9738)", () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImapHarness({ messageLimit: 3 });
    for (let n = 1; n <= 8; n++) await deliverTo(h, h.accounts.alice, `limited ${n}`, "INBOX");
  });
  after(() => h.stop());

  async function selected(mailbox = "INBOX"): Promise<RawImapClient> {
    const client = await RawImapClient.open(h.ports.imap);
    assert.match(await client.command("a0", "LOGIN alice@example.org alice-pass"), /a0 OK/);
    assert.match(await client.command("a1", `SELECT ${mailbox}`), /a1 OK/);
    return client;
  }

  it("advertises MESSAGELIMIT=3", async () => {
    const client = await selected();
    assert.match(await client.command("c1", "CAPABILITY"), /\bMESSAGELIMIT=3\b/);
    client.close();
  });

  it("FETCH and SEARCH process the highest UIDs and say where to continue", async () => {
    const client = await selected();
    const fetched = await client.command("f1", "FETCH 1:* (UID)");
    assert.deepEqual(uidsOf(fetched), [6, 7, 8]);
    assert.match(fetched, /f1 OK \[MESSAGELIMIT 3 6\]/);
    const next = await client.command("f2", "UID FETCH 1:5 (UID FLAGS)");
    assert.deepEqual(uidsOf(next), [3, 4, 5]);
    assert.match(next, /f2 OK \[MESSAGELIMIT 3 3\]/);
    const last = await client.command("f3", "UID FETCH 1:2 (UID)");
    assert.deepEqual(uidsOf(last), [1, 2]);
    assert.match(last, /f3 OK UID FETCH completed/, "no code when nothing was left out");
    // A stored FETCH (bodies) is cut the same way.
    assert.deepEqual(uidsOf(await client.command("f4", "UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")), [6, 7, 8]);

    const searched = await client.command("s1", "UID SEARCH ALL");
    assert.match(searched, /\* SEARCH 6 7 8\r\ns1 OK \[MESSAGELIMIT 3 6\]/);
    // UIDBEFORE / UIDAFTER narrow what is searched: the client continues below the lowest UID.
    assert.match(await client.command("s2", "UID SEARCH UIDBEFORE 6"), /\* SEARCH 3 4 5\r\ns2 OK \[MESSAGELIMIT 3 3\]/);
    assert.match(await client.command("s3", "UID SEARCH UIDBEFORE 3"), /\* SEARCH 1 2\r\ns3 OK UID SEARCH completed/);
    assert.match(await client.command("s4", "UID SEARCH UIDAFTER 6"), /\* SEARCH 7 8\r\ns4 OK UID SEARCH/);
    assert.match(await client.command("s5", "UID SEARCH UID 2:4 SUBJECT limited"), /\* SEARCH 2 3 4\r\ns5 OK UID SEARCH/);
    assert.match(await client.command("s6", "SEARCH UIDAFTER 4294967295"), /\* SEARCH\r\ns6 OK/);
    assert.match(await client.command("s7", "SEARCH UIDBEFORE 1"), /\* SEARCH\r\ns7 OK/);
    assert.match(await client.command("s8", "SEARCH UIDAFTER 0"), /s8 BAD/);
    // A key inside OR narrows nothing: the 3 highest are searched.
    assert.match(await client.command("s9", "UID SEARCH OR UID 1 UID 8"), /\* SEARCH 8\r\ns9 OK \[MESSAGELIMIT 3 6\]/);
    client.close();
  });

  it("refuses COPY, MULTIAPPEND and long PARTIAL pages with NO [MESSAGELIMIT 3]; SORT and THREAD answer for the whole mailbox", async () => {
    const client = await selected();
    await client.command("p0", "CREATE Other");
    assert.match(await client.command("p1", "COPY 1:4 Other"), /p1 NO \[MESSAGELIMIT 3\]/);
    assert.match(await client.command("p2", "UID COPY 6:8 Other"), /p2 OK \[COPYUID/);
    // RFC 9738's scope leaves SORT and THREAD out: all 8 messages, a plain OK.
    assert.match(await client.command("p3", "UID SORT (ARRIVAL) UTF-8 ALL"), /\* SORT 1 2 3 4 5 6 7 8\r\np3 OK (?!\[MESSAGELIMIT)/);
    assert.match(await client.command("p4", "UID SORT (DATE) UTF-8 UIDAFTER 5"), /\* SORT 6 7 8\r\np4 OK/);
    const threads = await client.command("p5", "UID THREAD REFERENCES UTF-8 ALL");
    assert.match(threads, /p5 OK (?!\[MESSAGELIMIT)/);
    assert.deepEqual([...(/\* THREAD ([^\r\n]*)\r\n/.exec(threads)?.[1] ?? "").matchAll(/\d+/g)].map((m) => Number(m[0])).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.match(await client.command("p6", "UID FETCH 1:* (UID) (PARTIAL 1:4)"), /p6 NO \[MESSAGELIMIT 3\]/);
    assert.deepEqual(uidsOf(await client.command("p7", "UID FETCH 1:* (UID) (PARTIAL -1:-2)")), [7, 8]);
    const message = "Subject: m\r\n\r\nx\r\n";
    const literal = `{${message.length}+}\r\n${message}`;
    client.send(`p8 APPEND Other ${literal} ${literal} ${literal} ${literal}\r\n`);
    await client.until((text) => /p8 (OK|NO|BAD)[^\r\n]*\r\n/.test(text));
    assert.match(client.take(), /p8 NO \[MESSAGELIMIT 3\]/);
    assert.match(await client.command("p9", "STATUS Other (MESSAGES)"), /MESSAGES 3\)/, "only the allowed COPY stored anything");
    client.close();
  });

  it("STORE, MOVE and UID EXPUNGE change only the highest UIDs; EXPUNGE is not limited", async () => {
    const client = await selected();
    await client.command("m0", "CREATE Work");
    await client.command("m1", "UID COPY 1:3 Work");
    await client.command("m2", "UID COPY 4:6 Work");
    await client.command("m3", "UID COPY 7:8 Work");
    assert.match(await client.command("m4", "SELECT Work"), /\* 8 EXISTS/);
    const stored = await client.command("t1", "STORE 1:* +FLAGS (\\Deleted)");
    assert.deepEqual(uidsOf(stored), [6, 7, 8]);
    assert.match(stored, /t1 OK \[MESSAGELIMIT 3 6\]/);
    // With UNCHANGEDSINCE refusals the tagged OK has MODIFIED: the limit goes in an untagged NO.
    const conditional = await client.command("t2", "UID STORE 1:5 (UNCHANGEDSINCE 1) +FLAGS (\\Deleted)");
    assert.match(conditional, /\* NO \[MESSAGELIMIT 3 3\][^\r\n]*\r\nt2 OK \[MODIFIED 3:5\]/);
    await client.command("t3", "UID STORE 1:5 +FLAGS.SILENT (\\Deleted)");
    await client.command("t4", "UID STORE 3:5 +FLAGS.SILENT (\\Deleted)");
    // UID EXPUNGE counts the \Deleted ones: 8 of them, the 3 highest go.
    const expunged = await client.command("x1", "UID EXPUNGE 1:*");
    assert.equal([...expunged.matchAll(/EXPUNGE\r\n/g)].length, 3, expunged);
    assert.match(expunged, /x1 OK \[MESSAGELIMIT 3 6\]/);
    assert.match(await client.command("x2", "UID SEARCH UIDBEFORE 4"), /\* SEARCH 1 2 3\r\n/);
    // MOVE: the 3 highest of what is named.
    const moved = await client.command("v1", "UID MOVE 1:5 INBOX");
    assert.match(moved, /\* OK \[COPYUID \d+ 3:5 /);
    assert.match(moved, /v1 OK \[MESSAGELIMIT 3 3\]/);
    // EXPUNGE is not limited.
    await client.command("v2", "STORE 1:2 +FLAGS.SILENT (\\Deleted)");
    assert.match(await client.command("v3", "EXPUNGE"), /v3 OK EXPUNGE completed/);
    assert.match(await client.command("v4", "STATUS INBOX (MESSAGES)"), /MESSAGES 11/);
    client.close();
  });

  it("python3 imaplib: a client pages through the mailbox with the response code", async () => {
    const script = `
import imaplib, re, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("alice@example.org", "alice-pass")
assert "MESSAGELIMIT=3" in m.capabilities, m.capabilities
m.select("INBOX", readonly=True)
found = []
criteria = "ALL"
for _ in range(100):
    # _simple_command keeps the tagged OK's text, where the response code is.
    typ, data = m._simple_command("UID", "SEARCH", criteria)
    assert typ == "OK", (typ, data)
    _, hits = m.response("SEARCH")
    found = [int(u) for u in hits[0].split()] + found
    code = re.search(rb"\\[MESSAGELIMIT 3 (\\d+)\\]", data[0])
    if code is None:
        break
    criteria = "UIDBEFORE " + code.group(1).decode()
typ, data = m.status("INBOX", "(MESSAGES)")
count = int(re.search(rb"MESSAGES (\\d+)", data[0]).group(1))
assert found == sorted(set(found)) and len(found) == count, (found, count)
print("ok")
m.logout()
`;
    assert.equal((await runPython(script, [String(h.ports.imap)])).trim(), "ok");
  });
});

describe("IMAP without message_limit", () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImapHarness();
    for (let n = 1; n <= 5; n++) await deliverTo(h, h.accounts.alice, `unlimited ${n}`, "INBOX");
  });
  after(() => h.stop());

  it("advertises no MESSAGELIMIT and processes every message", async () => {
    const client = await RawImapClient.open(h.ports.imap);
    await client.command("a0", "LOGIN alice@example.org alice-pass");
    assert.doesNotMatch(await client.command("a1", "CAPABILITY"), /MESSAGELIMIT/);
    await client.command("a2", "SELECT INBOX");
    const fetched = await client.command("a3", "FETCH 1:* (UID)");
    assert.deepEqual(uidsOf(fetched), [1, 2, 3, 4, 5]);
    assert.match(fetched, /a3 OK FETCH completed/);
    // UIDAFTER / UIDBEFORE are understood either way.
    assert.match(await client.command("a4", "UID SEARCH UIDAFTER 2 UIDBEFORE 5"), /\* SEARCH 3 4\r\n/);
    client.close();
  });
});
