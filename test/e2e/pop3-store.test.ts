// POP3 against the store and other parties over real sockets, with a raw client for byte-exact
// cases: delivered (as SMTP delivers) → listed; DELE + QUIT → gone, and a change-feed subscriber
// (what IMAP IDLE listens to) sees the expunge; an expunge by another party mid-session; IN-USE
// across 110 and 995; a dropped connection commits nothing; UIDL stable across sessions; bare LF,
// dot lines and a 1 MB message byte-exact; STLS injection; pipelining; shutdown.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as tlsConnect } from "node:tls";
import { once } from "node:events";
import type { ChangeBatch, Uid } from "../../src/store/index.js";
import { RawPop3Client, startPop3Harness, type Pop3Harness } from "../harness/pop3-harness.js";

async function withHarness(body: (h: Pop3Harness) => Promise<void>): Promise<void> {
  const h = await startPop3Harness({ allowPlaintextAuth: true });
  try {
    await body(h);
  } finally {
    await h.stop();
  }
}

async function login(port: number, user = "alice", tls = false): Promise<RawPop3Client> {
  const client = await RawPop3Client.open(port, { tls });
  assert.match((await client.line())!, /^\+OK /);
  assert.match((await client.command(`USER ${user}@example.org`))!, /^\+OK/);
  assert.match((await client.command(`PASS ${user}-pass`))!, /^\+OK maildrop has/);
  return client;
}

async function retrieve(client: RawPop3Client, n: number): Promise<{ status: string; body: Buffer }> {
  const status = (await client.command(`RETR ${n}`))!;
  assert.match(status, /^\+OK/);
  return { status, body: await client.body() };
}

test("delivered → listed; DELE + QUIT → gone from the store, and a change-feed subscriber sees the expunge", async () => {
  await withHarness(async (h) => {
    const { alice } = h.accounts;
    await h.deliver(alice, "Subject: a\r\n\r\none\r\n");
    await h.deliver(alice, "Subject: b\r\n\r\ntwo\r\n");
    const seen: ChangeBatch[] = [];
    const unsubscribe = h.temp.store.changes.subscribe(alice.id, (batch) => seen.push(batch));
    const client = await login(h.ports.pop3);
    assert.equal(await client.command("STAT"), "+OK 2 38");
    assert.equal(await client.command("DELE 1"), "+OK message 1 deleted");
    assert.equal(seen.length, 0, "DELE only marks");
    assert.match((await client.command("QUIT"))!, /^\+OK .*\(1 message deleted\)$/);
    unsubscribe();
    const inbox = await h.inbox(alice);
    assert.deepEqual((await h.temp.store.listMessages(inbox.id)).map((m) => m.uid), [2]);
    const expunged = seen.flatMap((batch) => batch.changes).filter((change) => change.kind === "expunged");
    assert.deepEqual(expunged.map((change) => (change as { uid: Uid }).uid), [1]);
  });
});

test("another party expunges during the session: RETR -ERR, QUIT still commits the rest", async () => {
  await withHarness(async (h) => {
    const { alice } = h.accounts;
    for (const s of ["a", "b", "c"]) await h.deliver(alice, `Subject: ${s}\r\n\r\n${s}\r\n`);
    const client = await login(h.ports.pop3);
    const inbox = await h.inbox(alice);
    await h.temp.store.removeMessages(inbox.id, [1 as Uid]);
    assert.equal(await client.command("RETR 1"), "-ERR message 1 was removed by another session");
    assert.equal((await retrieve(client, 2)).body.toString(), "Subject: b\r\n\r\nb\r\n");
    client.write("DELE 2\r\nDELE 3\r\nQUIT\r\n");
    assert.equal(await client.line(), "+OK message 2 deleted");
    assert.equal(await client.line(), "+OK message 3 deleted");
    assert.match((await client.line())!, /\(2 messages deleted\)/);
    assert.deepEqual(await h.temp.store.listMessages(inbox.id), []);
  });
});

test("IN-USE across the 110 and 995 listeners; a dropped connection commits nothing and frees the maildrop", async () => {
  await withHarness(async (h) => {
    await h.deliver(h.accounts.alice, "Subject: a\r\n\r\none\r\n");
    const first = await login(h.ports.pop3);
    assert.equal(await first.command("DELE 1"), "+OK message 1 deleted");
    const second = await RawPop3Client.open(h.ports.pop3s, { tls: true });
    await second.line();
    await second.command("USER alice@example.org");
    assert.equal(await second.command("PASS alice-pass"), "-ERR [IN-USE] maildrop is in use by another session");
    first.close();
    // The server notices the close, drops the marks and unlocks.
    for (let i = 0; i < 50 && h.servers[0]!.shared.locks.isHeld(h.accounts.alice.id); i++) await new Promise((r) => setTimeout(r, 20));
    await second.command("USER alice@example.org");
    assert.match((await second.command("PASS alice-pass"))!, /^\+OK maildrop has 1 message$/);
    second.close();
    assert.equal((await h.temp.store.listMessages((await h.inbox(h.accounts.alice)).id)).length, 1);
  });
});

