import { test } from "node:test";
import assert from "node:assert/strict";
import { createMemoryLogger } from "../observability/log.js";
import { openPop3Fixture, type Pop3Fixture } from "./session-fixture.js";

const MESSAGE = "From: bob@example.org\r\nSubject: one\r\n\r\nhello\r\n";

async function withFixture(run: (f: Pop3Fixture) => Promise<void>): Promise<void> {
  const fixture = await openPop3Fixture();
  try {
    await run(fixture);
  } finally {
    await fixture.cleanup();
  }
}

async function loggedIn(f: Pop3Fixture, overrides = {}) {
  const client = await f.open({ allowPlaintextAuth: true, ...overrides });
  assert.equal(await client.send("USER alice@example.org\r\n"), "+OK send PASS\r\n");
  assert.match(await client.send("PASS alice-pass\r\n"), /^\+OK maildrop has \d+ messages?\r\n$/);
  return client;
}

test("before TLS: USER refused with [AUTH], no USER or SASL in CAPA, STLS offered; commands of TRANSACTION refused", async () => {
  await withFixture(async (f) => {
    const client = await f.open();
    assert.equal(await client.send("CAPA\r\n"), "+OK capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nSTLS\r\nIMPLEMENTATION Mailroom\r\n.\r\n");
    assert.match(await client.send("USER alice@example.org\r\n"), /^-ERR \[AUTH\] plaintext authentication is disabled/);
    assert.match(await client.send("AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAGFsaWNlLXBhc3M=\r\n"), /^-ERR \[AUTH\] /);
    assert.match(await client.send("STAT\r\n"), /^-ERR STAT is not valid in the AUTHORIZATION state\r\n$/);
    assert.match(await client.send("APOP alice@example.org 0123456789abcdef0123456789abcdef\r\n"), /^-ERR APOP is not supported/);
    assert.equal(await client.send("AUTH\r\n"), "+OK SASL mechanisms follow\r\n.\r\n");
  });
});

test("STLS: +OK handed to the transport, pipelined plaintext discarded, then USER and SASL are offered", async () => {
  await withFixture(async (f) => {
    const client = await f.open();
    const answer = await client.send("STLS\r\nUSER alice@example.org\r\nPASS alice-pass\r\n");
    assert.equal(answer, "+OK begin TLS negotiation\r\n", "the injected commands were never answered");
    assert.equal(client.transport.tlsStarted, 1);
    assert.equal(client.session.state, "authorization");
    const capa = await client.send("CAPA\r\n");
    assert.match(capa, /\r\nUSER\r\nSASL PLAIN LOGIN\r\n/);
    assert.doesNotMatch(capa, /STLS/);
    assert.match(await client.send("STLS\r\n"), /^-ERR already using TLS/);
    assert.equal(await client.send("USER alice@example.org\r\n"), "+OK send PASS\r\n");
    assert.match(await client.send("PASS alice-pass\r\n"), /^\+OK maildrop has 0 messages/);
  });
});

test("a failed TLS handshake ends the session", async () => {
  await withFixture(async (f) => {
    const client = await f.open();
    client.transport.failTls = true;
    await client.send("STLS\r\n");
    assert.equal(client.session.closed, true);
  });
});

test("AUTH PLAIN with and without initial response, LOGIN, cancel, bad password", async () => {
  await withFixture(async (f) => {
    const plain = Buffer.from("\0alice@example.org\0alice-pass").toString("base64");
    const a = await f.open({ implicitTls: true });
    assert.match(await a.send(`AUTH PLAIN ${plain}\r\n`), /^\+OK maildrop has 0 messages/);
    await a.send("QUIT\r\n");

    const b = await f.open({ implicitTls: true });
    assert.equal(await b.send("AUTH PLAIN\r\n"), "+ \r\n");
    assert.match(await b.send(`${plain}\r\n`), /^\+OK /);
    await b.send("QUIT\r\n");

    const c = await f.open({ implicitTls: true });
    assert.equal(await c.send("auth login\r\n"), "+ VXNlcm5hbWU6\r\n");
    assert.equal(await c.send(`${Buffer.from("alice@example.org").toString("base64")}\r\n`), "+ UGFzc3dvcmQ6\r\n");
    assert.match(await c.send(`${Buffer.from("wrong").toString("base64")}\r\n`), /^-ERR \[AUTH\] authentication failed\r\n$/);
    assert.equal(await c.send("AUTH LOGIN\r\n"), "+ VXNlcm5hbWU6\r\n");
    assert.equal(await c.send("*\r\n"), "-ERR authentication cancelled\r\n");
    assert.match(await c.send("AUTH CRAM-MD5\r\n"), /^-ERR unsupported/);
    assert.match(await c.send("PASS x\r\n"), /^-ERR USER first/);
  });
});

