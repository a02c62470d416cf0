// Quota at SMTP, per recipient, with python3 smtplib over real sockets (smtp/inbound/
// recipient-checks.ts and local-delivery.ts): a full mailbox gets 452 4.2.2 at RCPT TO while the
// other recipient gets the message; the declared SIZE= that would not fit is refused at RCPT too;
// without SIZE=, a message that does not fit one recipient after DATA is delivered to the others
// (250) and the sender gets a "failed 5.2.2" DSN for that one; and the usage warning reaches the
// user's INBOX once when a delivery crosses [quota] warning_percent.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { mailboxMessages, startSmtpHarness, type SmtpHarness } from "../harness/smtp-harness.js";
import { runPython } from "../harness/python.js";
import type { Account } from "../../src/store/index.js";

/** Stores `bytes` octets of mail in the account's Archive (as earlier deliveries would have). */
async function fill(harness: SmtpHarness, account: Account, bytes: number): Promise<void> {
  const archive = (await harness.temp.store.getMailbox(account.id, "Archive"))!;
  const header = "Subject: old mail\r\n\r\n";
  await harness.temp.store.deliver({ source: Buffer.from(header + "x".repeat(bytes - header.length)), targets: [{ mailboxId: archive.id }] });
}

const SEND = String.raw`
import smtplib, sys, json
port, sender, size_mode, body_len = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
rcpts = sys.argv[5:]
msg = ("From: <%s>\r\nTo: undisclosed-recipients:;\r\nSubject: quota test\r\n\r\n" % sender) + "".join(("y" * 78 + "\r\n") for _ in range(body_len // 80)) + "end\r\n"
s = smtplib.SMTP("127.0.0.1", port)
s.ehlo("client.example.net")
opts = ["SIZE=%d" % len(msg)] if size_mode == "size" else []
code, text = s.mail(sender, opts)
assert code == 250, (code, text)
replies = {}
for r in rcpts:
    code, text = s.rcpt(r)
    replies[r] = "%d %s" % (code, text.decode())
code, text = s.data(msg.encode())
replies["DATA"] = "%d %s" % (code, text.decode())
s.quit()
print(json.dumps(replies))
`;

async function send(harness: SmtpHarness, sender: string, sizeMode: "size" | "nosize", bodyLength: number, recipients: string[]): Promise<Record<string, string>> {
  return JSON.parse(await runPython(SEND, [String(harness.ports.mx), sender, sizeMode, String(bodyLength), ...recipients])) as Record<string, string>;
}

