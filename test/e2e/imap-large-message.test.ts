// Issue #3 end to end: a 25 MB message with base64 attachments sent over SMTP (port 25 role) to a
// local account reads back over IMAP byte-exact. imapflow and python3 imaplib FETCH BODY.PEEK[]:
// after the trace prefix (Return-Path, Received) the bytes are the ones sent. BODY[2] of an
// attachment is its base64 text exactly, and BINARY[2] (RFC 3516) its decoded bytes.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ImapFlow } from "imapflow";
import { startImapHarness } from "../harness/imap-harness.js";
import { base64Lines, largeAttachment, largeMessage } from "../harness/large-message.js";
import { RawSmtpClient } from "../harness/smtp-clients.js";
import { startSmtpHarness } from "../harness/smtp-harness.js";

const MB = 1024 * 1024;

// Writes BODY.PEEK[], BINARY.PEEK[2] and BINARY.PEEK[3] of the message to files in argv[2].
const IMAPLIB_FETCH = String.raw`
import imaplib, sys, os
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice@example.org", "alice-pass")
M.select("INBOX", readonly=True)
typ, data = M.uid("FETCH", "1", "(BODY.PEEK[])")
assert typ == "OK", data
open(os.path.join(sys.argv[2], "body"), "wb").write(data[0][1])
for part in ("2", "3"):
    typ, data = M.uid("FETCH", "1", "(BINARY.PEEK[%s])" % part)
    assert typ == "OK", data
    open(os.path.join(sys.argv[2], "binary" + part), "wb").write(data[0][1])
M.logout()
`;

function runPython(script: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("python3", ["-c", script, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

/** The trace prefix SMTP delivery adds, then exactly the sent bytes. */
function assertPrefixThenMessage(fetched: Buffer, message: Buffer, client: string): void {
  assert.ok(fetched.length > message.length, `${client}: ${fetched.length} octets`);
  const prefix = fetched.subarray(0, fetched.length - message.length);
  assert.match(prefix.toString("latin1"), /^Return-Path: <big@ext\.example>\r\nReceived: from big\.test [^]*\r\n$/, `${client}: trace prefix`);
  assert.ok(fetched.subarray(prefix.length).equals(message), `${client}: BODY[] after the prefix is the sent message, byte for byte`);
}

test("a 25 MB message sent over SMTP reads back byte-exact over IMAP (BODY[], BODY[2], BINARY[2])", { timeout: 180_000 }, async () => {
  const message = largeMessage();
  assert.ok(message.length > 25 * MB);
  const smtp = await startSmtpHarness({ limits: { maxMessageSize: 32 * MB, smtpTransactionDeadline: 110_000 } });
  const imap = await startImapHarness({ shared: { temp: smtp.temp, accounts: smtp.accounts }, limits: { imapIdle: 120_000 } });
  const dir = await mkdtemp(join(tmpdir(), "mailroom-imap-large-"));
  const flow = new ImapFlow({ host: "127.0.0.1", port: imap.ports.imap, secure: false, auth: { user: "alice@example.org", pass: "alice-pass" }, logger: false, tls: { rejectUnauthorized: false } });
  try {
    const sender = await RawSmtpClient.open(smtp.ports.mx);
    await sender.reply();
    await sender.command("EHLO big.test");
    assert.match((await sender.command(`MAIL FROM:<big@ext.example> SIZE=${message.length}`))!, /^250 /);
    assert.match((await sender.command("RCPT TO:<alice@example.org>"))!, /^250 /);
    assert.match((await sender.command("DATA"))!, /^354 /);
    for (let offset = 0; offset < message.length; offset += 64 * 1024) {
      if (!sender.socket.write(message.subarray(offset, offset + 64 * 1024))) await new Promise((resolve) => sender.socket.once("drain", resolve));
    }
    sender.write(".\r\n");
    assert.match((await sender.reply(100_000))!, /^250 /);
    await sender.command("QUIT");
    sender.close();

    await flow.connect();
    const lock = await flow.getMailboxLock("INBOX", { readOnly: true });
    try {
      const fetched = await flow.fetchOne("1", { source: true, bodyParts: ["2"] }, { uid: true });
      assert.ok(fetched !== false && fetched.source !== undefined);
      assertPrefixThenMessage(fetched.source, message, "imapflow");
      // RFC 9051 §6.4.5: BODY[2] is the part's body as stored, here the base64 text of attachment 0
      // (the CRLF before the next boundary belongs to the boundary, RFC 2046 §5.1.1).
      const part2 = fetched.bodyParts?.get("2");
      assert.ok(part2 !== undefined);
      assert.ok(part2.equals(Buffer.from(base64Lines(largeAttachment(0)), "latin1")), "BODY[2] is the attachment's base64 text");
    } finally {
      lock.release();
    }

    const python = await runPython(IMAPLIB_FETCH, [String(imap.ports.imap), dir]);
    assert.equal(python.code, 0, python.stderr);
    assertPrefixThenMessage(await readFile(join(dir, "body")), message, "imaplib");
    assert.ok((await readFile(join(dir, "binary2"))).equals(largeAttachment(0)), "BINARY[2] is attachment 0 decoded");
    assert.ok((await readFile(join(dir, "binary3"))).equals(largeAttachment(1)), "BINARY[3] is attachment 1 decoded");
  } finally {
    await flow.logout().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    await imap.stop();
    await smtp.stop();
  }
});
