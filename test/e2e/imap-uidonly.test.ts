// RFC 9586 UIDONLY over a real socket: ENABLE UIDONLY, then the non-UID forms of FETCH, STORE,
// SEARCH, COPY, MOVE, SORT, THREAD and REPLACE are `BAD [UIDREQUIRED]` (REPLACE before its
// literal is taken), sequence-set search keys and QRESYNC seq-match-data too; UID FETCH and
// UID STORE answer `* <uid> UIDFETCH (...)`, another session's flag change arrives as UIDFETCH,
// expunges as VANISHED (never EXPUNGE), SELECT sends no `[UNSEEN n]`; python3 imaplib.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { deliverTo, startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";
import { runPython } from "../harness/python.js";

/** The first SELECT of a mailbox claims its messages as \Recent (rev1): left out of the comparisons. */
const noRecent = (text: string): string => text.replace(/ \\Recent\)/g, ")").replace(/\(\\Recent\)/g, "()").replace(/\\Recent /g, "");

describe("IMAP UIDONLY (RFC 9586)", () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImapHarness();
    for (let n = 1; n <= 5; n++) await deliverTo(h, h.accounts.alice, `uidonly ${n}`, "INBOX");
  });
  after(() => h.stop());

  async function loggedIn(enable = true): Promise<RawImapClient> {
    const client = await RawImapClient.open(h.ports.imap);
    assert.match(await client.command("a0", "LOGIN alice@example.org alice-pass"), /a0 OK/);
    if (enable) assert.match(await client.command("a1", "ENABLE UIDONLY"), /\* ENABLED UIDONLY\r\na1 OK/);
    return client;
  }

  it("advertises UIDONLY and ENABLE lists it once", async () => {
    const client = await loggedIn(false);
    assert.match(await client.command("c1", "CAPABILITY"), /\bUIDONLY\b/);
    assert.match(await client.command("c2", "ENABLE UIDONLY"), /\* ENABLED UIDONLY\r\n/);
    assert.match(await client.command("c3", "ENABLE UIDONLY"), /\* ENABLED\r\nc3 OK/, "already enabled: not listed again");
    client.close();
  });

  it("refuses sequence numbers with BAD [UIDREQUIRED]", async () => {
    const client = await loggedIn();
    const selected = await client.command("s1", "SELECT INBOX");
    assert.match(selected, /\* 5 EXISTS/);
    assert.doesNotMatch(selected, /UNSEEN/, "OK [UNSEEN n] is a sequence number");
    for (const [tag, command] of [
      ["b1", "FETCH 1 (FLAGS)"],
      ["b2", "STORE 1 +FLAGS (\\Seen)"],
      ["b3", "SEARCH ALL"],
      ["b4", "COPY 1 INBOX"],
      ["b5", "MOVE 1 INBOX"],
      ["b6", "SORT (DATE) UTF-8 ALL"],
      ["b7", "THREAD REFERENCES UTF-8 ALL"],
      ["b8", "UID SEARCH 1:3"],
      ["b9", "UID SEARCH OR 2 UID 3"],
      ["b10", "UID SORT (DATE) UTF-8 1"],
      ["b11", "ESEARCH IN (SELECTED) 1:2"],
    ]) {
      assert.match(await client.command(tag!, command!), new RegExp(`${tag} BAD \\[UIDREQUIRED\\]`), command);
    }
    // REPLACE is refused before its literal is accepted (no `+`).
    client.send("r1 REPLACE 1 INBOX {5}\r\n");
    await client.until((text) => /r1 (OK|NO|BAD)[^\r\n]*\r\n/.test(text));
    const replaced = client.take();
    assert.match(replaced, /r1 BAD \[UIDREQUIRED\]/);
    assert.doesNotMatch(replaced, /^\+/m);
    // `$` names a saved result, not sequence numbers: allowed.
    assert.match(await client.command("d1", "UID SEARCH RETURN (SAVE) UID 1:2"), /d1 OK/);
    assert.match(await client.command("d2", "UID SEARCH $"), /\* SEARCH 1 2\r\nd2 OK/);
    // Nothing was changed by the refusals.
    assert.match(await client.command("d3", "STATUS INBOX (MESSAGES UNSEEN)"), /MESSAGES 5 UNSEEN 5/);
    assert.match(await client.command("d4", "ENABLE QRESYNC"), /d4 OK/);
    assert.match(await client.command("d5", "SELECT INBOX (QRESYNC (1 1 1:5 (1:2 1:2)))"), /d5 BAD \[UIDREQUIRED\]/);
    assert.match(await client.command("d6", "SELECT INBOX (QRESYNC (1 1 1:5))"), /d6 OK/);
    client.close();
  });

  it("answers UIDFETCH and reports changes by UID: flag changes as UIDFETCH, expunges as VANISHED", async () => {
    const client = await loggedIn();
    await client.command("m0", "CREATE Uo");
    await client.command("m1", "SELECT INBOX");
    assert.match(await client.command("m2", "UID COPY 1:5 Uo"), /m2 OK \[COPYUID/);
    await client.command("m3", "SELECT Uo");
    const fetched = noRecent(await client.command("f1", "UID FETCH 2:3 (FLAGS)"));
    assert.match(fetched, /^\* 2 UIDFETCH \(UID 2 FLAGS \(\)\)\r\n\* 3 UIDFETCH \(UID 3 FLAGS \(\)\)\r\n/);
    assert.doesNotMatch(fetched, /^\* \d+ FETCH /m);
    // Paths of FETCH: stored (BODY), index (INTERNALDATE ENVELOPE) and session (FLAGS only).
    assert.match(await client.command("f2", "UID FETCH 4 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])"), /^\* 4 UIDFETCH \(UID 4 BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}\r\nSubject: uidonly 4/);
    assert.match(await client.command("f3", "UID FETCH 5 (INTERNALDATE ENVELOPE)"), /^\* 5 UIDFETCH \(UID 5 INTERNALDATE "/);
    const stored = noRecent(await client.command("f4", "UID STORE 1,3 +FLAGS (\\Flagged)"));
    assert.match(stored, /^\* 1 UIDFETCH \(UID 1 FLAGS \(\\Flagged\)\)\r\n\* 3 UIDFETCH \(UID 3 FLAGS \(\\Flagged\)\)\r\n/);

    // Another session (not UIDONLY) changes flags and expunges.
    const other = await loggedIn(false);
    await other.command("o1", "SELECT Uo");
    await other.command("o2", "STORE 2 +FLAGS (\\Answered)");
    await other.command("o3", "STORE 4 +FLAGS (\\Deleted)");
    assert.match(await other.command("o4", "EXPUNGE"), /\* 4 EXPUNGE/);
    other.close();
    let heard = "";
    for (let i = 0; i < 50 && !/VANISHED/.test(heard); i++) heard += noRecent(await client.command(`n${i}`, "NOOP"));
    assert.match(heard, /\* 2 UIDFETCH \(UID 2 FLAGS \(\\Answered\)\)/);
    assert.match(heard, /\* VANISHED 4\r\n/);
    assert.doesNotMatch(heard, /EXPUNGE|^\* \d+ FETCH /m);

    // Its own UID EXPUNGE and UID MOVE: VANISHED too.
    await client.command("x1", "UID STORE 1 +FLAGS.SILENT (\\Deleted)");
    assert.match(await client.command("x2", "UID EXPUNGE 1"), /\* VANISHED 1\r\nx2 OK/);
    const moved = await client.command("x3", "UID MOVE 5 INBOX");
    assert.match(moved, /\* OK \[COPYUID \d+ 5 \d+\][^\r\n]*\r\n\* VANISHED 5\r\nx3 OK/);
    assert.match(await client.command("x4", "UID SEARCH ALL"), /\* SEARCH 2 3\r\n/);
    client.close();
  });

  it("python3 imaplib: UID FETCH answered with UIDFETCH once UIDONLY is enabled", async () => {
    const script = `
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("alice@example.org", "alice-pass")
typ, data = m.enable("UIDONLY")
assert typ == "OK", (typ, data)
typ, data = m.select("INBOX")
assert typ == "OK", (typ, data)
try:
    m.fetch("1", "(FLAGS)")
    raise SystemExit("FETCH by sequence number was accepted")
except imaplib.IMAP4.error as e:
    assert "UIDREQUIRED" in str(e), e
typ, data = m.uid("FETCH", "1:2", "(FLAGS)")
assert typ == "OK", (typ, data)
typ, data = m.response("UIDFETCH")
assert [d.split()[0] for d in data] == [b"1", b"2"], data
typ, data = m.uid("SEARCH", None, "ALL")
assert data[0].split()[:2] == [b"1", b"2"], data
print("ok")
m.logout()
`;
    assert.equal((await runPython(script, [String(h.ports.imap)])).trim(), "ok");
  });
});