test("STAT, LIST, UIDL, RETR, TOP, DELE, RSET on a snapshot; QUIT commits DELE with one removal", async () => {
  await withFixture(async (f) => {
    await f.deliver(MESSAGE);
    await f.deliver("Subject: two\n\nline one\n.dot line\nlast");
    const client = await loggedIn(f);
    const mailbox = (await f.store.getMailbox(f.alice.id, "INBOX"))!;
    // Message 2 has bare LFs: 37 stored octets, 43 as sent (each LF becomes CRLF, and a CRLF closes "last").
    assert.equal(await client.send("STAT\r\n"), `+OK 2 ${MESSAGE.length + 43}\r\n`);
    assert.equal(await client.send("LIST\r\n"), `+OK 2 messages\r\n1 ${MESSAGE.length}\r\n2 43\r\n.\r\n`);
    assert.equal(await client.send("LIST 2\r\n"), "+OK 2 43\r\n");
    assert.equal(await client.send("UIDL\r\n"), `+OK unique-id listing follows\r\n1 ${mailbox.uidValidity}.1\r\n2 ${mailbox.uidValidity}.2\r\n.\r\n`);
    assert.equal(await client.send("RETR 2\r\n"), "+OK 43 octets\r\nSubject: two\r\n\r\nline one\r\n..dot line\r\nlast\r\n.\r\n");
    assert.equal(await client.send("TOP 1 0\r\n"), "+OK top of message follows\r\nFrom: bob@example.org\r\nSubject: one\r\n\r\n.\r\n");
    assert.equal(await client.send("DELE 1\r\n"), "+OK message 1 deleted\r\n");
    assert.match(await client.send("RETR 1\r\n"), /^-ERR message 1 already deleted/);
    assert.match(await client.send("DELE 1\r\n"), /^-ERR message 1 already deleted/);
    assert.equal(await client.send("STAT\r\n"), "+OK 1 43\r\n");
    assert.match(await client.send("RSET\r\n"), /^\+OK/);
    assert.equal(await client.send("STAT\r\n"), `+OK 2 ${MESSAGE.length + 43}\r\n`);
    for (const bad of ["RETR 0", "RETR 3", "LIST 99", "TOP 1", "RETR 99999999999999999999", "UIDL 5"]) {
      assert.match(await client.send(`${bad}\r\n`), /^-ERR /, bad);
    }
    assert.match(await client.send("USER bob\r\n"), /^-ERR USER is not valid in the TRANSACTION state/);
    // \Seen is written in the background while the next commands run.
    await client.session.settled();
    const retrieved = await f.store.listMessages(mailbox.id);
    assert.deepEqual(retrieved.map((m) => m.flags), [[], ["\\Seen"]]);
    await client.send("DELE 2\r\n");
    // Mail arriving during the session is not in the snapshot and is never touched.
    await f.deliver("Subject: three\r\n\r\nlate\r\n");
    assert.match(await client.send("QUIT\r\n"), /^\+OK pop\.example\.org signing off \(1 message deleted\)\r\n$/);
    assert.equal(client.transport.closed, true);
    const left = await f.store.listMessages(mailbox.id);
    assert.deepEqual(left.map((m) => m.uid), [1, 3]);
    // markSeen (the default policy) set \Seen on the message RETR sent, and on no other.
    assert.deepEqual(left.map((m) => m.flags), [[], []]);
    assert.equal(f.shared.locks.isHeld(f.alice.id), false);
  });
});

test("a dropped connection commits nothing and releases the maildrop", async () => {
  await withFixture(async (f) => {
    await f.deliver(MESSAGE);
    const client = await loggedIn(f);
    await client.send("DELE 1\r\n");
    assert.equal(f.shared.locks.isHeld(f.alice.id), true);
    client.session.end();
    assert.equal(f.shared.locks.isHeld(f.alice.id), false);
    const mailbox = (await f.store.getMailbox(f.alice.id, "INBOX"))!;
    assert.equal((await f.store.listMessages(mailbox.id)).length, 1);
  });
});

