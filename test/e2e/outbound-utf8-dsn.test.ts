// A message for a UTF-8 address to a receiver without SMTPUTF8 (issue 12): Mailroom itself refuses
// to send it (RFC 6531 §3.2), so the result is Mailroom's own words, not "<remote> said: ...", and
// the DSN names no Remote-MTA. The bounce follows RFC 6533: the utf-8 address type,
// message/global-delivery-status and message/global-headers. Submitted by python's smtplib with
// SMTPUTF8; the receiver is the old-style capture front (no SMTPUTF8, no 8BITMIME).
import { test } from "node:test";
import assert from "node:assert/strict";
import { inboxTexts, startOutboundPair } from "../harness/outbound-pair.js";
import { python } from "../harness/smtp-clients.js";

test("a UTF-8 recipient at a server without SMTPUTF8: our own refusal, bounced in the RFC 6533 form", async () => {
  const pair = await startOutboundPair();
  try {
    pair.front.mode = "capture";
    const attempt = pair.nextAttempt();
    const script = `
import smtplib, ssl, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="laptop.a.test")
s.starttls(context=ssl._create_unverified_context())
s.login("alice@a.test", "alice-pass")
msg = "From: alice@a.test\\r\\nTo: jörg@b.test\\r\\nSubject: Grüße\\r\\nDate: Thu, 01 Jan 2026 00:00:00 +0000\\r\\nMessage-ID: <utf8-dsn@a.test>\\r\\n\\r\\nHallo Jörg\\r\\n".encode("utf-8")
print("refused", s.sendmail("alice@a.test", ["jörg@b.test"], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"]))
s.quit()
`;
    const sent = await python(script, pair.a.ports.submission!);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /refused \{\}/);
    const report = await attempt;
    const [outcome] = report.outcomes;
    assert.equal(outcome?.state, "failed");
    assert.equal(outcome?.status, "5.6.7");
    assert.equal(outcome?.remoteMta, null, "the remote said nothing about this message");
    assert.match(outcome!.diagnostic, /^not sent to mx\.b\.test: non-ASCII address and the receiving server does not support SMTPUTF8/);
    assert.equal(pair.front.captured.length, 0, "nothing was sent");

    let dsns: string[] = [];
    for (let i = 0; i < 100 && dsns.length === 0; i++) {
      dsns = await inboxTexts(pair.a);
      if (dsns.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(dsns.length, 1);
    const dsn = dsns[0]!;
    assert.doesNotMatch(dsn, /said:/);
    assert.doesNotMatch(dsn, /Remote-MTA/);
    assert.match(dsn, /\r\nContent-Type: message\/global-delivery-status\r\n/);
    assert.match(dsn, /\r\nFinal-Recipient: utf-8; jörg@b\.test\r\nAction: failed\r\nStatus: 5\.6\.7\r\nDiagnostic-Code: x-local; not sent to mx\.b\.test: non-ASCII address/);
    assert.match(dsn, /\r\nContent-Type: message\/global-headers\r\n[\s\S]*Subject: Grüße/);
    assert.match(dsn, /<jörg@b\.test>: not sent to mx\.b\.test/);
  } finally {
    await pair.stop();
  }
});
