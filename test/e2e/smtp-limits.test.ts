// The SMTP engine at the edges of its listeners, over real sockets and the production listener
// framework (server/listeners.ts): connection floods get 421 4.7.0 instead of a hang (per IP and
// in total, on plain and implicit-TLS ports), a stopping server tells open sessions 421 4.3.2, and
// AUTH guessing is slowed, then refused with 454 4.7.0 by the shared throttle, and logged.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createMemoryLogger } from "../../src/observability/log.js";
import { mailboxMessages, startSmtpHarness } from "../harness/smtp-harness.js";
import { RawSmtpClient } from "../harness/smtp-clients.js";

/** Polls until the condition holds: the server notices a closed socket a moment after the client. */
async function eventually(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const plain = (user: string, password: string) => Buffer.from(`\0${user}\0${password}`).toString("base64");

test("flood: connections over connections_per_ip get 421 4.7.0 and are closed; a freed slot admits again", async () => {
  const h = await startSmtpHarness({ connections: { perIp: 3 } });
  const clients: RawSmtpClient[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const client = await RawSmtpClient.open(h.ports.mx);
      clients.push(client);
      assert.match((await client.reply())!, /^220 mx\.example\.org ESMTP /);
    }
    // Eight more at once: every one is answered (none hangs) and closed by the server.
    const extra = await Promise.all(Array.from({ length: 8 }, () => RawSmtpClient.open(h.ports.mx)));
    clients.push(...extra);
    for (const client of extra) {
      assert.match((await client.reply(5_000))!, /^421 4\.7\.0 mx\.example\.org Too many connections/);
      assert.equal(await client.reply(5_000), null, "the refused connection is closed by the server");
    }
    // The limit is per IP over all listeners: the submission port is full for us too.
    const other = await RawSmtpClient.open(h.ports.submission);
    clients.push(other);
    assert.match((await other.reply())!, /^421 4\.7\.0 /);
    // The admitted sessions still work, and a QUIT frees a slot.
    assert.match((await clients[0]!.command("EHLO a.test"))!, /^250-mx\.example\.org/);
    assert.match((await clients[0]!.command("QUIT"))!, /^221 /);
    assert.equal(await clients[0]!.reply(), null);
    await eventually(() => h.listeners.connectionCount() === 2, "the slots to be released");
    const again = await RawSmtpClient.open(h.ports.mx);
    clients.push(again);
    assert.match((await again.reply())!, /^220 /);
  } finally {
    for (const client of clients) client.close();
    await h.stop();
  }
});

test("flood: the total limit refuses with 421 4.7.0 too, after the TLS handshake on 465", async () => {
  const h = await startSmtpHarness({ connections: { total: 2 } });
  const clients: RawSmtpClient[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const client = await RawSmtpClient.open(h.ports.mx);
      clients.push(client);
      assert.match((await client.reply())!, /^220 /);
    }
    const refused = await RawSmtpClient.openTls(h.ports.submissions);
    clients.push(refused);
    assert.match((await refused.reply(5_000))!, /^421 4\.7\.0 /);
    assert.equal(await refused.reply(5_000), null);
    await eventually(() => h.listeners.connectionCount() === 2, "the refused connection to be released");
    // The refused client held no slot: once it is gone a new connection is still refused (2 open).
    const second = await RawSmtpClient.open(h.ports.mx);
    clients.push(second);
    assert.match((await second.reply(5_000))!, /^421 4\.7\.0 /);
  } finally {
    for (const client of clients) client.close();
    await h.stop();
  }
});

test("shutdown: drain tells an open session 421 4.3.2 mid-transaction and closes it; nothing is delivered", async () => {
  const h = await startSmtpHarness();
  const idle = await RawSmtpClient.open(h.ports.submission);
  const busy = await RawSmtpClient.open(h.ports.mx);
  try {
    await idle.reply();
    await busy.reply();
    await busy.command("EHLO busy.test");
    assert.match((await busy.command("MAIL FROM:<x@ext.example>"))!, /^250 /);
    assert.match((await busy.command("RCPT TO:<alice@example.org>"))!, /^250 /);
    assert.match((await busy.command("DATA"))!, /^354 /);
    busy.write("Subject: half\r\n\r\nthe first half of a body");
    const started = Date.now();
    await h.listeners.drain(10_000);
    // drain returned because the sessions closed, not because the 10 s grace ran out.
    assert.ok(Date.now() - started < 5_000, `drain took ${Date.now() - started} ms`);
    assert.match((await busy.reply())!, /^421 4\.3\.2 Service shutting down/);
    assert.equal(await busy.reply(), null);
    assert.match((await idle.reply())!, /^421 4\.3\.2 /);
    assert.equal(await idle.reply(), null);
    assert.equal((await mailboxMessages(h, h.accounts.alice)).length, 0);
  } finally {
    idle.close();
    busy.close();
    await h.stop();
  }
});

test("AUTH brute force: failures are delayed, then refused with 454 4.7.0 even for the right password, and logged", async () => {
  const log = createMemoryLogger();
  const h = await startSmtpHarness({
    log,
    realAuthDelays: true,
    limits: { maxSmtpErrors: 50 },
    throttle: { baseDelayMs: 60, maxDelayMs: 240, lockoutThresholdIp: 3, lockoutThresholdAccount: 100, windowMs: 60_000 },
  });
  const client = await RawSmtpClient.openTls(h.ports.submissions);
  try {
    await client.reply();
    await client.command("EHLO guesser.test");
    const delays: number[] = [];
    for (const guess of ["123456", "password", "alice2024"]) {
      const started = Date.now();
      assert.match((await client.command(`AUTH PLAIN ${plain("alice@example.org", guess)}`))!, /^535 5\.7\.8 /);
      delays.push(Date.now() - started);
    }
    // 60, 120, 240 ms: each failure waits longer (the argon2 check itself takes a few ms).
    assert.ok(delays[0]! >= 55 && delays[1]! >= 115 && delays[2]! >= 235, `delays ${delays.join(", ")}`);
    // Locked out: refused before the password is looked at, so even the right one fails.
    assert.match((await client.command(`AUTH PLAIN ${plain("alice@example.org", "alice-pass")}`))!, /^454 4\.7\.0 /);
    // Another account from the same address is refused too (the address record, RFC 4954 §6 454).
    assert.match((await client.command(`AUTH PLAIN ${plain("bob@example.org", "bob-pass")}`))!, /^454 4\.7\.0 /);
    assert.match((await client.command("MAIL FROM:<alice@example.org>"))!, /^530 5\.7\.0 /, "no session was authenticated");

    const failures = log.records.filter((r) => r.event === "auth.failure");
    assert.deepEqual(failures.map((r) => r.reason), ["wrong-password", "wrong-password", "wrong-password", "throttled", "throttled"]);
    assert.deepEqual(failures.map((r) => r.delayMs).slice(0, 3), [60, 120, 240]);
    // alice's own address+account pair is locked first; bob's attempt meets the address record.
    assert.deepEqual([failures[3]!.scope, failures[4]!.scope], ["pair", "ip"]);
    assert.equal(failures[3]!.protocol, "smtp");
    assert.ok(!log.records.some((r) => r.event === "auth.success"));
    assert.ok(!JSON.stringify(log.records).includes("alice-pass"), "passwords are never logged");
  } finally {
    client.close();
    await h.stop();
  }
});
