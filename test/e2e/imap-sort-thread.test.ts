// SORT, ESORT and THREAD end to end (RFC 5256, RFC 5957, RFC 5267): the real IMAP server
// (test/harness/imap-harness.ts) over loopback TCP with a real SQLite store, driven by python3
// imaplib (imap.sort, imap.thread, UID forms, RETURN through _simple_command), and a 3,000-message
// reply chain threaded over the socket (the 50,000-deep one is in src/imap/sort/thread.test.ts).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import type { Uid } from "../../src/store/index.js";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";

const run = promisify(execFile);
const CHAIN = 3000;

let harness: ImapHarness;
const uids: Uid[] = [];

function message(headers: string[]): Buffer {
  return Buffer.from(`${headers.join("\r\n")}\r\nTo: amy@example.org\r\n\r\nbody\r\n`);
}

before(async () => {
  harness = await startImapHarness();
  const { store } = harness.temp;
  const alice = harness.accounts.alice.id;
  const inbox = (await store.getMailbox(alice, "INBOX"))!;
  const messages: [Buffer, string][] = [
    [message(["Subject: Re: beta", "From: Zed <zed@example.org>", "Date: Mon, 3 Mar 2025 10:00:00 +0000", "Message-ID: <1@x>", "Cc: cat@example.org"]), "2025-03-10T00:00:00Z"],
    [message(["Subject: alpha", "From: Bob <bob@example.org>", "Date: 1 Mar 2025 10:00:00 +0000", "Message-ID: <2@x>"]), "2025-03-09T00:00:00Z"],
    [message(["Subject: beta", "From: =?UTF-8?Q?Andr=C3=A9?= <carl@example.org>", "Date: 2 Mar 2025 10:00:00 +0000", "Message-ID: <3@x>", "Cc: abe@example.org"]), "2025-03-08T00:00:00Z"],
    [message(["Subject: [list] Fwd: alpha", "From: dan@example.org", "In-Reply-To: <2@x>", "Message-ID: <4@x>"]), "2025-03-05T00:00:00Z"],
    [message(["Subject: gamma (fwd)", "From: eve@example.org", "Date: 4 Mar 2025 08:00:00 -0500", "Message-ID: <5@x>", "References: <3@x>\r\n <1@x>"]), "2025-03-07T00:00:00Z"],
  ];
  for (const [source, date] of messages) {
    const result = await store.deliver({ source, internalDate: new Date(date), targets: [{ mailboxId: inbox.id, flags: [] }] });
    uids.push(result.copies[0]!.uid);
  }
  const deep = await store.createMailbox(alice, "Deep");
  for (let i = 0; i < CHAIN; i++) {
    const headers = [`Subject: ${i === 0 ? "" : "Re: "}deep`, "From: x@example.org", `Message-ID: <d${i}@x>`, `Date: 1 Jan 2025 00:00:00 +0000`];
    if (i > 0) headers.push(`In-Reply-To: <d${i - 1}@x>`, `References: <d0@x> <d${i - 1}@x>`);
    await store.deliver({ source: message(headers), internalDate: new Date(Date.UTC(2025, 0, 1) + i * 1000), targets: [{ mailboxId: deep.id, flags: [] }] });
  }
});

after(() => harness?.stop());

