// RFC 6855 §4 APPEND with UTF8 append data, as Thunderbird sends it for Sent, Drafts and
// Templates once the server has accepted ENABLE UTF8=ACCEPT. The command sequence below is
// Thunderbird's own (from its IMAP log): capability, authenticate PLAIN, ENABLE UTF8=ACCEPT,
// then `append "Sent" (\Seen) UTF8 (~{n+}` CRLF <message> `)` CRLF. Before the fix every such
// APPEND got `BAD malformed literal` and Thunderbird could not save a sent copy.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";

/** A sent copy as Thunderbird writes it: UTF-8 in Subject and From display name (RFC 6532). */
const SENT = Buffer.from(
  [
    "Message-ID: <3c5b1e0a-8d2f-4f7e-9a51-0b1f2e3d4c5b@example.org>",
    "Date: Wed, 2 Dec 2026 17:30:00 +0100",
    "MIME-Version: 1.0",
    "User-Agent: Mozilla Thunderbird",
    "Content-Language: de-DE",
    "To: bob@example.org",
    "From: Jürgen Weiß <alice@example.org>",
    "Subject: Grüße aus Köln",
    "Content-Type: text/plain; charset=UTF-8; format=flowed",
    "Content-Transfer-Encoding: 8bit",
    "",
    "Schöne Grüße, bis bald.",
    "",
  ].join("\r\n"),
  "utf8",
);

async function thunderbirdSession(harness: ImapHarness, enable = true): Promise<RawImapClient> {
  const client = await RawImapClient.open(harness.ports.imap);
  client.take();
  const capability = await client.command("1", "capability");
  assert.match(capability, /^\* CAPABILITY [^\r\n]*\bUTF8=ACCEPT\b/m);
  client.send("2 authenticate PLAIN\r\n");
  assert.match(await client.nextLine(), /^\+/);
  client.send(`${Buffer.from("\0alice@example.org\0alice-pass").toString("base64")}\r\n`);
  await client.until((t) => /\r\n2 (OK|NO|BAD)[^\r\n]*\r\n$/.test(`\r\n${t}`));
  assert.match(client.take(), /^2 OK/m);
  if (enable) assert.match(await client.command("3", "ENABLE UTF8=ACCEPT"), /^\* ENABLED UTF8=ACCEPT\r\n3 OK/m);
  return client;
}