test("UIDL is stable across sessions and unaffected by other messages leaving", async () => {
  await withHarness(async (h) => {
    for (const s of ["a", "b", "c"]) await h.deliver(h.accounts.alice, `Subject: ${s}\r\n\r\n${s}\r\n`);
    const first = await login(h.ports.pop3);
    assert.match((await first.command("UIDL"))!, /^\+OK/);
    const before = (await first.body()).toString().trim().split("\r\n").map((line) => line.split(" ")[1]);
    await first.command("DELE 1");
    await first.command("QUIT");
    const second = await login(h.ports.pop3);
    assert.match((await second.command("UIDL"))!, /^\+OK/);
    const after = (await second.body()).toString().trim().split("\r\n");
    assert.deepEqual(after, [`1 ${before[1]}`, `2 ${before[2]}`], "message numbers shift, unique ids do not");
    await second.command("QUIT");
  });
});

test("byte-exact RETR: bare LF, bare CR and dot lines arrive as CRLF with LIST counting exactly; a 1 MB message", async () => {
  await withHarness(async (h) => {
    const odd = Buffer.from("Subject: odd\n\n.one\n..two\r\nthree\rfour\n.\nend", "latin1");
    // The length is kept as lines are added: joining all lines on every turn made this loop
    // quadratic (gigabytes of copying for 1 MB), minutes of CPU on a loaded machine.
    const lines: string[] = [];
    for (let i = 0, length = 0; length < 1024 * 1024; i++) {
      const line = `${i % 7 === 0 ? "." : ""}line ${i} ${"x".repeat(60)}\r\n`;
      lines.push(line);
      length += line.length;
    }
    const big = Buffer.from(`Subject: big\r\n\r\n${lines.join("")}`, "latin1");
    await h.deliver(h.accounts.alice, odd);
    await h.deliver(h.accounts.alice, big);
    const client = await login(h.ports.pop3);
    const expectedOdd = "Subject: odd\r\n\r\n.one\r\n..two\r\nthree\r\nfour\r\n.\r\nend\r\n";
    assert.equal(await client.command("LIST 1"), `+OK 1 ${expectedOdd.length}`);
    assert.equal(await client.command("LIST 2"), `+OK 2 ${big.length}`);
    const first = await retrieve(client, 1);
    assert.equal(first.status, `+OK ${expectedOdd.length} octets`);
    assert.equal(first.body.toString("latin1"), expectedOdd);
    const second = await retrieve(client, 2);
    assert.ok(second.body.equals(big), "1 MB message byte-exact");
    assert.equal(await client.command("TOP 2 2"), "+OK top of message follows");
    assert.equal((await client.body()).toString(), `Subject: big\r\n\r\n${lines[0]}${lines[1]}`);
    await client.command("QUIT");
  });
});

test("pipelined commands are answered in order; STLS with injected plaintext never runs the injection", async () => {
  await withHarness(async (h) => {
    await h.deliver(h.accounts.alice, "Subject: a\r\n\r\none\r\n");
    const client = await RawPop3Client.open(h.ports.pop3);
    await client.line();
    client.write("USER alice@example.org\r\nPASS alice-pass\r\nSTAT\r\nLIST\r\nNOOP\r\nRETR 1\r\nQUIT\r\n");
    assert.equal(await client.line(), "+OK send PASS");
    assert.match((await client.line())!, /^\+OK maildrop has 1 message$/);
    assert.equal(await client.line(), "+OK 1 19");
    assert.equal(await client.line(), "+OK 1 messages");
    assert.equal((await client.body()).toString(), "1 19\r\n");
    assert.equal(await client.line(), "+OK");
    assert.equal(await client.line(), "+OK 19 octets");
    assert.equal((await client.body()).toString(), "Subject: a\r\n\r\none\r\n");
    assert.match((await client.line())!, /^\+OK .*signing off/);

    const injected = await RawPop3Client.open(h.ports.pop3);
    await injected.line();
    injected.write("STLS\r\nUSER alice@example.org\r\nPASS alice-pass\r\n");
    assert.equal(await injected.line(), "+OK begin TLS negotiation");
    // The plaintext that followed STLS reaches the TLS layer as garbage: the handshake fails and
    // the connection closes without a single plaintext answer.
    assert.equal(await injected.line(), null);
  });
});

test("STLS then a real TLS handshake on the same socket; shutdown says goodbye with [SYS/TEMP]", async () => {
  await withHarness(async (h) => {
    const client = await RawPop3Client.open(h.ports.pop3);
    await client.line();
    assert.equal(await client.command("STLS"), "+OK begin TLS negotiation");
    client.socket.removeAllListeners("data");
    const secure = tlsConnect({ socket: client.socket, rejectUnauthorized: false });
    await once(secure, "secureConnect");
    secure.write("CAPA\r\n");
    const [capa] = (await once(secure, "data")) as [Buffer];
    assert.match(capa.toString(), /^\+OK capability list follows\r\n[\s\S]*USER\r\nSASL PLAIN LOGIN\r\n/);
    const stopping = once(secure, "data");
    await h.servers[0]!.shutdown();
    const [goodbye] = (await stopping) as [Buffer];
    assert.equal(goodbye.toString(), "-ERR [SYS/TEMP] server shutting down\r\n");
    secure.destroy();
  });
});
