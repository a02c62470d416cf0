// Submission roles over real sockets: nodemailer on 587 (STARTTLS + AUTH) to a local and a remote
// recipient, python3 smtplib on 465 (implicit TLS), and the refusals a submission server owes:
// AUTH before TLS, unauthenticated MAIL, senders and From: authors the account does not own.
import { test } from "node:test";
import assert from "node:assert/strict";
import nodemailer from "nodemailer";
import { mailboxMessages, startSmtpHarness } from "../harness/smtp-harness.js";
import { python, RawSmtpClient } from "../harness/smtp-clients.js";

test("nodemailer over STARTTLS + AUTH: the local copy is in the INBOX, the remote one in the queue", async () => {
  const h = await startSmtpHarness();
  try {
    await h.temp.store.addAlias("sales@example.org", ["alice@example.org"]);
    const transport = nodemailer.createTransport({
      host: "127.0.0.1",
      port: h.ports.submission,
      secure: false,
      requireTLS: true,
      auth: { user: "alice@example.org", pass: "alice-pass" },
      tls: { rejectUnauthorized: false },
      name: "laptop.example",
    });
    const info = await transport.sendMail({
      from: "Sales <sales@example.org>",
      to: ["bob@example.org", "friend@remote.example"],
      subject: "quarterly numbers",
      text: "Numbers attached.",
    });
    transport.close();
    assert.deepEqual(info.accepted.sort(), ["bob@example.org", "friend@remote.example"]);
    assert.match(info.response, /^250 2\.0\.0 Ok: queued as /);

    const [local] = await mailboxMessages(h, h.accounts.bob);
    assert.ok(local);
    const unfolded = local.text.replace(/\r\n\t/g, " ");
    assert.match(unfolded, /^Return-Path: <sales@example\.org>\r\nReceived: from laptop\.example \(\[127\.0\.0\.1\]\) by mx\.example\.org \(using TLSv1\.[23] with cipher \S+\) with ESMTPSA id \S+ for <bob@example\.org>; /);
    assert.match(local.text, /Subject: quarterly numbers/);

    const queue = await h.temp.store.listQueue();
    assert.equal(queue.length, 1);
    const entry = queue[0]!;
    assert.equal(entry.mailFrom, "sales@example.org");
    assert.equal(entry.submittedBy, "alice@example.org");
    assert.deepEqual(entry.recipients.map((r) => r.address), ["friend@remote.example"]);
    assert.equal(entry.blobId, local.blobId, "the queued and the delivered copy share one blob");
  } finally {
    await h.stop();
  }
});

test("python smtplib over implicit TLS (465) authenticates and delivers locally", async () => {
  const h = await startSmtpHarness();
  try {
    const script = `
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL("127.0.0.1", int(sys.argv[1]), context=ctx, local_hostname="py.test")
s.ehlo()
print("auth", s.esmtp_features.get("auth"))
s.login("carol@example.org", "carol-pass")
s.sendmail("carol@example.org", ["alice@example.org"], "From: carol@example.org\\r\\nSubject: via 465\\r\\n\\r\\nhi\\r\\n")
try:
    s.sendmail("alice@example.org", ["bob@example.org"], "From: alice@example.org\\r\\n\\r\\nforged\\r\\n")
except smtplib.SMTPSenderRefused as e:
    print("refused", e.smtp_code, e.smtp_error.decode())
s.quit()
`;
    const result = await python(script, h.ports.submissions);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /auth\s+PLAIN LOGIN/);
    assert.match(result.stdout, /refused 553 5\.7\.1 /);
    const [message] = await mailboxMessages(h, h.accounts.alice);
    assert.match(message!.text.replace(/\r\n\t/g, " "), /with ESMTPSA id/);
    assert.equal((await mailboxMessages(h, h.accounts.bob)).length, 0);
  } finally {
    await h.stop();
  }
});

