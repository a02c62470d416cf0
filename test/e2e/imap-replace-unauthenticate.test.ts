// REPLACE / UID REPLACE (RFC 8508) and UNAUTHENTICATE (RFC 8437) over a real socket: the new
// version appended and the old one expunged in one step (APPENDUID in an untagged OK, EXPUNGE or
// VANISHED before the tagged OK), into the same or another mailbox, nothing changed when it fails
// (no such mailbox, no such message, read-only, over quota); UNAUTHENTICATE back to the
// not-authenticated state and a login as someone else on the same connection; python3 imaplib.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";
import { runPython } from "../harness/python.js";

const draft = (n: number) => Buffer.from(`From: alice@example.org\r\nSubject: draft ${n}\r\nMessage-ID: <draft${n}@example.org>\r\n\r\nversion ${n}\r\n`);

describe("IMAP REPLACE and UNAUTHENTICATE", () => {
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

  /** A command whose last argument is a literal (non-synchronising). */
  async function withLiteral(client: RawImapClient, tag: string, head: string, bytes: Buffer): Promise<string> {
    client.send(`${tag} ${head} {${bytes.length}+}\r\n`);
    client.send(bytes);
    client.send("\r\n");
    await client.until((text) => new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`).test(text));
    return client.take();
  }

  it("advertises REPLACE and UNAUTHENTICATE", async () => {
    const client = await loggedIn();
    const caps = await client.command("c1", "CAPABILITY");
    assert.match(caps, /\bREPLACE\b/);
    assert.match(caps, /\bUNAUTHENTICATE\b/);
    client.close();
  });

  it("REPLACE and UID REPLACE: the new version in, the old one expunged, in one command", async () => {
    const client = await loggedIn();
    await client.command("r0", "CREATE Drafts2");
    await client.command("r0b", "CREATE Sent2");
    for (let n = 1; n <= 3; n++) assert.match(await withLiteral(client, `r${n}`, "APPEND Drafts2 (\\Draft)", draft(n)), /OK/);
    assert.match(await client.command("r4", "SELECT Drafts2"), /\* 3 EXISTS/);
    const replaced = await withLiteral(client, "r5", "REPLACE 2 Drafts2 (\\Draft \\Seen)", draft(20));
    assert.match(replaced, /\* OK \[APPENDUID \d+ 4\] /);
    assert.match(replaced, /\* 2 EXPUNGE\r\n/);
    assert.ok(replaced.indexOf("APPENDUID") < replaced.indexOf("EXPUNGE"), replaced);
    assert.match(replaced, /r5 OK/);
    const listed = await client.command("r6", "UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert.deepEqual([...listed.matchAll(/UID (\d+)/g)].map((m) => Number(m[1])), [1, 3, 4]);
    const flags4 = /UID 4 FLAGS \(([^)]*)\)/.exec(listed)?.[1] ?? "";
    assert.ok(flags4.includes("\\Seen") && flags4.includes("\\Draft"), listed);
    assert.match(listed, /Subject: draft 20/);

    // UID REPLACE into another mailbox (a draft sent): gone here, there in Sent2.
    const moved = await withLiteral(client, "r7", "UID REPLACE 3 Sent2", draft(30));
    assert.match(moved, /\* OK \[APPENDUID \d+ 1\]/);
    assert.match(moved, /\* 2 EXPUNGE\r\n/);
    assert.match(await client.command("r8", "STATUS Sent2 (MESSAGES)"), /MESSAGES 1/);

    // Failures change nothing.
    assert.match(await withLiteral(client, "r9", "UID REPLACE 999 Drafts2", draft(40)), /r9 NO \[NONEXISTENT\]/);
    assert.match(await withLiteral(client, "r10", "REPLACE 9 Drafts2", draft(41)), /r10 BAD/);
    const missing = await withLiteral(client, "r11", "UID REPLACE 1 Nowhere", draft(42));
    assert.match(missing, /r11 NO \[TRYCREATE\]/);
    assert.match(await withLiteral(client, "r12", "REPLACE 1:2 Drafts2", draft(43)), /r12 BAD/, "one message, not a set");
    assert.match(await client.command("r13", "UID SEARCH ALL"), /\* SEARCH 1 4\r\n/, "nothing changed by the failures");
    client.close();
  });

  it("REPLACE under QRESYNC reports VANISHED; a read-only mailbox refuses it", async () => {
    const client = await loggedIn();
    await client.command("q0", "CREATE Qr");
    await withLiteral(client, "q1", "APPEND Qr", draft(1));
    await withLiteral(client, "q2", "APPEND Qr", draft(2));
    assert.match(await client.command("q3", "ENABLE QRESYNC"), /q3 OK/);
    assert.match(await client.command("q4", "SELECT Qr"), /q4 OK/);
    const reply = await withLiteral(client, "q5", "UID REPLACE 1 Qr", draft(3));
    assert.match(reply, /\* VANISHED 1\r\n/);
    assert.match(await client.command("q6", "EXAMINE Qr"), /q6 OK \[READ-ONLY\]/);
    assert.match(await withLiteral(client, "q7", "UID REPLACE 2 Qr", draft(4)), /q7 NO \[READ-ONLY\]/);
    client.close();
  });

  it("REPLACE is refused outside the selected state", async () => {
    const client = await loggedIn();
    assert.match(await withLiteral(client, "n1", "REPLACE 1 INBOX", draft(1)), /n1 (BAD|NO)/);
    client.close();
  });

  it("UNAUTHENTICATE: back to not-authenticated, ENABLE and the mailbox forgotten, another login works", async () => {
    const client = await loggedIn("alice");
    assert.match(await client.command("u1", "ENABLE CONDSTORE"), /ENABLED CONDSTORE/);
    assert.match(await client.command("u2", "SELECT INBOX"), /u2 OK/);
    assert.match(await client.command("u3", "UNAUTHENTICATE"), /u3 OK/);
    assert.match(await client.command("u4", "SELECT INBOX"), /u4 BAD/, "not authenticated any more");
    const caps = await client.command("u5", "CAPABILITY");
    assert.match(caps, /AUTH=PLAIN|LOGINDISABLED|AUTH=/);
    assert.match(caps, /SASL-IR/, "the capabilities of a new connection");
    assert.match(await client.command("u6", "LOGIN bob@example.org bob-pass"), /u6 OK/);
    assert.match(await client.command("u7", "SELECT INBOX"), /u7 OK/);
    // CONDSTORE is off again: FETCH without MODSEQ gets none.
    assert.doesNotMatch(await client.command("u8", "FETCH 1:* (FLAGS)"), /MODSEQ/);
    assert.match(await client.command("u9", "UNAUTHENTICATE extra"), /u9 BAD/);
    assert.match(await client.command("u10", "UNAUTHENTICATE"), /u10 OK/);
    assert.match(await client.command("u11", "UNAUTHENTICATE"), /u11 BAD/, "not allowed before login");
    client.close();
  });

  it("UNAUTHENTICATE ends NOTIFY: the next user of the connection hears nothing they did not ask for", async () => {
    const client = await loggedIn("alice");
    assert.match(await client.command("n1", "NOTIFY SET (personal (MessageNew MessageExpunge))"), /n1 OK/);
    assert.match(await client.command("n2", "UNAUTHENTICATE"), /n2 OK/);
    assert.match(await client.command("n3", "LOGIN bob@example.org bob-pass"), /n3 OK/);
    const other = await loggedIn("bob");
    assert.match(await withLiteral(other, "n4", "APPEND INBOX", draft(40)), /n4 OK/);
    other.close();
    const noop = await client.command("n5", "NOOP");
    assert.doesNotMatch(noop, /\* STATUS/, "no NOTIFY events after UNAUTHENTICATE");
    // Asked for again by the new user, they come.
    assert.match(await client.command("n6", "NOTIFY SET (personal (MessageNew MessageExpunge))"), /n6 OK/);
    const again = await loggedIn("bob");
    assert.match(await withLiteral(again, "n7", "APPEND INBOX", draft(41)), /n7 OK/);
    again.close();
    let heard = "";
    for (let i = 0; i < 50 && !/\* STATUS/.test(heard); i++) heard += await client.command(`n8${i}`, "NOOP");
    assert.match(heard, /\* STATUS "?INBOX"? \(/);
    client.close();
  });

  it("python3 imaplib: REPLACE a draft, then UNAUTHENTICATE and log in again", async () => {
    const script = `
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("bob@example.org", "bob-pass")
m.create("PyDrafts")
m.append("PyDrafts", "(\\\\Draft)", None, b"Subject: v1\\r\\n\\r\\nfirst\\r\\n")
m.select("PyDrafts")
imaplib.Commands["REPLACE"] = ("SELECTED",)
m.literal = b"Subject: v2\\r\\n\\r\\nsecond\\r\\n"
typ, data = m._simple_command("UID", "REPLACE", "1", "PyDrafts", "(\\\\Draft)")
assert typ == "OK", (typ, data)
typ, data = m.uid("SEARCH", None, "ALL")
assert data[0].split() == [b"2"], data
typ, data = m.uid("FETCH", "2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
assert b"Subject: v2" in data[0][1], data
imaplib.Commands["UNAUTHENTICATE"] = ("AUTH", "SELECTED")
typ, data = m._simple_command("UNAUTHENTICATE")
assert typ == "OK", data
m.state = "NONAUTH"
m.login("alice@example.org", "alice-pass")
typ, data = m.select("INBOX")
assert typ == "OK"
print("ok")
m.logout()
`;
    assert.equal((await runPython(script, [String(h.ports.imap)])).trim(), "ok");
  });
});
