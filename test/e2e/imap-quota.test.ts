// RFC 9208 QUOTA over real sockets: the transcript test/transcripts/quota-imap.transcript (exact
// responses, normal and error paths) and python3 imaplib as a client would use it: CAPABILITY,
// GETQUOTAROOT INBOX, APPEND over the storage quota refused with NO [OVERQUOTA] and nothing
// stored, STATUS DELETED-STORAGE, expunge freeing space at once, and the one-time usage warning
// in INBOX (from the postmaster, not sent again until usage drops below the threshold).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { runPython } from "../harness/python.js";
import { runTranscript } from "../harness/transcript.js";

async function transcript(name: string): Promise<string> {
  // Runs from dist/test/e2e; the .transcript files stay in test/.
  for (const candidate of [new URL(`../transcripts/${name}`, import.meta.url), new URL(`../../../test/transcripts/${name}`, import.meta.url)]) {
    try {
      return await readFile(fileURLToPath(candidate), "utf8");
    } catch {
      // try the next
    }
  }
  throw new Error(`transcript ${name} not found`);
}

describe("IMAP QUOTA transcript (defaults: 8 KiB, 3 messages)", () => {
  let harness: ImapHarness;
  before(async () => {
    harness = await startImapHarness({ store: { quota: { storageBytes: 8 * 1024, messages: 3, warningPercent: 0 } }, quotaWarningPercent: 0 });
  });
  after(async () => harness.stop());

  it("matches", async () => runTranscript(harness.ports.imap, await transcript("quota-imap.transcript")));

  it("leaves the usage counters equal to what is stored (store check finds nothing)", async () => {
    const report = await harness.temp.store.checkStore({});
    assert.deepEqual(report.usage, []);
  });
});

// imaplib: alice's own limit (100 KiB) set as `mailroom user quota` does; bob has none.
const IMAPLIB = String.raw`
import imaplib, sys
port = int(sys.argv[1])
def login(user):
    c = imaplib.IMAP4("127.0.0.1", port)
    c.login(user + "@example.org", user + "-pass")
    return c
c = login("alice")
typ, caps = c.capability()
caps = caps[0].decode().split()
for cap in ("QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"):
    assert cap in caps, (cap, caps)
assert "QUOTASET" not in caps, caps
typ, data = c.getquotaroot("INBOX")
assert typ == "OK", (typ, data)
print("ROOT", data[0][0].decode())
print("QUOTA", data[1][0].decode())
msg = b"Subject: filler\r\n\r\n" + b"x" * 40000 + b"\r\n"
for i in range(2):
    typ, data = c.append("INBOX", None, None, msg)
    assert typ == "OK", (typ, data)
typ, data = c.append("INBOX", None, None, msg)
print("OVER", typ, data[0].decode())
c.select("INBOX")
typ, data = c.search(None, "ALL")
print("COUNT", len(data[0].split()))
c.store("1", "+FLAGS", r"(\Deleted)")
typ, data = c.status("INBOX", "(DELETED DELETED-STORAGE)")
print("STATUS", data[0].decode())
c.expunge()
typ, data = c.getquota('"User quota"')
print("AFTER", data[0].decode())
typ, data = c.append("INBOX", None, None, msg)
print("AGAIN", typ)
b = login("bob")
typ, data = b.getquotaroot("INBOX")
print("BOB", [d.decode() if isinstance(d, bytes) else d for d in data[0]])
typ, data = b.getquota('"User quota"')
print("BOBQUOTA", typ)
typ, data = b._simple_command("SETQUOTA", '"User quota"', "(STORAGE 1)")
print("SET", typ)
c.logout(); b.logout()
`;

