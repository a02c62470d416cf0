// Greylisting end to end over port 25 with python's smtplib: the first attempt of a new
// (network, sender, recipient) gets 451 4.7.1 with the wait, a retry too early gets it again,
// a retry after greylist_delay is accepted, and the sender (network and domain) that retried is
// then let through at once for another recipient; a domain not listed is never greylisted.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { createMemoryLogger } from "../../src/observability/log.js";
import { createAdmin } from "../../src/server/compose.js";
import { startFullServer } from "../harness/full-server.js";

function runPython(source: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("python3", ["-c", source, ...args], { timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)));
  });
}

const SEND = `
import smtplib, sys, json
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="mail.sender.test")
try:
    s.sendmail(sys.argv[2], [sys.argv[3]], "From: " + sys.argv[2] + "\\r\\nTo: " + sys.argv[3] + "\\r\\nSubject: hello\\r\\nDate: Tue, 1 Dec 2026 10:00:00 +0000\\r\\nMessage-ID: <g@sender.test>\\r\\n\\r\\nhi\\r\\n")
    print(json.dumps([250, ""]))
except smtplib.SMTPDataError as e:
    print(json.dumps([e.smtp_code, e.smtp_error.decode()]))
s.quit()
`;

test("greylisting: 451 first and too early, accepted after the delay, the sender then let through", async () => {
  const log = createMemoryLogger();
  const full = await startFullServer({ protocols: ["smtp"], log, extraToml: `[spam]\nexempt_networks = []\niprev = false\ngreylist_domains = ["example.org"]\ngreylist_delay = "2s"\n` });
  try {
    const admin = createAdmin(full.server.config, full.server.store);
    await admin.addDomain("example.org");
    await admin.addDomain("other.org");
    await admin.addUser({ address: "alice@example.org", password: "alice pass" });
    await admin.addUser({ address: "bob@example.org", password: "bob pass" });
    await admin.addUser({ address: "carol@other.org", password: "carol pass" });
    const port = String(full.portOf("smtp"));
    const send = async (from: string, to: string) => JSON.parse(await runPython(SEND, [port, from, to])) as [number, string];

    const first = await send("news@sender.test", "alice@example.org");
    assert.equal(first[0], 451);
    assert.match(first[1], /^4\.7\.1 Greylisted, please try again in 2 seconds/);
    const early = await send("news@sender.test", "alice@example.org");
    assert.equal(early[0], 451);
    assert.deepEqual(await send("news@sender.test", "carol@other.org"), [250, ""], "other.org is not greylisted");
    await sleep(2100);
    assert.deepEqual(await send("news@sender.test", "alice@example.org"), [250, ""]);
    assert.deepEqual(await send("other@sender.test", "bob@example.org"), [250, ""], "the network and sender domain retried correctly: whitelisted");
    assert.equal(log.records.filter((r) => r.event === "spam.greylisted").length, 2);
    const inbox = await full.server.store.mail.getMailbox((await full.server.store.accounts.findAccountByAddress("alice@example.org"))!.id, "INBOX");
    assert.equal((await full.server.store.mail.mailboxStatus(inbox!.id)).messages, 1, "greylisted attempts stored nothing");
  } finally {
    await full.stop();
  }
});