test("one session per maildrop: the second login gets [IN-USE] and stays in AUTHORIZATION", async () => {
  await withFixture(async (f) => {
    await loggedIn(f);
    const second = await f.open({ allowPlaintextAuth: true });
    await second.send("USER alice@example.org\r\n");
    assert.equal(await second.send("PASS alice-pass\r\n"), "-ERR [IN-USE] maildrop is in use by another session\r\n");
    assert.equal(second.session.state, "authorization");
  });
});

test("LOGIN-DELAY and EXPIRE follow the account's policy: advertised after login, enforced", async () => {
  await withFixture(async (f) => {
    await f.temp.store.setPop3Policy("alice@example.org", { loginDelaySeconds: 60, expireDays: 3, markSeen: false });
    const old = new Date(f.clock.now.getTime() - 4 * 86_400_000);
    const inbox = (await f.store.getMailbox(f.alice.id, "INBOX"))!;
    await f.store.deliver({ source: Buffer.from("Subject: old seen\r\n\r\nx\r\n"), targets: [{ mailboxId: inbox.id, flags: ["\\Seen"] }], internalDate: old });
    await f.store.deliver({ source: Buffer.from("Subject: old unseen\r\n\r\nx\r\n"), targets: [{ mailboxId: inbox.id }], internalDate: old });
    await f.deliver("Subject: new\r\n\r\nx\r\n");
    const client = await loggedIn(f);
    const capa = await client.send("CAPA\r\n");
    assert.match(capa, /\r\nEXPIRE 3\r\nLOGIN-DELAY 60\r\n/);
    assert.doesNotMatch(capa, /USER|STLS|SASL/);
    assert.match(await client.send("RETR 3\r\n"), /^\+OK/);
    assert.match(await client.send("QUIT\r\n"), /\(1 message deleted\)/);
    // Only the message already seen and older than 3 days expired; the unread old one stays.
    assert.deepEqual((await f.store.listMessages(inbox.id)).map((m) => m.uid), [2, 3]);
    assert.deepEqual((await f.store.listMessages(inbox.id)).find((m) => m.uid === 3)?.flags, [], "markSeen off");

    const again = await f.open({ allowPlaintextAuth: true });
    await again.send("USER alice@example.org\r\n");
    assert.equal(await again.send("PASS alice-pass\r\n"), "-ERR [LOGIN-DELAY] login again in 60 seconds\r\n");
    f.clock.now = new Date(f.clock.now.getTime() + 61_000);
    await again.send("USER alice@example.org\r\n");
    assert.match(await again.send("PASS alice-pass\r\n"), /^\+OK/);
  });
});

test("delete-after-retrieve removes what RETR sent in full (not what TOP showed) at QUIT", async () => {
  await withFixture(async (f) => {
    await f.temp.store.setPop3Policy("alice@example.org", { mode: "delete-after-retrieve" });
    await f.deliver(MESSAGE);
    await f.deliver(MESSAGE.replace("one", "two"));
    const client = await loggedIn(f);
    assert.match(await client.send("CAPA\r\n"), /\r\nEXPIRE 0\r\n/);
    await client.send("RETR 1\r\nTOP 2 1\r\n");
    assert.match(await client.send("QUIT\r\n"), /\(1 message deleted\)/);
    const inbox = (await f.store.getMailbox(f.alice.id, "INBOX"))!;
    assert.deepEqual((await f.store.listMessages(inbox.id)).map((m) => m.uid), [2]);
  });
});

test("a message expunged by another party: RETR -ERR, the session goes on and QUIT commits the rest", async () => {
  await withFixture(async (f) => {
    await f.deliver(MESSAGE);
    await f.deliver(MESSAGE);
    await f.deliver(MESSAGE);
    const client = await loggedIn(f);
    const inbox = (await f.store.getMailbox(f.alice.id, "INBOX"))!;
    await f.store.removeMessages(inbox.id, [2 as never]);
    assert.equal(await client.send("RETR 2\r\n"), "-ERR message 2 was removed by another session\r\n");
    assert.match(await client.send("TOP 2 0\r\n"), /^-ERR /);
    assert.match(await client.send("RETR 1\r\n"), /^\+OK /);
    assert.match(await client.send("DELE 2\r\nDELE 3\r\n"), /^\+OK message 2 deleted\r\n\+OK message 3 deleted\r\n$/);
    assert.match(await client.send("QUIT\r\n"), /\(1 message deleted\)/);
    assert.deepEqual((await f.store.listMessages(inbox.id)).map((m) => m.uid), [1]);
  });
});