test("submission refusals: AUTH before TLS 538, MAIL before AUTH 530, foreign From: 553, null sender 553", async () => {
  const h = await startSmtpHarness();
  try {
    const client = await RawSmtpClient.open(h.ports.submission);
    await client.reply();
    const ehlo = (await client.command("EHLO raw.test"))!;
    assert.doesNotMatch(ehlo, /AUTH/);
    assert.match((await client.command(`AUTH PLAIN ${Buffer.from("\0alice@example.org\0alice-pass").toString("base64")}`))!, /^538 5\.7\.11 /);
    assert.match((await client.command("MAIL FROM:<alice@example.org>"))!, /^530 5\.7\.0 /);
    assert.match((await client.command("STARTTLS"))!, /^220 /);
    await client.startTls();
    assert.match((await client.command("EHLO raw.test"))!, /250 AUTH PLAIN LOGIN\r\n/);
    assert.match((await client.command("MAIL FROM:<alice@example.org>"))!, /^530 5\.7\.0 /);
    assert.match((await client.command(`AUTH PLAIN ${Buffer.from("\0alice@example.org\0alice-pass").toString("base64")}`))!, /^235 2\.7\.0 /);
    assert.match((await client.command("MAIL FROM:<>"))!, /^553 5\.7\.1 /);
    assert.match((await client.command("MAIL FROM:<bob@example.org>"))!, /^553 5\.7\.1 /);
    assert.match((await client.command("MAIL FROM:<alice+lists@example.org>"))!, /^250 /);
    assert.match((await client.command("RCPT TO:<nobody@example.org>"))!, /^550 5\.1\.1 /);
    assert.match((await client.command("RCPT TO:<bob@example.org>"))!, /^250 /);
    await client.command("DATA");
    client.write("From: Bob <bob@example.org>\r\nSubject: forged\r\n\r\nhi\r\n.\r\n");
    assert.match((await client.reply())!, /^553 5\.7\.1 From: address not owned/);
    await client.command("QUIT");
    client.close();
    assert.equal((await mailboxMessages(h, h.accounts.bob)).length, 0);
  } finally {
    await h.stop();
  }
});

test("NOTIFY=SUCCESS for a local recipient brings a 'delivered' DSN into the sender's INBOX (RFC 3461, RFC 3464)", async () => {
  const h = await startSmtpHarness();
  try {
    const client = await RawSmtpClient.open(h.ports.submission);
    await client.reply();
    await client.command("EHLO raw.test");
    await client.command("STARTTLS");
    await client.startTls();
    assert.match((await client.command("EHLO raw.test"))!, /250-DSN\r\n/);
    assert.match((await client.command(`AUTH PLAIN ${Buffer.from("\0alice@example.org\0alice-pass").toString("base64")}`))!, /^235 /);
    assert.match((await client.command("MAIL FROM:<alice@example.org> ENVID=env-42 RET=HDRS"))!, /^250 /);
    assert.match((await client.command("RCPT TO:<bob@example.org> NOTIFY=SUCCESS ORCPT=rfc822;bob@example.org"))!, /^250 /);
    assert.match((await client.command("RCPT TO:<carol@example.org>"))!, /^250 /);
    await client.command("DATA");
    client.write("From: alice@example.org\r\nTo: bob@example.org\r\nSubject: report me\r\n\r\nhello\r\n.\r\n");
    assert.match((await client.reply())!, /^250 /);
    await client.command("QUIT");
    client.close();

    assert.equal((await mailboxMessages(h, h.accounts.bob)).length, 1);
    assert.equal((await mailboxMessages(h, h.accounts.carol)).length, 1);
    const reports = await mailboxMessages(h, h.accounts.alice);
    assert.equal(reports.length, 1, "exactly one report: carol did not ask for one");
    const dsn = reports[0]!.text;
    assert.match(dsn, /^Return-Path: <>\r\n/);
    assert.match(dsn, /Content-Type: multipart\/report; report-type=delivery-status/);
    assert.match(dsn, /Original-Envelope-Id: env-42\r\n/);
    assert.match(dsn, /Original-Recipient: rfc822; bob@example.org\r\n/);
    assert.match(dsn, /Final-Recipient: rfc822; bob@example.org\r\nAction: delivered\r\nStatus: 2\.0\.0\r\n/);
    assert.doesNotMatch(dsn, /Final-Recipient: rfc822; carol@example.org/);
    assert.match(dsn, /Content-Type: text\/rfc822-headers\r\n\r\n[\s\S]*Subject: report me\r\n/);
    assert.doesNotMatch(dsn, /\r\nhello\r\n/, "RET=HDRS returns the header only");
  } finally {
    await h.stop();
  }
});
