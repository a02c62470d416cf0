// CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4) over real sockets: SEARCH / UID SEARCH / UID SORT
// RETURN (UPDATE), then ADDTO/REMOVEFROM as the mailbox changes (the session's own STORE,
// another session's STORE and EXPUNGE, a delivery), in order with EXISTS and EXPUNGE;
// CANCELUPDATE; tag reuse BAD; NO [NOUPDATE] beyond the per-session limit; contexts end with
// the mailbox. Raw socket transcript, and imaplib for a client reading the untagged updates.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";
import { runPython } from "../harness/python.js";

const lines = (text: string): string[] => text.split("\r\n").filter((l) => l !== "");
const indexOf = (all: string[], re: RegExp): number => all.findIndex((l) => re.test(l));

describe("IMAP CONTEXT=SEARCH / CONTEXT=SORT", () => {
  let h: ImapHarness;
  let a: RawImapClient;
  let b: RawImapClient;
  let inboxId: number;

  const deliver = async (n: number, flagged: boolean): Promise<void> => {
    await h.temp.store.deliver({ source: Buffer.from(`Subject: m${n}\r\nMessage-ID: <m${n}@x>\r\n\r\nbody ${n}\r\n`), targets: [{ mailboxId: inboxId as never, flags: flagged ? ["\\Flagged"] : [] }] });
  };

  before(async () => {
    h = await startImapHarness({ searchLimits: { maxDepth: 64, maxKeys: 1000, maxUpdateContexts: 3 } });
    inboxId = (await h.temp.store.getMailbox(h.accounts.alice.id, "INBOX"))!.id;
    // UIDs 1..6; 3 and 6 flagged.
    for (let n = 1; n <= 6; n++) await deliver(n, n % 3 === 0);
    a = await RawImapClient.open(h.ports.imap);
    b = await RawImapClient.open(h.ports.imap);
    for (const c of [a, b]) {
      assert.match(await c.command("l", "LOGIN alice@example.org alice-pass"), /l OK/);
      assert.match(await c.command("s", "SELECT INBOX"), /\* 6 EXISTS/);
    }
  });
  after(async () => {
    a.close();
    b.close();
    await h.stop();
  });

  it("advertises CONTEXT=SEARCH and CONTEXT=SORT", async () => {
    const caps = await a.command("c1", "CAPABILITY");
    assert.match(caps, /\bCONTEXT=SEARCH\b/);
    assert.match(caps, /\bCONTEXT=SORT\b/);
  });

  it("UPDATE answers ALL, then ADDTO/REMOVEFROM follow changes; tag reuse is BAD", async () => {
    assert.match(await a.command("u1", "UID SEARCH RETURN (UPDATE) FLAGGED"), /\* ESEARCH \(TAG "u1"\) UID ALL 3,6\r\nu1 OK/);
    // RFC 5267 §4.3: the tag of a live updating search may not be reused with UPDATE.
    assert.match(await a.command("u1", "UID SEARCH RETURN (UPDATE) ALL"), /^u1 BAD/m);
    // The CONTEXT hint changes nothing; COUNT beside UPDATE is answered as asked.
    assert.match(await a.command("q1", "SEARCH RETURN (CONTEXT UPDATE COUNT) FLAGGED"), /\* ESEARCH \(TAG "q1"\) COUNT 2\r\nq1 OK/);

    // The session's own STORE: FETCH, then the update of both contexts (UIDs and sequence numbers).
    const own = lines(await a.command("t1", "UID STORE 1 +FLAGS (\\Flagged)"));
    assert.ok(indexOf(own, /^\* 1 FETCH/) < indexOf(own, /ADDTO/), own.join("\n"));
    assert.ok(own.includes('* ESEARCH (TAG "u1") UID ADDTO (0 1)'), own.join("\n"));
    assert.ok(own.includes('* ESEARCH (TAG "q1") ADDTO (0 1)'), own.join("\n"));

    // Another session unflags 3: a's next NOOP shows the FETCH and REMOVEFROM.
    assert.match(await b.command("t2", "UID STORE 3 -FLAGS (\\Flagged)"), /t2 OK/);
    const other = lines(await a.command("n1", "NOOP"));
    assert.ok(other.includes('* ESEARCH (TAG "u1") UID REMOVEFROM (0 3)'), other.join("\n"));
    assert.ok(other.includes('* ESEARCH (TAG "q1") REMOVEFROM (0 3)'), other.join("\n"));

    // A delivery: EXISTS first, then ADDTO (sequence numbers must be known, §4.3.3).
    await deliver(7, true);
    const added = lines(await a.command("n2", "NOOP"));
    assert.ok(indexOf(added, /^\* 7 EXISTS/) >= 0 && indexOf(added, /^\* 7 EXISTS/) < indexOf(added, /"u1"\) UID ADDTO \(0 7\)/), added.join("\n"));
    assert.ok(added.includes('* ESEARCH (TAG "q1") ADDTO (0 7)'), added.join("\n"));

    // An expunge elsewhere: REMOVEFROM before the EXPUNGE, with the old sequence number (§4.3.4).
    assert.match(await b.command("t3", "UID STORE 6 +FLAGS (\\Deleted)"), /t3 OK/);
    assert.match(await b.command("x1", "EXPUNGE"), /x1 OK/);
    const gone = lines(await a.command("n3", "NOOP"));
    const expunge = indexOf(gone, /^\* 6 EXPUNGE/);
    assert.ok(expunge > 0, gone.join("\n"));
    assert.ok(indexOf(gone, /^\* ESEARCH \(TAG "u1"\) UID REMOVEFROM \(0 6\)$/) < expunge, gone.join("\n"));
    assert.ok(indexOf(gone, /^\* ESEARCH \(TAG "q1"\) REMOVEFROM \(0 6\)$/) < expunge, gone.join("\n"));

    // Nothing changed: no update at all.
    assert.doesNotMatch(await a.command("n4", "NOOP"), /ESEARCH/);

    // What the client now holds matches a fresh search.
    assert.match(await a.command("v1", "UID SEARCH RETURN (ALL) FLAGGED"), /UID ALL 1,7/);
  });

  it("CANCELUPDATE stops a context; an unknown tag is BAD", async () => {
    assert.match(await a.command("k1", 'CANCELUPDATE "q1"'), /^k1 OK/m);
    assert.match(await a.command("k2", 'CANCELUPDATE "q1"'), /^k2 BAD/m);
    assert.match(await a.command("k3", "CANCELUPDATE q1"), /^k3 BAD/m);
    assert.match(await a.command("k4", "CANCELUPDATE"), /^k4 BAD/m);
    const after = await a.command("t4", "UID STORE 2 +FLAGS (\\Flagged)");
    assert.match(after, /"u1"\) UID ADDTO \(0 2\)/);
    assert.doesNotMatch(after, /"q1"/);
  });

  it("CONTEXT=SORT: ADDTO and REMOVEFROM carry positions in sort order", async () => {
    // Flagged now: 1, 2, 7. Reverse arrival order: 7, 2, 1.
    assert.match(await a.command("o1", "UID SORT RETURN (UPDATE) (REVERSE ARRIVAL) UTF-8 FLAGGED"), /\* ESEARCH \(TAG "o1"\) UID ALL 7,2,1\r\n/);
    await deliver(8, true);
    const added = lines(await a.command("n5", "NOOP"));
    // The newest arrival goes first: position 1.
    assert.ok(added.includes('* ESEARCH (TAG "o1") UID ADDTO (1 8)'), added.join("\n"));
    const removed = lines(await a.command("t5", "UID STORE 2 -FLAGS (\\Flagged)"));
    // 8, 7, 2, 1: UID 2 was third.
    assert.ok(removed.includes('* ESEARCH (TAG "o1") UID REMOVEFROM (3 2)'), removed.join("\n"));
    const back = lines(await a.command("t6", "UID STORE 2:4 +FLAGS (\\Flagged)"));
    // 8, 7, 4, 3, 2, 1: 4, 3 and 2 land at 3, 4, 5 (one pair, the set in sort order).
    assert.ok(back.includes('* ESEARCH (TAG "o1") UID ADDTO (3 4,3,2)'), back.join("\n"));
  });

  it("beyond the limit: NO [NOUPDATE] and the answer all the same", async () => {
    // Live: u1, o1 (q1 cancelled); the limit is 3.
    assert.match(await a.command("w1", "SEARCH RETURN (UPDATE MIN) FLAGGED"), /MIN 1/);
    const refused = await a.command("w2", "UID SORT RETURN (UPDATE COUNT) (ARRIVAL) UTF-8 FLAGGED");
    assert.match(refused, /\* ESEARCH \(TAG "w2"\) UID COUNT 6\r\n\* NO \[NOUPDATE "w2"\][^\r]*\r\nw2 OK/);
    // w2 has no context to cancel.
    assert.match(await a.command("k5", 'CANCELUPDATE "w2"'), /^k5 BAD/m);
  });

  it("updates arrive during IDLE", async () => {
    a.take();
    a.send("i1 IDLE\r\n");
    await a.until((t) => t.includes("+ "));
    assert.match(await b.command("t8", "UID STORE 5 +FLAGS (\\Flagged)"), /t8 OK/);
    const seen = await a.until((t) => /"u1"\) UID ADDTO \(0 5\)\r\n/.test(t), 10_000);
    // The sort context (w1 is by sequence number, o1 by UID in reverse arrival: 5 after 7).
    assert.match(seen, /\* 5 FETCH/);
    a.send("DONE\r\n");
    assert.match(await a.until((t) => /i1 OK/.test(t)), /"o1"\) UID ADDTO \(3 5\)/);
  });

  it("ESEARCH takes no UPDATE; contexts end when the mailbox is selected again", async () => {
    assert.match(await a.command("e1", "ESEARCH RETURN (UPDATE) ALL"), /^e1 BAD/m);
    assert.match(await a.command("e2", "ESEARCH RETURN (CONTEXT COUNT) ALL"), /COUNT/);
    assert.match(await a.command("r1", "SELECT INBOX"), /r1 OK/);
    assert.match(await a.command("k6", 'CANCELUPDATE "u1"'), /^k6 BAD/m);
    assert.doesNotMatch(await a.command("t7", "UID STORE 5 +FLAGS (\\Flagged)"), /ESEARCH/);
    // The tag is free again.
    assert.match(await a.command("u1", "UID SEARCH RETURN (UPDATE) UID 5"), /UID ALL 5/);
  });

  it("imaplib: a client sees the ESEARCH updates as untagged responses", async () => {
    const script = `
import imaplib, sys
port = int(sys.argv[1])
m = imaplib.IMAP4("127.0.0.1", port)
m.login("alice@example.org", "alice-pass")
m.select("INBOX")
typ, data = m._simple_command("UID", "SEARCH", "RETURN", "(UPDATE)", "SEEN")
print("initial", typ, m.untagged_responses.pop("ESEARCH", None))
m.uid("STORE", "1", "+FLAGS", "(\\\\Seen)")
print("after", m.untagged_responses.pop("ESEARCH", None))
m.logout()
`;
    const out = await runPython(script, [String(h.ports.imap)]);
    assert.match(out, /initial OK/);
    assert.match(out, /after \[b'\(TAG "[A-Z0-9]+"\) UID ADDTO \(0 1\)'\]/);
  });
});
