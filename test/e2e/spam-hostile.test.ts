// Hostile input for the spam checks, end to end: the DNS lists answer SERVFAIL or not at all, the
// sender's SPF record is a huge TXT (over TCP), the client's PTR is a malformed name, and the
// message is a 25 MB single line sent with BDAT (no line limit there). Every step ends within its
// deadlines, the message gets a verdict that falls back safely (no DNS evidence), it is delivered
// whole, and the server keeps serving.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createMemoryLogger } from "../../src/observability/log.js";
import { createAdmin } from "../../src/server/compose.js";
import { startDnsServer } from "../harness/dns-server.js";
import { startFullServer } from "../harness/full-server.js";
import { RawSmtpClient } from "../harness/smtp-clients.js";

test("SERVFAIL and silent lists, a huge TXT, a malformed PTR and a 25 MB single-line body: bounded, delivered, still serving", async () => {
  const huge = Array.from({ length: 200 }, (_, i) => `include:spf${i}.sender.test`);
  const dns = await startDnsServer({
    "1.0.0.127.bl1.test": { A: { fail: "ESERVFAIL" } },
    "1.0.0.127.bl2.test": { A: { fail: "ETIMEOUT" } },
    "1.0.0.127.in-addr.arpa": { PTR: ["-bad..name-"] },
    "sender.test": { TXT: [["v=spf1 ", ...huge.map((h) => `${h} `), "-all"]] },
  });
  const log = createMemoryLogger();
  const full = await startFullServer({
    protocols: ["smtp"],
    log,
    extraToml: `[outbound]\ndns_servers = ["127.0.0.1:${dns.port}"]\n[limits]\nmax_message_size = "40M"\n[spam]\nexempt_networks = []\ndns_timeout = "500ms"\ndnsbl = { "bl1.test" = 9.0, "bl2.test" = 9.0 }\nuribl = { "uri.test" = 9.0 }\n`,
  });
  try {
    const admin = createAdmin(full.server.config, full.server.store);
    await admin.addDomain("example.org");
    await admin.addUser({ address: "alice@example.org", password: "alice pass" });
    const client = await RawSmtpClient.open(full.portOf("smtp"));
    try {
      assert.match((await client.reply())!, /^220 /);
      assert.match((await client.command("EHLO mail.sender.test"))!, /CHUNKING/);
      assert.match((await client.command("MAIL FROM:<news@sender.test>"))!, /^250 /);
      assert.match((await client.command("RCPT TO:<alice@example.org>"))!, /^250 /);
      const header = "From: news@sender.test\r\nTo: alice@example.org\r\nSubject: one long line\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <long@sender.test>\r\n\r\n";
      const body = Buffer.alloc(25 * 1024 * 1024, "x");
      // A link near the start, so the URIBL lookup runs too (and its zone does not answer).
      body.write(" http://www.somewhere.test/ ", 1000);
      const message = Buffer.concat([Buffer.from(header), body, Buffer.from("\r\n")]);
      const started = Date.now();
      client.write(`BDAT ${message.length} LAST\r\n`);
      client.write(message);
      const answer = await client.reply(120_000);
      assert.match(answer!, /^250 /, String(answer));
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 60_000, `took ${elapsed} ms`);
    } finally {
      client.close();
    }
    const verdict = log.records.find((r) => r.event === "spam.verdict")!;
    assert.ok(verdict, "a verdict was made");
    assert.doesNotMatch(String(verdict["tests"]), /DNSBL|URIBL/, "no listing from lists that did not answer");
    assert.ok(log.records.filter((r) => r.event === "spam.dns_list_unavailable").length >= 2);
    assert.match(String(verdict["iprev"]), /^(fail|temperror)$/);
    const account = (await full.server.store.accounts.findAccountByAddress("alice@example.org"))!;
    const inbox = (await full.server.store.mail.getMailbox(account.id, "INBOX"))!;
    const status = await full.server.store.mail.mailboxStatus(inbox.id);
    assert.equal(status.messages, 1);
    // Still serving.
    const again = await RawSmtpClient.open(full.portOf("smtp"));
    assert.match((await again.reply())!, /^220 /);
    again.close();
  } finally {
    await full.stop();
    await dns.close();
  }
});
