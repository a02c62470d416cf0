// QRESYNC seq-match-data (RFC 7162 §3.2.5.2) with python3 imaplib sending the SELECT parameters
// itself: a client that saw UID 3 expunged but kept an older modseq tells the server its view
// (sequence numbers ↔ UIDs), and VANISHED (EARLIER) then names only what it cannot know (UID 8);
// without the hint the server names both; sets of different sizes are BAD.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { deliverTo, startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { asUid } from "../../src/store/index.js";

const IMAPLIB_QRESYNC = String.raw`
import imaplib, sys, json
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("bob@example.org", "bob-pass")
M.enable("QRESYNC")
out = {}
for name, params in json.loads(sys.argv[2]).items():
    try:
        typ, data = M._simple_command("SELECT", "Resync " + params)
        reply = data[0].decode() if data and data[0] else ""
    except M.error as e:
        typ, reply = "BAD", str(e)
    vanished = M.untagged_responses.pop("VANISHED", [])
    out[name] = {"status": typ, "vanished": [v.decode() for v in vanished], "reply": reply}
    for key in list(M.untagged_responses):
        M.untagged_responses.pop(key)
M.logout()
print(json.dumps(out))
`;

function python(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("python3", ["-c", IMAPLIB_QRESYNC, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("IMAP QRESYNC seq-match-data", () => {
  let harness: ImapHarness;
  before(async () => {
    harness = await startImapHarness();
  });
  after(async () => harness.stop());

  it("narrows VANISHED (EARLIER) to UIDs above the highest pair that still matches", async () => {
    const { store } = harness.temp;
    const mailbox = await store.createMailbox(harness.accounts.bob.id, "Resync");
    for (let i = 1; i <= 10; i++) await deliverTo(harness, harness.accounts.bob, `m${i}`, "Resync");
    const modseq = (await store.mailboxStatus(mailbox.id)).highestModSeq;
    // The client saw UID 3 go (its view: 1 2 4 5 6 7 8 9 10) but kept modseq; UID 8 went while it was away.
    await store.removeMessages(mailbox.id, [asUid(3)]);
    await store.removeMessages(mailbox.id, [asUid(8)]);
    const base = `${mailbox.uidValidity} ${modseq} 1:10`;
    const cases = {
      // Server now: 1 2 4 5 6 7 9 10. UID 4 is still message 3, UID 7 still 6: nothing below 7 went.
      narrowed: `(QRESYNC (${base} (1,3,6 1,4,7)))`,
      // UID 9 was message 8 for the client; it is message 7 now, so the highest match is UID 4.
      partly: `(QRESYNC (${base} (3,8 4,9)))`,
      full: `(QRESYNC (${base}))`,
      mismatched: `(QRESYNC (${base} (1,3 1,4,7)))`,
    };
    const { code, stdout, stderr } = await python([String(harness.ports.imap), JSON.stringify(cases)]);
    assert.equal(code, 0, stderr);
    const out = JSON.parse(stdout) as Record<keyof typeof cases, { status: string; vanished: string[]; reply: string }>;
    assert.deepEqual(out.narrowed.vanished, ["(EARLIER) 8"]);
    assert.deepEqual(out.partly.vanished, ["(EARLIER) 8"]);
    assert.deepEqual(out.full.vanished, ["(EARLIER) 3,8"]);
    assert.equal(out.mismatched.status, "BAD");
    assert.match(out.mismatched.reply, /seq-match-data/);
  });
});