test("hostile input: long lines, empty lines, garbage and unknown commands each get one -ERR", async () => {
  await withFixture(async (f) => {
    const client = await f.open();
    assert.equal(await client.send(`NOOP ${"x".repeat(300)}\r\n`), "-ERR line too long\r\n");
    assert.equal(await client.send("x".repeat(10_000)), "-ERR line too long\r\n");
    assert.equal(await client.send(`${"y".repeat(10_000)}\r\nCAPA\r\n`).then((s) => s.split("\r\n")[0]), "+OK capability list follows");
    assert.equal(await client.send("\r\n"), "-ERR empty command\r\n");
    assert.equal(await client.send("HELO there\r\n"), "-ERR unknown command\r\n");
    assert.equal(await client.send("RETR 1\nNOOP\r\n"), "-ERR RETR is not valid in the AUTHORIZATION state\r\n-ERR NOOP is not valid in the AUTHORIZATION state\r\n");
    assert.equal(client.session.closed, false);
  });
});

test("deadlines: idle autologout and a trickled command line both close without committing", async () => {
  await withFixture(async (f) => {
    await f.deliver(MESSAGE);
    const client = await loggedIn(f);
    await client.send("DELE 1\r\n");
    f.timers.advance(599_999);
    assert.equal(client.session.closed, false, "a logged-in session has RFC 1939's ten minutes");
    f.timers.advance(1);
    assert.equal(client.session.closed, true);
    assert.match(client.transport.take(), /^-ERR \[SYS\/TEMP\] autologout/);
    const inbox = (await f.store.getMailbox(f.alice.id, "INBOX"))!;
    assert.equal((await f.store.listMessages(inbox.id)).length, 1);

    const trickler = await f.open();
    for (let i = 0; i < 5; i++) {
      await trickler.send("N");
      f.timers.advance(11_999);
    }
    assert.equal(trickler.session.closed, false);
    await trickler.send("O");
    f.timers.advance(60_000 - 5 * 11_999);
    assert.equal(trickler.session.closed, true, "the command clock is not reset by each byte");
    assert.match(trickler.transport.take(), /^-ERR \[SYS\/TEMP\] autologout: command line not finished in time\r\n$/);
  });
});

test("before login the idle limit is limits.pop3_unauthenticated_idle, and each command restarts it", async () => {
  await withFixture(async (f) => {
    const client = await f.open();
    f.timers.advance(59_000);
    assert.match(await client.send("CAPA\r\n"), /^\+OK/);
    f.timers.advance(59_999);
    assert.equal(client.session.closed, false);
    f.timers.advance(1);
    assert.equal(client.session.closed, true);
    assert.match(client.transport.take(), /^-ERR \[SYS\/TEMP\] autologout: idle for too long\r\n$/);
  });
});

test("an overlong line trickled without a line end is bounded by the command deadline too", async () => {
  await withFixture(async (f) => {
    const client = await f.open();
    assert.equal(await client.send("x".repeat(300)), "-ERR line too long\r\n");
    for (let i = 0; i < 5; i++) {
      await client.send("x".repeat(100));
      f.timers.advance(11_999);
    }
    assert.equal(client.session.closed, false);
    f.timers.advance(60_000 - 5 * 11_999);
    assert.equal(client.session.closed, true);
  });
});

test("pipelined commands arriving in chunks that end mid-line do not run the command clock on", async () => {
  await withFixture(async (f) => {
    await f.deliver(MESSAGE);
    const client = await loggedIn(f);
    // Each chunk finishes the previous line and starts the next: never a whole minute on one line.
    await client.send("NO");
    for (let i = 0; i < 10; i++) {
      f.timers.advance(30_000);
      assert.match(await client.send("OP\r\nNO"), /^\+OK/);
    }
    assert.equal(client.session.closed, false);
  });
});