describe("SMTP quota per recipient (smtplib)", () => {
  let harness: SmtpHarness;
  before(async () => {
    harness = await startSmtpHarness({ store: { quota: { storageBytes: 0, messages: 0, warningPercent: 90 } }, quotaWarningPercent: 90 });
  });
  after(async () => harness.stop());

  it("a full mailbox gets 452 4.2.2 at RCPT TO; the other recipient gets the message", async () => {
    await harness.temp.store.setQuotaLimits("carol@example.org", { storageBytes: 4000 });
    await fill(harness, harness.accounts.carol, 4000);
    const replies = await send(harness, "someone@example.net", "nosize", 100, ["alice@example.org", "carol@example.org"]);
    assert.match(replies["alice@example.org"]!, /^250 /);
    assert.match(replies["carol@example.org"]!, /^452 4\.2\.2 /);
    assert.match(replies["DATA"]!, /^250 /);
    assert.equal((await mailboxMessages(harness, harness.accounts.alice)).filter((m) => m.text.includes("Subject: quota test")).length, 1);
    assert.equal((await mailboxMessages(harness, harness.accounts.carol)).length, 0);
    await harness.temp.store.setQuotaLimits("carol@example.org", { storageBytes: null });
  });

  it("a MESSAGE limit reached is a full mailbox too", async () => {
    await harness.temp.store.setQuotaLimits("bob@example.org", { messages: 1 });
    await fill(harness, harness.accounts.bob, 100);
    const replies = await send(harness, "someone@example.net", "nosize", 10, ["bob@example.org", "alice@example.org"]);
    assert.match(replies["bob@example.org"]!, /^452 4\.2\.2 /);
    assert.match(replies["alice@example.org"]!, /^250 /);
    await harness.temp.store.setQuotaLimits("bob@example.org", { messages: null });
  });

  it("a declared SIZE= that would not fit is refused at RCPT for that recipient only", async () => {
    const dave = await harness.temp.store.createAccount({ address: "dave@example.org", passwordHash: "x", quotaBytes: 10_000 });
    await fill(harness, dave, 6000);
    const replies = await send(harness, "someone@example.net", "size", 5000, ["dave@example.org", "alice@example.org"]);
    assert.match(replies["dave@example.org"]!, /^452 4\.2\.2 /);
    assert.match(replies["alice@example.org"]!, /^250 /);
    assert.match(replies["DATA"]!, /^250 /);
    // The same message without SIZE=: accepted at RCPT, then it does not fit after DATA. alice
    // still gets it (250), and the sender (bob, local) gets a DSN naming dave, failed 5.2.2.
    const plain = await send(harness, "bob@example.org", "nosize", 5000, ["dave@example.org", "alice@example.org"]);
    assert.match(plain["dave@example.org"]!, /^250 /);
    assert.match(plain["DATA"]!, /^250 /);
    const daveMail = await mailboxMessages(harness, dave);
    assert.equal(daveMail.length, 0, "nothing was stored for the full recipient");
    assert.equal((await mailboxMessages(harness, harness.accounts.alice)).filter((m) => m.text.includes("Subject: quota test")).length, 4);
    const dsn = (await mailboxMessages(harness, harness.accounts.bob)).find((m) => m.text.includes("Undelivered Mail Returned to Sender"));
    assert.ok(dsn, "bob got a DSN");
    assert.match(dsn.text, /Final-Recipient: rfc822; ?dave@example\.org/i);
    assert.match(dsn.text, /Status: 5\.2\.2/);
    assert.doesNotMatch(dsn.text, /Final-Recipient: rfc822; ?alice@example\.org/i);
  });

  it("when no recipient can take the message after DATA, the reply refuses it (552 5.2.2)", async () => {
    const erin = await harness.temp.store.createAccount({ address: "erin@example.org", passwordHash: "x", quotaBytes: 3000 });
    const replies = await send(harness, "someone@example.net", "nosize", 5000, ["erin@example.org"]);
    assert.match(replies["erin@example.org"]!, /^250 /);
    assert.match(replies["DATA"]!, /^552 5\.2\.2 /);
    assert.equal((await mailboxMessages(harness, erin)).length, 0);
  });

  it("two recipients that lead to one mailbox need room for one copy, as one copy is stored", async () => {
    const gina = await harness.temp.store.createAccount({ address: "gina@example.org", passwordHash: "x" });
    await harness.temp.store.setQuotaLimits("gina@example.org", { messages: 1 });
    await harness.temp.store.addAlias("gina.alias@example.org", ["gina@example.org"]);
    const replies = await send(harness, "someone@example.net", "nosize", 100, ["gina@example.org", "gina.alias@example.org"]);
    assert.match(replies["DATA"]!, /^250 /);
    assert.equal((await mailboxMessages(harness, gina)).filter((m) => m.text.includes("Subject: quota test")).length, 1);
  });

  it("the usage warning reaches the INBOX once when a delivery crosses warning_percent", async () => {
    const frank = await harness.temp.store.createAccount({ address: "frank@example.org", passwordHash: "x", quotaBytes: 20_000 });
    await send(harness, "someone@example.net", "nosize", 8000, ["frank@example.org"]);
    const warningsOf = async () => (await mailboxMessages(harness, frank)).filter((m) => m.text.includes("Subject: Your mailbox is"));
    assert.equal((await warningsOf()).length, 0, "40% is below 90%");
    await send(harness, "someone@example.net", "nosize", 10_000, ["frank@example.org"]);
    const [warning, ...more] = await warningsOf();
    assert.ok(warning, "one warning");
    assert.equal(more.length, 0);
    assert.match(warning.text, /^From: Mail Delivery System <postmaster@example\.org>\r$/m);
    assert.match(warning.text, /^To: <frank@example\.org>\r$/m);
    assert.match(warning.text, /Storage: +\d+ KiB of 20 KiB \(9\d%\)/);
    assert.match(warning.text, /^Auto-Submitted: auto-generated\r$/m);
  });
});
