// Port 25 role over real sockets with real clients (swaks, python3 smtplib, a raw socket) and a
// real SQLite store: delivery with trace fields, one blob for many recipients, refusals at RCPT,
// size limits, CHUNKING, and DMARC through a fake verifier.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mailboxMessages, startSmtpHarness } from "../harness/smtp-harness.js";
import { python, RawSmtpClient, swaks } from "../harness/smtp-clients.js";

test("swaks delivers to a local account; the stored message starts with Return-Path and Received", async () => {
  const h = await startSmtpHarness();
  try {
    const result = await swaks(h.ports.mx, ["--from", "sender@ext.example", "--to", "alice@example.org", "--header", "Subject: hello from swaks", "--body", "Hi Alice"]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /<- {2}250 2\.0\.0 Ok: queued as /);
    const [message] = await mailboxMessages(h, h.accounts.alice);
    assert.ok(message);
    const unfolded = message.text.replace(/\r\n\t/g, " ");
    assert.match(unfolded, /^Return-Path: <sender@ext\.example>\r\nReceived: from client\.test \(\[127\.0\.0\.1\]\) by mx\.example\.org with ESMTP id \S+ for <alice@example\.org>; \w{3}, \d+ \w{3} \d{4} [\d:]{8} \+0000\r\nDate: /);
    assert.match(message.text, /Subject: hello from swaks/);
    assert.match(message.text, /Hi Alice/);
  } finally {
    await h.stop();
  }
});

test("python smtplib: one message for three local recipients is one blob in three INBOXes", async () => {
  const h = await startSmtpHarness();
  try {
    const script = `
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="py.test")
msg = "From: x@ext.example\\r\\nSubject: three\\r\\n\\r\\nfor all of you\\r\\n"
refused = s.sendmail("x@ext.example", ["alice@example.org", "bob@example.org", "carol@example.org", "ALICE@example.org"], msg)
print("refused", refused)
s.quit()
`;
    const result = await python(script, h.ports.mx);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /refused \{\}/);
    const copies = [...(await mailboxMessages(h, h.accounts.alice)), ...(await mailboxMessages(h, h.accounts.bob)), ...(await mailboxMessages(h, h.accounts.carol))];
    assert.equal(copies.length, 3, "alice twice in the envelope still gets one copy");
    assert.equal(new Set(copies.map((c) => c.blobId)).size, 1);
    assert.match(copies[1]!.text, /for <bob@example\.org>/);
    assert.match(copies[2]!.text, /for <carol@example\.org>/);
  } finally {
    await h.stop();
  }
});

test("RCPT refusals: unknown user 550 5.1.1, other domains 550 5.7.1, relay tricks never relay", async () => {
  const h = await startSmtpHarness({ limits: { maxSmtpErrors: 50 } });
  try {
    const client = await RawSmtpClient.open(h.ports.mx);
    await client.reply();
    await client.command("EHLO raw.test");
    assert.match((await client.command("MAIL FROM:<x@ext.example>"))!, /^250 /);
    assert.match((await client.command("RCPT TO:<nobody@example.org>"))!, /^550 5\.1\.1 /);
    assert.match((await client.command("RCPT TO:<victim@elsewhere.example>"))!, /^550 5\.7\.1 /);
    assert.match((await client.command("RCPT TO:<victim%elsewhere.example@example.org>"))!, /^550 5\.7\.1 /);
    assert.match((await client.command('RCPT TO:<"victim@elsewhere.example"@example.org>'))!, /^550 5\.7\.1 /);
    assert.match((await client.command("RCPT TO:<elsewhere.example!victim@example.org>"))!, /^550 5\.7\.1 /);
    // A source route is ignored (RFC 5321 §3.6.1): the mailbox decides, never the route.
    assert.match((await client.command("RCPT TO:<@example.org:victim@elsewhere.example>"))!, /^550 5\.7\.1 /);
    assert.match((await client.command("RCPT TO:<@elsewhere.example:bob@example.org>"))!, /^250 2\.1\.5 /);
    assert.match((await client.command("DATA"))!, /^354 /);
    client.write("Subject: routed\r\n\r\nbody\r\n.\r\n");
    assert.match((await client.reply())!, /^250 /);
    await client.command("QUIT");
    client.close();
    assert.equal((await mailboxMessages(h, h.accounts.bob)).length, 1);
    assert.equal((await h.temp.store.listQueue()).length, 0, "nothing was queued for relaying");
  } finally {
    await h.stop();
  }
});