test("every -ERR a client causes is logged at info with the session id, rate-limited, never with arguments", async () => {
  await withFixture(async (f) => {
    const log = createMemoryLogger();
    const client = await f.open({ log, allowPlaintextAuth: true, id: "sess-42" });
    await client.send("HELO there\r\n");
    await client.send("STAT\r\n");
    await client.send("USER alice@example.org\r\n");
    await client.send("PASS not-the-password\r\n");
    const errors = log.records.filter((r) => r.event === "pop3.client_error");
    assert.deepEqual(
      errors.map((r) => [r.level, r.session, r.command, r.code, r.reply]),
      [
        ["info", "sess-42", null, null, "unknown command"],
        ["info", "sess-42", "STAT", null, "STAT is not valid in the AUTHORIZATION state"],
        ["info", "sess-42", "PASS", "AUTH", "authentication failed"],
      ],
    );
    assert.doesNotMatch(JSON.stringify(log.records), /not-the-password/);
    for (let i = 0; i < 50; i++) await client.send("BOGUS\r\n");
    assert.equal(log.records.filter((r) => r.event === "pop3.client_error").length, 10, "at most 10 a minute per session");
    f.clock.now = new Date(f.clock.now.getTime() + 61_000);
    await client.send("BOGUS\r\n");
    const suppressed = log.records.filter((r) => r.event === "pop3.client_errors_suppressed");
    assert.deepEqual(suppressed.map((r) => [r.session, r.count]), [["sess-42", 43]]);
    assert.equal(log.records.filter((r) => r.event === "pop3.client_error").length, 11);
  });
});

test("pipelined RETRs served from read-ahead: each message exact, large ones streamed, DELE'd ones refused", async () => {
  await withFixture(async (f) => {
    const bodies: string[] = [];
    for (let i = 1; i <= 12; i++) {
      // Every fourth message is over the read-ahead size (64 KiB) and is streamed instead; bare LFs get CRLF.
      const body = i % 4 === 0 ? `Subject: big ${i}\r\n\r\n${"z".repeat(70_000)}\r\n` : `Subject: m${i}\n\n.dot line ${i}\n`;
      bodies.push(body);
      await f.deliver(body);
    }
    const client = await loggedIn(f);
    assert.equal(await client.send("DELE 3\r\n"), "+OK message 3 deleted\r\n");
    const commands = Array.from({ length: 12 }, (_, i) => `RETR ${i + 1}\r\n`).join("");
    const expected = bodies
      .map((body, i) => {
        if (i === 2) return "-ERR message 3 already deleted\r\n";
        const sent = body.replace(/\r?\n/g, "\r\n").replace(/^\./gm, "..");
        return `+OK ${Buffer.byteLength(body.replace(/\r?\n/g, "\r\n"), "latin1")} octets\r\n${sent}.\r\n`;
      })
      .join("");
    assert.equal(await client.send(commands), expected);
    // A later batch reads the store again: a message expunged meanwhile is refused, not sent from memory.
    const inbox = (await f.store.getMailbox(f.alice.id, "INBOX"))!;
    await f.store.removeMessages(inbox.id, [6 as never]);
    assert.equal(await client.send("RETR 6\r\n"), "-ERR message 6 was removed by another session\r\n");
  });
});

test("stopping: the command in flight is answered, the ones pipelined behind it are not run; QUIT's UPDATE commits and answers", async () => {
  await withFixture(async (f) => {
    await f.deliver(MESSAGE);
    const mailbox = (await f.store.getMailbox(f.alice.id, "INBOX"))!;
    const client = await loggedIn(f);
    // STAT starts; the stop arrives while it runs: LIST and DELE behind it never run.
    const batch = client.session.receive(Buffer.from("STAT\r\nLIST\r\nDELE 1\r\n"));
    client.session.stopTakingCommands();
    await batch;
    assert.equal(client.transport.take(), `+OK 1 ${MESSAGE.length}\r\n`);
    await client.session.sayGoodbye();
    assert.match(client.transport.take(), /^-ERR \[SYS\/TEMP\] server shutting down\r\n$/);
    assert.equal(client.transport.closed, true);
    assert.equal((await f.store.listMessages(mailbox.id)).length, 1, "nothing committed without QUIT");

    const quitting = await loggedIn(f);
    await quitting.send("DELE 1\r\n");
    const update = quitting.session.receive(Buffer.from("QUIT\r\n"));
    quitting.session.stopTakingCommands();
    await update;
    assert.match(quitting.transport.take(), /^\+OK pop\.example\.org signing off \(1 message deleted\)\r\n$/, "the UPDATE's real answer");
    assert.equal((await f.store.listMessages(mailbox.id)).length, 0);
    assert.equal(quitting.session.closed, true, "QUIT ended the session: no goodbye is due");
  });
});
