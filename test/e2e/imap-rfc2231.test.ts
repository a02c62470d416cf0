// RFC 2231 file names in BODYSTRUCTURE over the wire: an IMAP4rev1 client (python3 imaplib,
// which never enables UTF8=ACCEPT) gets the encoded form `"FILENAME*" "utf-8''r%C3%A9sum%C3%A9..."`
// in 7-bit, as the message carried it (continuations joined); a client that enabled UTF8=ACCEPT
// gets the decoded UTF-8 name. Before, both got raw UTF-8, which a rev1 client cannot be sent.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { readMessageFixture } from "../harness/fixtures.js";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";

const run = promisify(execFile);

describe("RFC 2231 parameters in BODYSTRUCTURE", () => {
  let harness: ImapHarness;
  before(async () => {
    harness = await startImapHarness();
    const inbox = await harness.temp.store.getMailbox(harness.accounts.alice.id, "INBOX");
    await harness.temp.store.deliver({ source: await readMessageFixture(import.meta.url, "mixed-attachment.eml"), targets: [{ mailboxId: inbox!.id }] });
  });
  after(async () => harness.stop());

  it("python imaplib (IMAP4rev1) gets the encoded name in 7-bit", async () => {
    const script = [
      "import imaplib, os, sys",
      "M = imaplib.IMAP4('127.0.0.1', int(os.environ['PORT']))",
      "M.login('alice@example.org', 'alice-pass')",
      "M.select('INBOX')",
      "typ, dat = M.fetch('1', '(BODYSTRUCTURE)')",
      "assert typ == 'OK', dat",
      "sys.stdout.write(repr(dat))",
      "M.logout()",
    ].join("\n");
    const { stdout } = await run("python3", ["-c", script], { env: { ...process.env, PORT: String(harness.ports.imap) } });
    // One line, no literal: the whole value was 7-bit and quotable.
    assert.match(stdout, /^\[b'1 \(BODYSTRUCTURE /);
    assert.ok(stdout.includes(`("ATTACHMENT" ("FILENAME*" "utf-8\\'\\'r%C3%A9sum%C3%A9%20final.pdf"))`), stdout);
    assert.ok(!stdout.includes("\\xc3"), "no 8-bit octet");
  });

  it("a client that enabled UTF8=ACCEPT gets the UTF-8 name", async () => {
    const client = await RawImapClient.open(harness.ports.imap);
    try {
      client.take();
      await client.command("l", "LOGIN alice@example.org alice-pass");
      await client.command("e", "ENABLE UTF8=ACCEPT");
      await client.command("s", "SELECT INBOX");
      const reply = Buffer.from(await client.command("f", "FETCH 1 (BODYSTRUCTURE)"), "latin1").toString("utf8");
      assert.match(reply, /\("ATTACHMENT" \("FILENAME" (\{18\}\r\n|")résumé final\.pdf"?\)\)/);
      assert.ok(!reply.includes("FILENAME*"), reply);
    } finally {
      client.close();
    }
  });
});
