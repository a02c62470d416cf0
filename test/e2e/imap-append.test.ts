// APPEND over raw sockets: a 50 MB literal goes to the store as it arrives (the process does not
// grow by anything near 50 MB), MULTIAPPEND is all or nothing with APPENDUID uid-sets (RFC 3502,
// RFC 4315), and a refused APPEND gets its NO before `+` (synchronising) or has its literal read
// and dropped (non-synchronising, RFC 7888), with the connection carrying on either way.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";
import { sampleLiveMemory } from "../harness/live-memory.js";

const MB = 1024 * 1024;

async function loggedIn(harness: ImapHarness): Promise<RawImapClient> {
  const client = await RawImapClient.open(harness.ports.imap);
  client.take();
  await client.command("l", "LOGIN alice@example.org alice-pass");
  return client;
}

async function inboxMessages(harness: ImapHarness, name = "INBOX") {
  const mailbox = await harness.temp.store.getMailbox(harness.accounts.alice.id, name);
  return harness.temp.store.listMessages(mailbox!.id);
}

describe("IMAP APPEND", () => {
  let harness: ImapHarness;
  before(async () => {
    harness = await startImapHarness({ limits: { imapLiteralSize: 64 * MB, imapIdle: 110_000 } });
  });
  after(async () => harness.stop());

  it("a 50 MB APPEND is streamed into the store byte-exact without the process growing by its size", { timeout: 120_000 }, async () => {
    const client = await loggedIn(harness);
    try {
      // One 64 KiB block of text lines, sent 800 times with a changing first line: the client
      // holds no 50 MB buffer, so what grows is what the server keeps.
      const block = Buffer.from(`${"0123456789abcdef".repeat(4)}\r\n`.repeat(1024));
      const header = Buffer.from("From: big@example.net\r\nSubject: fifty megabytes\r\n\r\n");
      const blocks = 800;
      const size = header.length + blocks * block.length;
      assert.ok(size > 50 * MB);
      const hash = createHash("sha256").update(header);
      client.send(`b1 APPEND INBOX {${size}}\r\n`);
      assert.equal(await client.nextLine(), "+ Ready for literal data");
      // Live memory (a full GC before each sample): socket chunks already on disk but not yet
      // collected are garbage, not something the server holds (harness/live-memory.ts).
      const sampler = sampleLiveMemory();
      client.send(header);
      for (let i = 0; i < blocks; i++) {
        block.write(String(i).padStart(8, "0"), 0, "latin1");
        hash.update(block);
        // write() may keep a reference until flushed: wait for each block to leave before reusing it.
        await new Promise<void>((resolve, reject) => client.socket.write(block, (error) => (error ? reject(error) : resolve())));
      }
      client.send("\r\n");
      const reply = await client.until((t) => /b1 (OK|NO|BAD)[^\r\n]*\r\n/.test(t), 100_000);
      const { rssGrowth, bufferGrowth } = sampler.stop();
      assert.match(reply, /b1 OK \[APPENDUID \d+ 1\] APPEND completed\r\n/);
      console.log(`# 50 MB APPEND: peak RSS +${(rssGrowth / MB).toFixed(1)} MB, arrayBuffers +${(bufferGrowth / MB).toFixed(1)} MB`);
      // Holding the literal would add its 50 MB (more with the concat copies). With the session's
      // streamLiteral predicate made to return false (the literal collected in memory), this
      // measured about +50 MB of arrayBuffers and failed. The bound leaves room for socket and
      // store buffers and GC slack.
      assert.ok(bufferGrowth < 20 * MB, `arrayBuffers grew by ${(bufferGrowth / MB).toFixed(1)} MB during APPEND`);
      assert.ok(rssGrowth < 30 * MB, `RSS grew by ${(rssGrowth / MB).toFixed(1)} MB during APPEND`);

      const mailbox = await harness.temp.store.getMailbox(harness.accounts.alice.id, "INBOX");
      const [stored] = await harness.temp.store.getMessages(mailbox!.id, [(await inboxMessages(harness))[0]!.uid]);
      assert.equal(stored!.size, size);
      const check = createHash("sha256");
      for await (const chunk of harness.temp.store.openMessage(stored!)) check.update(chunk as Buffer);
      assert.equal(check.digest("hex"), hash.digest("hex"), "stored bytes equal the bytes sent");
      assert.match(await client.command("b2", "NOOP"), /b2 OK/);
    } finally {
      client.close();
    }
  });

  it("MULTIAPPEND appends several messages in one command, with APPENDUID's uid-set", async () => {
    await harness.temp.store.createMailbox(harness.accounts.alice.id, "Multi");
    const client = await loggedIn(harness);
    try {
      assert.match(await client.command("c0", "CAPABILITY"), /\* CAPABILITY .*\bMULTIAPPEND\b/);
      const one = "Subject: one\r\n\r\nfirst\r\n";
      const two = "Subject: two\r\n\r\nsecond\r\n";
      const three = "Subject: three\r\n\r\nthird\r\n";
      client.send(`c1 APPEND Multi (\\Seen) {${one.length}}\r\n`);
      assert.equal(await client.nextLine(), "+ Ready for literal data");
      client.send(`${one} "05-Mar-2024 10:00:00 +0100" {${two.length}}\r\n`);
      assert.equal(await client.nextLine(), "+ Ready for literal data");
      client.send(`${two} (\\Flagged \\Draft) {${three.length}+}\r\n${three}\r\n`);
      assert.match(await client.until((t) => t.includes("c1 ")), /^c1 OK \[APPENDUID \d+ 1:3\] APPEND completed\r\n$/);
      client.take();
      const messages = await inboxMessages(harness, "Multi");
      assert.deepEqual(messages.map((m) => [m.uid, m.flags]), [[1, ["\\Seen"]], [2, []], [3, ["\\Flagged", "\\Draft"]]]);
      assert.equal(messages[1]!.internalDate.toISOString(), "2024-03-05T09:00:00.000Z");
      assert.deepEqual(messages.map((m) => m.size), [one.length, two.length, three.length]);
    } finally {
      client.close();
    }
  });

  it("MULTIAPPEND is all or nothing: a bad or empty later message leaves the mailbox untouched", async () => {
    await harness.temp.store.createMailbox(harness.accounts.alice.id, "Atomic");
    const client = await loggedIn(harness);
    try {
      const one = "Subject: one\r\n\r\nfirst\r\n";
      // An empty third message (RFC 9051 §6.3.12) after two good ones.
      client.send(`d1 APPEND Atomic {${one.length}+}\r\n${one} {${one.length}+}\r\n${one} {0+}\r\n\r\n`);
      assert.match(await client.until((t) => t.includes("d1 ")), /^d1 NO empty message\r\n$/);
      client.take();
      // A syntax error (an unclosed flag list) after the first message was stored: BAD, and nothing appended.
      client.send(`d2 APPEND Atomic {${one.length}+}\r\n${one} (\\Seen {${one.length}+}\r\n${one}\r\n`);
      assert.match(await client.until((t) => t.includes("d2 ")), /^d2 BAD /);
      client.take();
      assert.deepEqual(await inboxMessages(harness, "Atomic"), []);
      assert.equal((await harness.temp.store.mailboxStatus((await harness.temp.store.getMailbox(harness.accounts.alice.id, "Atomic"))!.id)).uidNext, 1);
      assert.match(await client.command("d3", "NOOP"), /^d3 OK/);
    } finally {
      client.close();
    }
  });

  it("a missing mailbox gets NO [TRYCREATE] instead of `+`, or has its non-synchronising literal dropped", async () => {
    const client = await loggedIn(harness);
    try {
      client.send("e1 APPEND Nowhere {11}\r\n");
      assert.equal(await client.nextLine(), "e1 NO [TRYCREATE] no such mailbox");
      assert.match(await client.command("e2", "NOOP"), /^e2 OK/);
      // The octets of a refused non-synchronising literal are read and dropped, never run as commands.
      client.send("e3 APPEND Nowhere {16+}\r\ne4 LOGOUT\r\nxxxxx (\\Seen) {5+}\r\nabcde\r\n");
      assert.equal(await client.nextLine(), "e3 NO [TRYCREATE] no such mailbox");
      assert.match(await client.command("e5", "NOOP"), /^e5 OK/);
      // Not authenticated: BAD before any octet is taken.
      const fresh = await RawImapClient.open(harness.ports.imap);
      fresh.take();
      fresh.send("f1 APPEND INBOX {5}\r\n");
      assert.equal(await fresh.nextLine(), "f1 BAD APPEND is not allowed in this state");
      fresh.close();
    } finally {
      client.close();
    }
  });
});