describe("IMAP QUOTA with imaplib", () => {
  let harness: ImapHarness;
  before(async () => {
    harness = await startImapHarness({ store: { quota: { storageBytes: 0, messages: 0, warningPercent: 0 } }, quotaWarningPercent: 0 });
    await harness.temp.store.setQuotaLimits("alice@example.org", { storageBytes: 100 * 1024 });
  });
  after(async () => harness.stop());

  it("GETQUOTAROOT, APPEND over quota refused with nothing stored, DELETED-STORAGE, expunge frees at once", async () => {
    const out = await runPython(IMAPLIB, [String(harness.ports.imap)]);
    const line = (key: string) => out.split("\n").find((l) => l.startsWith(`${key} `)) ?? "";
    assert.equal(line("ROOT"), 'ROOT "INBOX" "User quota"');
    assert.equal(line("QUOTA"), 'QUOTA "User quota" (STORAGE 0 100)');
    assert.match(line("OVER"), /^OVER NO \[OVERQUOTA\]/);
    assert.equal(line("COUNT"), "COUNT 2", "the refused APPEND stored nothing");
    // One 40,021-octet message deleted: 39 KiB to free.
    assert.equal(line("STATUS"), 'STATUS "INBOX" (DELETED 1 DELETED-STORAGE 39)');
    assert.equal(line("AFTER"), 'AFTER "User quota" (STORAGE 39 100)');
    assert.equal(line("AGAIN"), "AGAIN OK", "space freed by EXPUNGE is usable at once");
    // bob: no limit at all, so no quota root (RFC 9208 §4.1.2: zero or more roots).
    assert.match(line("BOB"), /^BOB \['"INBOX"'\]|^BOB \['"INBOX"/);
    assert.equal(line("BOBQUOTA"), "BOBQUOTA NO");
    assert.equal(line("SET"), "SET NO");
  });
});

describe("quota usage warning over IMAP APPEND", () => {
  let harness: ImapHarness;
  before(async () => {
    // 10 messages, warned at 50%: the 5th message crosses the threshold.
    harness = await startImapHarness({ store: { quota: { storageBytes: 0, messages: 10, warningPercent: 50 } }, quotaWarningPercent: 50 });
  });
  after(async () => harness.stop());

  const warnings = async (): Promise<string[]> => {
    const inbox = (await harness.temp.store.getMailbox(harness.accounts.alice.id, "INBOX"))!;
    const uids = (await harness.temp.store.listMessages(inbox.id)).map((m) => m.uid);
    const messages = await harness.temp.store.getMessages(inbox.id, uids);
    return messages.map((m) => m.envelope.subject ?? "").filter((s) => s.startsWith("Your mailbox is"));
  };

  it("is delivered once when usage crosses the threshold, and again only after dropping below it", async () => {
    const script = String.raw`
import imaplib, sys
c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
c.login("alice@example.org", "alice-pass")
for i in range(int(sys.argv[2])):
    typ, data = c.append("Archive", None, None, b"Subject: m\r\n\r\nhello\r\n")
    assert typ == "OK", data
if sys.argv[3] == "expunge":
    c.select("Archive")
    c.store("1:*", "+FLAGS", r"(\Deleted)")
    c.expunge()
c.logout()
`;
    const port = String(harness.ports.imap);
    await runPython(script, [port, "4", "no"]);
    assert.deepEqual(await warnings(), [], "4 of 10 is below 50%");
    await runPython(script, [port, "1", "no"]);
    assert.deepEqual(await warnings(), ["Your mailbox is 50% full"]);
    // Still above: no second warning.
    await runPython(script, [port, "1", "no"]);
    assert.equal((await warnings()).length, 1);
    // Everything in Archive expunged: 1 message (the warning) of 10, below 50%: re-armed.
    await runPython(script, [port, "0", "expunge"]);
    await runPython(script, [port, "4", "no"]);
    assert.equal((await warnings()).length, 2, "crossing again warns again");
    const inbox = (await harness.temp.store.getMailbox(harness.accounts.alice.id, "INBOX"))!;
    const [first] = await harness.temp.store.getMessages(inbox.id, [(await harness.temp.store.listMessages(inbox.id))[0]!.uid]);
    assert.match(first!.envelope.from?.[0]?.mailbox ?? "", /^postmaster$/);
  });
});