test("quota: a message that would pass the quota gets 552 5.2.2; a full account 452 4.2.2 at RCPT", async () => {
  const h = await startSmtpHarness();
  try {
    const { store } = h.temp;
    await store.setQuota("carol@example.org", 100);
    const client = await RawSmtpClient.open(h.ports.mx);
    await client.reply();
    await client.command("EHLO raw.test");
    await client.command("MAIL FROM:<x@ext.example>");
    assert.match((await client.command("RCPT TO:<carol@example.org>"))!, /^250 /);
    await client.command("DATA");
    client.write(`Subject: big\r\n\r\n${"x".repeat(200)}\r\n.\r\n`);
    assert.match((await client.reply())!, /^552 5\.2\.2 /);
    assert.equal((await mailboxMessages(h, h.accounts.carol)).length, 0);
    // Fill the account past a lowered quota: the next RCPT is refused before any data.
    await store.setQuota("carol@example.org", null);
    await client.command("MAIL FROM:<x@ext.example>");
    await client.command("RCPT TO:<carol@example.org>");
    await client.command("DATA");
    client.write("Subject: small\r\n\r\nfits\r\n.\r\n");
    assert.match((await client.reply())!, /^250 /);
    await store.setQuota("carol@example.org", 10);
    await client.command("MAIL FROM:<x@ext.example>");
    assert.match((await client.command("RCPT TO:<carol@example.org>"))!, /^452 4\.2\.2 /);
    await client.command("QUIT");
    client.close();
  } finally {
    await h.stop();
  }
});

test("size limit: SIZE= over the limit refused at MAIL (smtplib), an undeclared big body refused by counting", async () => {
  const h = await startSmtpHarness();
  try {
    const script = `
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.ehlo("py.test")
print("size", s.esmtp_features.get("size"))
try:
    s.sendmail("x@ext.example", ["alice@example.org"], "Subject: big\\r\\n\\r\\n" + "y" * 70000 + "\\r\\n")
except smtplib.SMTPSenderRefused as e:
    print("refused", e.smtp_code, e.smtp_error.decode())
s.quit()
`;
    const result = await python(script, h.ports.mx);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /size 65536/);
    assert.match(result.stdout, /refused 552 5\.3\.4 /);

    const client = await RawSmtpClient.open(h.ports.mx);
    await client.reply();
    await client.command("EHLO raw.test");
    await client.command("MAIL FROM:<x@ext.example>");
    await client.command("RCPT TO:<alice@example.org>");
    await client.command("DATA");
    for (let i = 0; i < 100; i++) client.write(`${"z".repeat(900)}\r\n`);
    client.write(".\r\n");
    assert.match((await client.reply())!, /^552 5\.3\.4 /);
    assert.match((await client.command("NOOP"))!, /^250 /);
    client.close();
    assert.equal((await mailboxMessages(h, h.accounts.alice)).length, 0);
  } finally {
    await h.stop();
  }
});

test("CHUNKING: BDAT chunks from a raw client, pipelined, with BINARYMIME", async () => {
  const h = await startSmtpHarness();
  try {
    const client = await RawSmtpClient.open(h.ports.mx);
    await client.reply();
    assert.match((await client.command("EHLO raw.test"))!, /250-CHUNKING\r\n/);
    const part1 = "Subject: chunks\r\n\r\nfirst ";
    const part2 = "second\r\n.not stuffed\r\n";
    client.write(`MAIL FROM:<x@ext.example> BODY=BINARYMIME\r\nRCPT TO:<bob@example.org>\r\nBDAT ${part1.length}\r\n${part1}BDAT ${part2.length} LAST\r\n${part2}`);
    assert.match((await client.reply())!, /^250 2\.1\.0 /);
    assert.match((await client.reply())!, /^250 2\.1\.5 /);
    assert.match((await client.reply())!, new RegExp(`^250 2\\.0\\.0 ${part1.length} octets`));
    assert.match((await client.reply())!, /^250 2\.0\.0 Ok: queued/);
    client.close();
    const [message] = await mailboxMessages(h, h.accounts.bob);
    assert.ok(message?.text.endsWith(`${part1}${part2}`));
  } finally {
    await h.stop();
  }
});

test("DMARC through the verifier: quarantine files into Junk with Authentication-Results, reject answers 550 5.7.26", async () => {
  let action: "quarantine" | "reject" = "quarantine";
  const h = await startSmtpHarness({
    verifier: {
      async verify(input) {
        return { authenticationResults: `mx.example.org; spf=fail smtp.mailfrom=${input.mailFrom}; dmarc=fail header.from=ext.example`, action, policyDomain: "ext.example", reason: `DMARC policy ${action} of ext.example` };
      },
    },
  });
  try {
    const send = () => swaks(h.ports.mx, ["--from", "spoof@ext.example", "--to", "alice@example.org", "--body", "spoofed"]);
    const quarantined = await send();
    assert.equal(quarantined.code, 0, quarantined.stdout);
    assert.equal((await mailboxMessages(h, h.accounts.alice)).length, 0);
    const [junk] = await mailboxMessages(h, h.accounts.alice, "Junk");
    assert.match(junk!.text, /^Return-Path: <spoof@ext\.example>\r\nAuthentication-Results: mx\.example\.org; spf=fail/);
    action = "reject";
    const rejected = await send();
    assert.notEqual(rejected.code, 0);
    assert.match(rejected.stdout, /<\*\* 550 5\.7\.26 Message rejected: DMARC policy reject of ext\.example/);
    assert.equal((await mailboxMessages(h, h.accounts.alice, "Junk")).length, 1);
  } finally {
    await h.stop();
  }
});
