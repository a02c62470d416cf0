// Hostile clients over real sockets against the port 25 role: the same defences the session unit
// tests cover with fake timers, here through the real Connection, TLS and store.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { mailboxMessages, startSmtpHarness } from "../harness/smtp-harness.js";
import { RawSmtpClient } from "../harness/smtp-clients.js";

test("STARTTLS injection: plaintext pipelined after STARTTLS is not executed inside TLS", async () => {
  const h = await startSmtpHarness();
  try {
    const client = await RawSmtpClient.open(h.ports.mx);
    await client.reply();
    await client.command("EHLO raw.test");
    client.write("STARTTLS\r\nMAIL FROM:<evil@ext.example>\r\nRCPT TO:<alice@example.org>\r\n");
    assert.match((await client.reply())!, /^220 /);
    await client.startTls();
    // Had the injected commands run, RCPT would now succeed inside the TLS session.
    assert.match((await client.command("RCPT TO:<alice@example.org>"))!, /^503 5\.5\.1 /);
    assert.match((await client.command("EHLO raw.test"))!, /^250-/);
    assert.match((await client.command("RCPT TO:<alice@example.org>"))!, /^503 5\.5\.1 Need MAIL/);
    client.close();
  } finally {
    await h.stop();
  }
});

test("SMTP smuggling: <LF>.<LF> does not end DATA, and the message with it is refused", async () => {
  const h = await startSmtpHarness();
  try {
    const client = await RawSmtpClient.open(h.ports.mx);
    await client.reply();
    await client.command("EHLO raw.test");
    await client.command("MAIL FROM:<a@ext.example>");
    await client.command("RCPT TO:<alice@example.org>");
    assert.match((await client.command("DATA"))!, /^354 /);
    client.write("Subject: outer\r\n\r\nhello\n.\nMAIL FROM:<admin@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n");
    assert.match((await client.reply())!, /^554 5\.5\.2 /);
    assert.match((await client.command("NOOP"))!, /^250 /, "exactly one reply came for the whole body");
    client.close();
    assert.equal((await mailboxMessages(h, h.accounts.alice)).length, 0);
    assert.equal((await mailboxMessages(h, h.accounts.bob)).length, 0);
  } finally {
    await h.stop();
  }
});

test("an over-long command line (1 MiB, no CRLF) gets one 500 5.5.2; the session survives", async () => {
  const h = await startSmtpHarness();
  try {
    const client = await RawSmtpClient.open(h.ports.mx);
    await client.reply();
    await client.command("EHLO raw.test");
    const block = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 16; i++) client.write(block);
    client.write("\r\n");
    assert.match((await client.reply())!, /^500 5\.5\.2 /);
    assert.match((await client.command("NOOP"))!, /^250 /);
    client.close();
  } finally {
    await h.stop();
  }
});

test("too many errors: 421 4.7.0 and the server closes the connection", async () => {
  const h = await startSmtpHarness({ limits: { maxSmtpErrors: 3 } });
  try {
    const client = await RawSmtpClient.open(h.ports.mx);
    await client.reply();
    client.write("XYZZY\r\nXYZZY\r\nXYZZY\r\n");
    assert.match((await client.reply())!, /^500 /);
    assert.match((await client.reply())!, /^500 /);
    assert.match((await client.reply())!, /^500 /);
    assert.match((await client.reply())!, /^421 4\.7\.0 /);
    assert.equal(await client.reply(), null);
  } finally {
    await h.stop();
  }
});

test("deadlines on a real socket: trickled command cut off, idle client timed out (421 4.4.2)", async () => {
  const h = await startSmtpHarness({ limits: { smtpCommandDeadline: 800, smtpIdle: 1000 } });
  try {
    const trickler = await RawSmtpClient.open(h.ports.mx);
    await trickler.reply();
    const started = Date.now();
    for (const byte of "EHLO slow.example") {
      if (trickler.closed) break;
      trickler.write(byte);
      await sleep(150);
    }
    assert.match((await trickler.reply())!, /^421 4\.4\.2 /);
    assert.ok(Date.now() - started < 2500);

    const idle = await RawSmtpClient.open(h.ports.mx);
    await idle.reply();
    assert.match((await idle.reply(5000))!, /^421 4\.4\.2 /);
    assert.equal(await idle.reply(), null);
  } finally {
    await h.stop();
  }
});
