// Greylisting end to end over port 25 with python's smtplib: the first attempt of a new
// (network, sender, recipient) gets 451 4.7.1 with the wait, a retry too early gets it again,
// a retry after greylist_delay is accepted, and the sender (network and domain) that retried is
// then let through at once for another recipient; a domain not listed is never greylisted.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { createMemoryLogger } from "../../src/observability/log.js";
import { createAdmin } from "../../src/server/compose.js";
import { startFullServer } from "../harness/full-server.js";
import { runPython } from "../harness/python.js";

// Sends each (from, to) pair given as "from,to" arguments in turn, in one process so that
// consecutive attempts are milliseconds apart even on a loaded machine.
const SEND = `
import smtplib, sys, json
out = []
for pair in sys.argv[2:]:
    sender, rcpt = pair.split(",")
    s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="mail.sender.test")
    try:
        s.sendmail(sender, [rcpt], "From: " + sender + "\\r\\nTo: " + rcpt + "\\r\\nSubject: hello\\r\\nDate: Tue, 1 Dec 2026 10:00:00 +0000\\r\\nMessage-ID: <g@sender.test>\\r\\n\\r\\nhi\\r\\n")
        out.append([250, ""])
    except smtplib.SMTPDataError as e:
        out.append([e.smtp_code, e.smtp_error.decode()])
    s.quit()
print(json.dumps(out))
`;

test("greylisting: 451 first and too early, accepted after the delay, the sender then let through", async () => {
  const log = createMemoryLogger();
  const full = await startFullServer({ protocols: ["smtp"], log, extraToml: `[spam]\nexempt_networks = []\niprev = false\ngreylist_domains = ["example.org"]\ngreylist_delay = "5s"\n` });
  try {
    const admin = createAdmin(full.server.config, full.server.store);
    await admin.addDomain("example.org");
    await admin.addDomain("other.org");
    await admin.addUser({ address: "alice@example.org", password: "alice pass" });
    await admin.addUser({ address: "bob@example.org", password: "bob pass" });
    await admin.addUser({ address: "carol@other.org", password: "carol pass" });
    const port = String(full.portOf("smtp"));
    const send = async (...pairs: string[]) => JSON.parse(await runPython(SEND, [port, ...pairs])) as [number, string][];

    const started = Date.now();
    const [first, early, other] = await send("news@sender.test,alice@example.org", "news@sender.test,alice@example.org", "news@sender.test,carol@other.org");
    assert.equal(first![0], 451);
    assert.match(first![1], /^4\.7\.1 Greylisted, please try again in 5 seconds/);
    if (Date.now() - started < 4500) {
      assert.equal(early![0], 451, "a retry before the delay is refused again");
      assert.match(early![1], /^4\.7\.1 Greylisted, please try again in [1-5] seconds/);
    }
    assert.deepEqual(other, [250, ""], "other.org is not greylisted");
    // The first attempt happened before the python run returned: a full delay from now is enough.
    await sleep(5300);
    const [retry, whitelisted] = await send("news@sender.test,alice@example.org", "other@sender.test,bob@example.org");
    assert.deepEqual(retry, [250, ""]);
    assert.deepEqual(whitelisted, [250, ""], "the network and sender domain retried correctly: whitelisted");
    assert.ok(log.records.filter((r) => r.event === "spam.greylisted").length >= 1);
    const inbox = await full.server.store.mail.getMailbox((await full.server.store.accounts.findAccountByAddress("alice@example.org"))!.id, "INBOX");
    assert.equal((await full.server.store.mail.mailboxStatus(inbox!.id)).messages, 1, "greylisted attempts stored nothing");
  } finally {
    await full.stop();
  }
});
