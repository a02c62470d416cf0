// RFC 4469 CATENATE over a real socket: APPEND (and MULTIAPPEND, UID REPLACE) of messages built
// from TEXT literals and IMAP URLs (RFC 5092: relative and absolute, UIDVALIDITY, SECTION with part
// numbers / HEADER / TEXT / MIME, PARTIAL) naming the user's own messages, byte for byte;
// URL parts sent as literals (`URL {n}`, synchronising and LITERAL+, at most 8 KiB);
// `NO [BADURL url]` (RFC 4469 §6: the URL unquoted, "]" left out) for another user, a missing mailbox, UID or section, a wrong UIDVALIDITY,
// URLAUTH or malformed URLs, with nothing appended; `NO [TOOBIG]` past APPENDLIMIT; python3
// imaplib forwards an attachment by URL.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";
import { runPython } from "../harness/python.js";

const original = [
  "From: alice@example.org",
  "Subject: with attachment",
  "MIME-Version: 1.0",
  'Content-Type: multipart/mixed; boundary="b"',
  "",
  "--b",
  "Content-Type: text/plain",
  "",
  "the body text",
  "--b",
  "Content-Type: application/octet-stream",
  "Content-Transfer-Encoding: base64",
  "",
  "QUJDREVGR0hJSktMTU5PUA==",
  "--b--",
  "",
].join("\r\n");