const PYTHON = String.raw`
import imaplib, json, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.org", "alice-pass")
out = {"caps": [c for c in M.capabilities if c.startswith(("SORT", "ESORT", "THREAD"))]}
M.select("INBOX")
def s(*a): return M.sort(*a)[1][0].decode()
out["subject"] = s("(SUBJECT)", "UTF-8", "ALL")
out["date"] = s("(DATE)", "UTF-8", "ALL")
out["reverse_date"] = s("(REVERSE DATE)", "UTF-8", "ALL")
out["arrival"] = s("(ARRIVAL)", "US-ASCII", "ALL")
out["from"] = s("(FROM)", "UTF-8", "ALL")
out["cc"] = s("(CC REVERSE ARRIVAL)", "UTF-8", "ALL")
out["displayfrom"] = s("(DISPLAYFROM)", "UTF-8", "ALL")
out["size_subject"] = s("(REVERSE SUBJECT SIZE)", "UTF-8", "ALL")
out["criteria"] = s("(SUBJECT)", "UTF-8", "OR", "FROM", "bob", "FROM", "eve")
out["uid_date"] = M.uid("SORT", "(DATE)", "UTF-8", "ALL")[1][0].decode()
out["references"] = M.thread("REFERENCES", "UTF-8", "ALL")[1][0].decode()
out["orderedsubject"] = M.thread("ORDEREDSUBJECT", "UTF-8", "ALL")[1][0].decode()
out["uid_references"] = M.uid("THREAD", "REFERENCES", "UTF-8", "NOT", "FROM", "dan")[1][0].decode()
typ, data = M._simple_command("SORT", "RETURN", "(MIN MAX COUNT ALL)", "(DATE)", "UTF-8", "ALL")
out["esort"] = M._untagged_response(typ, data, "ESEARCH")[1][0].decode()
typ, data = M.sort("(SUBJECT)", "KOI8-R", "ALL")
out["badcharset"] = [typ, data[0].decode()]
try:
    M.sort("(BOGUS)", "UTF-8", "ALL")
    out["bad"] = "OK"
except imaplib.IMAP4.error as e:
    out["bad"] = str(e)
M.select("Deep")
out["deep"] = M.thread("REFERENCES", "UTF-8", "ALL")[1][0].decode()
out["deep_sort"] = s("(REVERSE ARRIVAL)", "UTF-8", "ALL")
M.logout()
print(json.dumps(out))
`;

describe("python3 imaplib SORT and THREAD", () => {
  it("sorts by every key, threads by both algorithms, answers ESORT and the error paths", async () => {
    const { stdout } = await run("python3", ["-c", PYTHON, String(harness.ports.imap)], { maxBuffer: 64 * 1024 * 1024 });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    assert.deepEqual(out.caps, ["SORT", "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES"]);
    // Base subjects: ALPHA (2, 4), BETA (1, 3), GAMMA (5); ties by sequence number.
    assert.equal(out.subject, "2 4 1 3 5");
    // Sent dates: 2 (1 Mar), 3 (2 Mar), 1 (3 Mar), 5 (4 Mar 13:00 UTC), 4 (no Date: its INTERNALDATE, 5 Mar).
    assert.equal(out.date, "2 3 1 5 4");
    assert.equal(out.reverse_date, "4 5 1 3 2");
    assert.equal(out.arrival, "4 5 3 2 1");
    assert.equal(out.from, "2 3 4 5 1");
    // No Cc sorts first (""), by arrival descending there: 2 (9 Mar), 5 (7 Mar), 4 (5 Mar); then ABE (3), CAT (1).
    assert.equal(out.cc, "2 5 4 3 1");
    // Display names decoded (André), the addr-spec without one.
    assert.equal(out.displayfrom, "3 2 4 5 1");
    assert.match(String(out.size_subject), /^5 (1 3|3 1) (2 4|4 2)$/);
    assert.equal(out.criteria, "2 5");
    assert.equal(out.uid_date, [uids[1], uids[2], uids[0], uids[4], uids[3]].join(" "));
    assert.equal(out.references, "(2 4)(3 1 5)");
    assert.equal(out.orderedsubject, "(2 4)(3 1)(5)");
    assert.equal(out.uid_references, `(${uids[1]})(${uids[2]} ${uids[0]} ${uids[4]})`);
    assert.match(String(out.esort), /^\(TAG "[^"]+"\) MIN 2 MAX 4 COUNT 5 ALL 2:3,1,5,4$/);
    assert.deepEqual(out.badcharset, ["NO", "[BADCHARSET (UTF-8 US-ASCII)] unsupported charset KOI8-R"]);
    assert.match(String(out.bad), /SORT command error: BAD \[b'unknown sort criterion BOGUS'\]/);
    const chain = Array.from({ length: CHAIN }, (_, i) => i + 1);
    assert.equal(out.deep, `(${chain.join(" ")})`);
    assert.equal(out.deep_sort, [...chain].reverse().join(" "));
  });
});