/** Sends `tag append "<mailbox>" (\Seen) UTF8 (~{n+}` + message + `)` with LITERAL+, as Thunderbird does. */
async function utf8Append(client: RawImapClient, tag: string, mailbox: string, message: Buffer): Promise<string> {
  client.send(Buffer.concat([Buffer.from(`${tag} append "${mailbox}" (\\Seen) UTF8 (~{${message.length}+}\r\n`), message, Buffer.from(")\r\n")]));
  await client.until((t) => new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`).test(t));
  return client.take();
}

/** The stored message read back over IMAP: SELECT, then UID FETCH BODY.PEEK[] of the given uid. */
async function readBack(client: RawImapClient, mailbox: string, uid: number): Promise<{ flags: string; body: Buffer }> {
  await client.command("s", `select "${mailbox}"`);
  client.send(`f UID FETCH ${uid} (FLAGS BODY.PEEK[])\r\n`);
  const text = await client.until((t) => /\r\nf (OK|NO|BAD)[^\r\n]*\r\n$/.test(t));
  client.take();
  const match = /FLAGS \(([^)]*)\) BODY\[\] \{(\d+)\}\r\n/.exec(text);
  assert.ok(match, text);
  const start = (match.index ?? 0) + match[0].length;
  return { flags: match[1] ?? "", body: Buffer.from(text.slice(start, start + Number(match[2])), "latin1") };
}

describe("APPEND UTF8 (RFC 6855 §4) replaying Thunderbird", () => {
  let harness: ImapHarness;
  before(async () => {
    harness = await startImapHarness();
  });
  after(async () => harness.stop());

  it("saves the sent copy byte-exact with its flags and APPENDUID, and it reads back", async () => {
    const client = await thunderbirdSession(harness);
    try {
      const reply = await utf8Append(client, "4", "Sent", SENT);
      assert.match(reply, /^4 OK \[APPENDUID \d+ 1\] APPEND completed\r\n$/);
      const { flags, body } = await readBack(client, "Sent", 1);
      assert.deepEqual(body, SENT);
      assert.match(flags, /\\Seen/);
      // The UTF-8 header came through undamaged for a UTF8=ACCEPT client (RFC 6855 §5).
      const envelope = Buffer.from(await client.command("e", "UID FETCH 1 (ENVELOPE)"), "latin1").toString("utf8");
      assert.match(envelope, /\{17\}\r\nGrüße aus Köln \(\(\{13\}\r\nJürgen Weiß NIL "alice" "example.org"\)\)/);
    } finally {
      client.close();
    }
  });

  it("takes the same form for Drafts and Templates, with non-synchronising and synchronising literals", async () => {
    const client = await thunderbirdSession(harness);
    try {
      await client.command("c", "create Templates");
      assert.match(await utf8Append(client, "5", "Drafts", SENT), /^5 OK \[APPENDUID \d+ 1\]/);
      // A synchronising literal8: `+` first, then the message and the closing parenthesis.
      client.send(`6 append "Templates" (\\Seen \\Draft) UTF8 (~{${SENT.length}}\r\n`);
      assert.equal(await client.nextLine(), "+ Ready for literal data");
      client.send(Buffer.concat([SENT, Buffer.from(")\r\n")]));
      await client.until((t) => /6 (OK|NO|BAD)[^\r\n]*\r\n/.test(t));
      assert.match(client.take(), /^6 OK \[APPENDUID \d+ 1\]/);
      const { flags, body } = await readBack(client, "Templates", 1);
      assert.deepEqual(body, SENT);
      assert.match(flags, /\\Draft/);
    } finally {
      client.close();
    }
  });

  it("accepts UTF8 data in MULTIAPPEND, mixed with plain literals, all in one transaction", async () => {
    const client = await thunderbirdSession(harness);
    try {
      const plain = Buffer.from("From: alice@example.org\r\nSubject: plain\r\n\r\nascii\r\n");
      const date = '"02-Dec-2026 17:30:00 +0100"';
      client.send(
        Buffer.concat([
          Buffer.from(`7 APPEND Archive (\\Seen) ${date} UTF8 (~{${SENT.length}+}\r\n`),
          SENT,
          Buffer.from(`) {${plain.length}+}\r\n`),
          plain,
          Buffer.from(` UTF8 (~{${SENT.length}+}\r\n`),
          SENT,
          Buffer.from(")\r\n"),
        ]),
      );
      await client.until((t) => /7 (OK|NO|BAD)[^\r\n]*\r\n/.test(t));
      assert.match(client.take(), /^7 OK \[APPENDUID \d+ 1:3\]/);
      assert.deepEqual((await readBack(client, "Archive", 2)).body, plain);
      assert.deepEqual((await readBack(client, "Archive", 3)).body, SENT);
    } finally {
      client.close();
    }
  });

  it("is BAD before ENABLE UTF8=ACCEPT (RFC 6855 §4), and the connection carries on", async () => {
    const client = await thunderbirdSession(harness, false);
    try {
      const reply = await utf8Append(client, "8", "Sent", SENT);
      assert.match(reply, /^8 BAD [^\r\n]*UTF8=ACCEPT/m);
      assert.match(await client.command("9", "NOOP"), /^9 OK/m);
      const mailbox = await harness.temp.store.getMailbox(harness.accounts.alice.id, "Sent");
      const messages = await harness.temp.store.listMessages(mailbox!.id);
      assert.equal(messages.length, 1, "only the first test's copy is in Sent");
    } finally {
      client.close();
    }
  });

  it("is BAD without the closing parenthesis", async () => {
    const client = await thunderbirdSession(harness);
    try {
      client.send(Buffer.concat([Buffer.from(`10 append "Sent" UTF8 (~{${SENT.length}+}\r\n`), SENT, Buffer.from("\r\n")]));
      await client.until((t) => /10 (OK|NO|BAD)[^\r\n]*\r\n/.test(t));
      assert.match(client.take(), /^10 BAD/m);
      assert.match(await client.command("11", "NOOP"), /^11 OK/m);
    } finally {
      client.close();
    }
  });
});