describe("IMAP CATENATE (RFC 4469)", () => {
  let h: ImapHarness;
  let uidValidity = 0;
  before(async () => {
    h = await startImapHarness({ limits: { imapLiteralSize: 64 * 1024 } });
    const inbox = (await h.temp.store.getMailbox(h.accounts.alice.id, "INBOX"))!;
    uidValidity = inbox.uidValidity;
    await h.temp.store.deliver({ source: Buffer.from(original), targets: [{ mailboxId: inbox.id }] });
    const bobInbox = (await h.temp.store.getMailbox(h.accounts.bob.id, "INBOX"))!;
    await h.temp.store.deliver({ source: Buffer.from("Subject: bob's\r\n\r\nprivate\r\n"), targets: [{ mailboxId: bobInbox.id }] });
  });
  after(() => h.stop());

  async function loggedIn(): Promise<RawImapClient> {
    const client = await RawImapClient.open(h.ports.imap);
    assert.match(await client.command("a0", "LOGIN alice@example.org alice-pass"), /a0 OK/);
    return client;
  }

  async function send(client: RawImapClient, tag: string, text: string): Promise<string> {
    client.send(text);
    await client.until((out) => new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`).test(out));
    return client.take();
  }

  async function body(client: RawImapClient, tag: string, mailbox: string, uid: number): Promise<string> {
    await client.command(`${tag}s`, `EXAMINE ${mailbox}`);
    const fetched = await client.command(tag, `UID FETCH ${uid} BODY.PEEK[]`);
    const match = /BODY\[\] \{(\d+)\}\r\n/.exec(fetched);
    assert.ok(match, fetched);
    const start = match.index + match[0].length;
    return fetched.slice(start, start + Number(match[1]));
  }

  const text = (s: string) => `TEXT {${Buffer.byteLength(s)}+}\r\n${s}`;

  it("advertises CATENATE and builds a message from TEXT and URL parts", async () => {
    const client = await loggedIn();
    assert.match(await client.command("c1", "CAPABILITY"), /\bCATENATE\b/);
    await client.command("c2", "CREATE Out");
    const header = "From: alice@example.org\r\nSubject: Fwd: with attachment\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"n\"\r\n\r\n--n\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--n\r\n";
    const done = await send(
      client,
      "c3",
      `c3 APPEND Out (\\Seen) CATENATE (${text(header)} URL "/INBOX;UIDVALIDITY=${uidValidity}/;UID=1/;SECTION=2.MIME" URL "imap://alice@example.org@imap.example.org/INBOX/;UID=1/;SECTION=2" ${text("\r\n--n--\r\n")})\r\n`,
    );
    assert.match(done, /c3 OK \[APPENDUID \d+ 1\]/);
    const built = await body(client, "c4", "Out", 1);
    assert.equal(built, `${header}Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJDREVGR0hJSktMTU5PUA==\r\n--n--\r\n`);
    // The whole message, HEADER, TEXT and PARTIAL; percent-encoded mailbox; MULTIAPPEND with a plain literal.
    const multi = await send(client, "c5", `c5 APPEND Out CATENATE (URL "/%49NBOX/;UID=1/;SECTION=HEADER" ${text("new body\r\n")}) CATENATE (URL "/INBOX/;UID=1/;SECTION=1/;PARTIAL=4.4") {5+}\r\nplain\r\n`);
    assert.match(multi, /c5 OK \[APPENDUID \d+ 2:4\]/);
    assert.equal(await body(client, "c6", "Out", 2), `${original.slice(0, original.indexOf("\r\n\r\n") + 4)}new body\r\n`);
    assert.equal(await body(client, "c7", "Out", 3), "body");
    assert.equal(await body(client, "c8", "Out", 4), "plain");
    assert.match(await send(client, "c9", `c9 APPEND Out CATENATE (URL "/INBOX/;UID=1")\r\n`), /c9 OK/);
    assert.equal(await body(client, "c10", "Out", 5), original);
    client.close();
  });

  it("BADURL for what the user may not read or what does not exist; TOOBIG; nothing appended", async () => {
    const client = await loggedIn();
    await client.command("b0", "CREATE Bad");
    const bad = [
      "imap://bob@example.org@imap.example.org/INBOX/;UID=1",
      "/Nowhere/;UID=1",
      "/INBOX/;UID=99",
      `/INBOX;UIDVALIDITY=${uidValidity + 1}/;UID=1`,
      "/INBOX/;UID=1/;SECTION=7",
      "/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(From)",
      "/INBOX/;UID=1;URLAUTH=anonymous:internal:0123456789abcdef0123456789abcdef",
      "/INBOX",
      "http://example.org/",
      "/INBOX/;UID=0",
      "/IN%ZZBOX/;UID=1",
    ];
    for (const [i, url] of bad.entries()) {
      const answer = await send(client, `b${i + 1}`, `b${i + 1} APPEND Bad CATENATE (${text("x\r\n")} URL "${url}")\r\n`);
      // RFC 4469 §6: "BADURL" SP url-resp-text, the URL as sent, unquoted.
      assert.ok(answer.startsWith(`b${i + 1} NO [BADURL ${url}] `), `${url}: ${answer}`);
    }
    // url-resp-text excludes "]": a URL with one is echoed without it, never as an empty code.
    assert.match(await send(client, "b20", `b20 APPEND Bad CATENATE (URL "/INBOX/;UID=9]9")\r\n`), /^b20 NO \[BADURL \/INBOX\/;UID=99\] /);
    assert.match(await send(client, "b21", `b21 APPEND Bad CATENATE (URL "")\r\n`), /^b21 NO \[BADURL ""\] /);
    const big = "y".repeat(40 * 1024);
    assert.match(await send(client, "t1", `t1 APPEND Bad CATENATE (${text(big)} ${text(big)})\r\n`), /t1 NO \[TOOBIG\]/);
    assert.match(await send(client, "t2", `t2 APPEND Bad CATENATE (URL "/INBOX/;UID=1/;PARTIAL=100000")\r\n`), /t2 NO/, "empty result");
    assert.match(await send(client, "t3", `t3 APPEND Bad CATENATE (FILE "x")\r\n`), /t3 BAD/);
    assert.match(await send(client, "t4", `t4 APPEND Bad CATENATE ()\r\n`), /t4 BAD/);
    assert.match(await client.command("t5", "STATUS Bad (MESSAGES)"), /MESSAGES 0/);
    client.close();
  });

  it("a URL part sent as a literal (RFC 4469 cat-part = \"URL\" SP astring): synchronising, LITERAL+, bounded", async () => {
    const client = await loggedIn();
    await client.command("l0", "CREATE Lit");
    const url = "/INBOX/;UID=1/;SECTION=1";
    // Synchronising: the server invites the URL's octets with "+", then the command goes on.
    client.send(`l1 APPEND Lit CATENATE (${text("Subject: lit\r\n\r\n")} URL {${url.length}}\r\n`);
    await client.until((out) => /(^|\r\n)\+ [^\r\n]*\r\n$/.test(out));
    assert.doesNotMatch(client.take(), /l1 (NO|BAD)/);
    assert.match(await send(client, "l1", `${url} ${text("\r\nend\r\n")})\r\n`), /l1 OK \[APPENDUID \d+ 1\]/);
    assert.equal(await body(client, "l2", "Lit", 1), "Subject: lit\r\n\r\nthe body text\r\nend\r\n");
    // LITERAL+, as the first part; a literal URL that names nothing gets BADURL with that URL.
    assert.match(await send(client, "l3", `l3 APPEND Lit CATENATE (URL {${url.length}+}\r\n${url})\r\n`), /l3 OK \[APPENDUID \d+ 2\]/);
    assert.equal(await body(client, "l4", "Lit", 2), "the body text");
    assert.ok((await send(client, "l5", `l5 APPEND Lit CATENATE (URL {14+}\r\n/INBOX/;UID=99)\r\n`)).startsWith("l5 NO [BADURL /INBOX/;UID=99] "));
    // A mailbox named URL is still a mailbox, its literal message data.
    await client.command("l6", "CREATE URL");
    assert.match(await send(client, "l7", `l7 APPEND URL {5+}\r\nhello\r\n`), /l7 OK/);
    // Longer than 8 KiB: refused before "+" (NO [TOOBIG]); the connection carries on.
    assert.match(await send(client, "l8", `l8 APPEND Lit CATENATE (URL {9000}\r\n`), /l8 NO \[TOOBIG\]/);
    assert.match(await client.command("l9", "STATUS Lit (MESSAGES)"), /MESSAGES 2/);
    // UID REPLACE takes a URL literal too.
    await client.command("l10", "SELECT Lit");
    assert.match(await send(client, "l11", `l11 UID REPLACE 2 Lit CATENATE (${text("Subject: r\r\n\r\n")} URL {${url.length}+}\r\n${url})\r\n`), /l11 OK/);
    assert.equal(await body(client, "l12", "Lit", 3), "Subject: r\r\n\r\nthe body text");
    client.close();
  });

  it("UID REPLACE with CATENATE", async () => {
    const client = await loggedIn();
    await client.command("r0", "CREATE Drafts2");
    await send(client, "r1", `r1 APPEND Drafts2 {${Buffer.byteLength("Subject: v1\r\n\r\nold\r\n")}+}\r\nSubject: v1\r\n\r\nold\r\n\r\n`);
    await client.command("r2", "SELECT Drafts2");
    const replaced = await send(client, "r3", `r3 UID REPLACE 1 Drafts2 CATENATE (${text("Subject: v2\r\n\r\n")} URL "/INBOX/;UID=1/;SECTION=1")\r\n`);
    assert.match(replaced, /r3 OK/);
    assert.equal(await body(client, "r4", "Drafts2", 2), "Subject: v2\r\n\r\nthe body text");
    client.close();
  });

  it("python3 imaplib: forward an attachment by URL without downloading it", async () => {
    const py = `
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("alice@example.org", "alice-pass")
assert "CATENATE" in m.capabilities, m.capabilities
m.create("PySent")
typ, data = m._simple_command("APPEND", "PySent", '(\\\\Seen) CATENATE (URL "/INBOX/;UID=1/;SECTION=HEADER" URL "/INBOX/;UID=1/;SECTION=2")')
assert typ == "OK", (typ, data)
m.select("PySent", readonly=True)
typ, data = m.uid("FETCH", "1", "(BODY.PEEK[TEXT] FLAGS)")
assert data[0][1] == b"QUJDREVGR0hJSktMTU5PUA==", data
assert b"\\\\Seen" in data[1], data
typ, data = m._simple_command("APPEND", "PySent", 'CATENATE (URL "/INBOX/;UID=77")')
assert typ == "NO" and b"BADURL" in data[0], (typ, data)
print("ok")
m.logout()
`;
    assert.equal((await runPython(py, [String(h.ports.imap)])).trim(), "ok");
  });
});
