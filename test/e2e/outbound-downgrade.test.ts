// 8BITMIME downgrade in a real delivery (RFC 6152 §3): A sends an 8-bit multipart message to a
// scripted receiver that does not offer 8BITMIME. What arrives is 7-bit, declares no BODY=8BITMIME,
// decodes to the original text, and its DKIM signatures (made after the re-encoding) verify
// against the keys A publishes in the loopback DNS.
import { test } from "node:test";
import assert from "node:assert/strict";
import nodemailer from "nodemailer";
import { createSystemResolver, verifyInbound } from "../../src/mail-auth/index.js";
import { silentLogger } from "../../src/observability/log.js";
import { startOutboundPair } from "../harness/outbound-pair.js";

const TEXT = "Grüße aus Köln — ça va? ";

function decodeQuotedPrintable(text: string): string {
  return Buffer.from(text.replace(/=\r\n/g, "").replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), "latin1").toString("utf8");
}

test("an 8-bit message to a receiver without 8BITMIME arrives 7-bit (quoted-printable), lossless and DKIM-valid", async () => {
  const pair = await startOutboundPair();
  try {
    pair.front.mode = "capture";
    const attempt = pair.nextAttempt();
    const transport = nodemailer.createTransport({ host: "127.0.0.1", port: pair.a.ports.submission!, secure: false, requireTLS: true, auth: { user: "alice@a.test", pass: "alice-pass" }, tls: { rejectUnauthorized: false } });
    const raw = [
      "From: alice@a.test",
      "To: bob@b.test",
      "Subject: eight bits",
      "Date: Thu, 01 Jan 2026 00:00:00 +0000",
      "Message-ID: <eight-bits@a.test>",
      "MIME-Version: 1.0",
      'Content-Type: multipart/mixed; boundary="part"',
      "",
      "--part",
      "Content-Type: text/plain; charset=utf-8",
      "Content-Transfer-Encoding: 8bit",
      "",
      TEXT.repeat(10),
      "--part",
      'Content-Type: application/octet-stream; name="notes.bin"',
      "Content-Transfer-Encoding: 8bit",
      "",
      "naïve attachment",
      "--part--",
      "",
    ].join("\r\n");
    await transport.sendMail({ envelope: { from: "alice@a.test", to: ["bob@b.test"] }, raw: Buffer.from(raw, "utf8") });
    transport.close();
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => o.state), ["delivered"], report.outcomes[0]?.diagnostic);
    assert.equal(pair.front.captured.length, 1);
    const { mailFrom, data } = pair.front.captured[0]!;
    assert.doesNotMatch(mailFrom, /BODY=/, "nothing declared to a server without 8BITMIME");
    assert.ok(!data.some((byte) => byte >= 0x80), "every octet sent is 7-bit");
    const text = data.toString("latin1");
    assert.doesNotMatch(text, /Content-Transfer-Encoding: 8bit/i);
    const qpBody = /Content-Transfer-Encoding: quoted-printable\r\n\r\n([\s\S]*?)\r\n--part/.exec(text);
    assert.ok(qpBody, text);
    assert.equal(decodeQuotedPrintable(qpBody[1]!), TEXT.repeat(10));
    const base64Body = /Content-Transfer-Encoding: base64\r\n\r\n([\s\S]*?)\r\n--part--/.exec(text);
    assert.ok(base64Body, text);
    assert.equal(Buffer.from(base64Body[1]!, "base64").toString("utf8"), "naïve attachment");
    const verdict = await verifyInbound({ message: data, clientIp: "127.0.0.1", heloName: "mx.a.test", mailFrom: "alice@a.test", receivingHost: "old.front.test", resolver: createSystemResolver({ timeoutMs: 3000, servers: [pair.dns.address] }), log: silentLogger });
    assert.deepEqual(verdict.dkim.map((d) => d.result), ["pass", "pass"], verdict.authenticationResultsHeader);
    assert.equal(verdict.dmarc.result, "pass");
  } finally {
    await pair.stop();
  }
});
