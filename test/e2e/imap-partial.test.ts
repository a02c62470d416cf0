// PARTIAL (RFC 9394) over a real socket: SEARCH / UID SEARCH / UID SORT RETURN (PARTIAL first:last)
// and (PARTIAL -first:-last) pages of the result (in sort order for SORT), NIL past its end, COUNT beside it, SAVE of the page,
// the UID FETCH PARTIAL modifier, and the errors (with ALL, twice, malformed); imaplib.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";
import { runPython } from "../harness/python.js";

describe("IMAP PARTIAL", () => {
  let h: ImapHarness;
  let client: RawImapClient;
  before(async () => {
    h = await startImapHarness();
    const inbox = (await h.temp.store.getMailbox(h.accounts.alice.id, "INBOX"))!;
    // UIDs 1..10; 3, 6 and 9 flagged.
    for (let n = 1; n <= 10; n++) {
      await h.temp.store.deliver({ source: Buffer.from(`Subject: m${n}\r\nMessage-ID: <m${n}@x>\r\n\r\nbody ${n}\r\n`), targets: [{ mailboxId: inbox.id, flags: n % 3 === 0 ? ["\\Flagged"] : [] }] });
    }
    await h.temp.store.removeMessages(inbox.id, [2 as never]);
    client = await RawImapClient.open(h.ports.imap);
    assert.match(await client.command("a0", "LOGIN alice@example.org alice-pass"), /a0 OK/);
    assert.match(await client.command("a1", "SELECT INBOX"), /\* 9 EXISTS/);
  });
  after(async () => {
    client.close();
    await h.stop();
  });

  it("advertises PARTIAL", async () => {
    assert.match(await client.command("c1", "CAPABILITY"), /\bPARTIAL\b/);
  });

  it("pages a SEARCH result from the start and from the end", async () => {
    assert.match(await client.command("p1", "UID SEARCH RETURN (PARTIAL 1:3) ALL"), /\* ESEARCH \(TAG "p1"\) UID PARTIAL \(1:3 1,3:4\)\r\n/);
    assert.match(await client.command("p2", "UID SEARCH RETURN (PARTIAL 4:6) ALL"), /PARTIAL \(4:6 5:7\)/);
    assert.match(await client.command("p3", "UID SEARCH RETURN (PARTIAL -1:-2) ALL"), /PARTIAL \(-1:-2 9:10\)/);
    assert.match(await client.command("p4", "UID SEARCH RETURN (PARTIAL -2:-1) ALL"), /PARTIAL \(-2:-1 9:10\)/, "the range as written");
    assert.match(await client.command("p5", "UID SEARCH RETURN (PARTIAL 8:100) ALL"), /PARTIAL \(8:100 9:10\)/);
    assert.match(await client.command("p6", "UID SEARCH RETURN (PARTIAL 20:30) ALL"), /PARTIAL \(20:30 NIL\)/);
    // Sequence numbers for SEARCH; MIN/COUNT count the whole result.
    assert.match(await client.command("p7", "SEARCH RETURN (PARTIAL 1:2 COUNT MIN) FLAGGED"), /\* ESEARCH \(TAG "p7"\) MIN 2 COUNT 3 PARTIAL \(1:2 2,5\)\r\n/);
    assert.match(await client.command("p8", "SEARCH RETURN (PARTIAL -1:-1) FLAGGED"), /PARTIAL \(-1:-1 8\)/);
  });

  it("SAVE keeps the page; FETCH $ reads it", async () => {
    assert.match(await client.command("s1", "UID SEARCH RETURN (SAVE PARTIAL 2:3) ALL"), /PARTIAL \(2:3 3:4\)/);
    const fetched = await client.command("s2", "UID FETCH $ (UID)");
    assert.deepEqual([...fetched.matchAll(/UID (\d+)\)/g)].map((m) => Number(m[1])), [3, 4]);
  });

  it("UID FETCH (PARTIAL range) answers only that page of the set", async () => {
    const last = await client.command("f1", "UID FETCH 1:* (FLAGS) (PARTIAL -1:-3)");
    assert.deepEqual([...last.matchAll(/UID (\d+)/g)].map((m) => Number(m[1])), [8, 9, 10]);
    const first = await client.command("f2", "UID FETCH 4:* (FLAGS) (PARTIAL 1:2)");
    assert.deepEqual([...first.matchAll(/UID (\d+)/g)].map((m) => Number(m[1])), [4, 5]);
    assert.match(await client.command("f3", "UID FETCH 1:* (FLAGS) (PARTIAL 50:60)"), /^f3 OK/);
  });

  it("ESORT: PARTIAL counts positions in sort order", async () => {
    assert.match(await client.command("o1", "UID SORT RETURN (PARTIAL 1:3) (REVERSE ARRIVAL) UTF-8 ALL"), /\* ESEARCH \(TAG "o1"\) UID PARTIAL \(1:3 10,9,8\)\r\n/);
    assert.match(await client.command("o2", "UID SORT RETURN (PARTIAL -1:-2 COUNT) (REVERSE ARRIVAL) UTF-8 ALL"), /COUNT 9 PARTIAL \(-1:-2 3,1\)/);
    assert.match(await client.command("o3", "UID SORT RETURN (PARTIAL 50:60) (ARRIVAL) UTF-8 ALL"), /PARTIAL \(50:60 NIL\)/);
    assert.match(await client.command("o4", "UID SORT RETURN (SAVE PARTIAL 1:2) (REVERSE ARRIVAL) UTF-8 ALL"), /o4 OK/);
    const fetched = await client.command("o5", "UID FETCH $ (UID)");
    assert.deepEqual([...fetched.matchAll(/UID (\d+)\)/g)].map((m) => Number(m[1])), [9, 10]);
  });

  it("refuses malformed and conflicting PARTIAL", async () => {
    for (const [tag, command] of [
      ["e1", "SEARCH RETURN (PARTIAL 1:5 ALL) ALL"],
      ["e2", "SEARCH RETURN (PARTIAL 1:5 PARTIAL 6:9) ALL"],
      ["e3", "SEARCH RETURN (PARTIAL 0:5) ALL"],
      ["e4", "SEARCH RETURN (PARTIAL 1:*) ALL"],
      ["e5", "SEARCH RETURN (PARTIAL -1:5) ALL"],
      ["e6", "UID FETCH 1:* FLAGS (PARTIAL)"],
      ["e7", "SORT RETURN (PARTIAL 1:2 ALL) (DATE) UTF-8 ALL"],
    ] as const) {
      assert.match(await client.command(tag, command), new RegExp(`${tag} BAD`), command);
    }
  });

  it("python3 imaplib pages with UID SEARCH RETURN (PARTIAL -1:-5)", async () => {
    const script = `
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("alice@example.org", "alice-pass")
m.select("INBOX", readonly=True)
typ, data = m.uid("SEARCH", "RETURN", "(PARTIAL -1:-5)", "ALL")
assert typ == "OK", data
print(m.untagged_responses.get("ESEARCH"))
m.logout()
`;
    const out = await runPython(script, [String(h.ports.imap)]);
    assert.match(out, /UID PARTIAL \(-1:-5 6:10\)/);
  });
});
