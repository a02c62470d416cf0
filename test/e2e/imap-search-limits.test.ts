// Hostile SEARCH input over a real socket (issue 14): keys nested past the limit are BAD, an
// unknown CHARSET is NO [BADCHARSET (supported list)], a 20 MB search literal is refused by the
// literal limit before any of it is read, and the session stays usable after each.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { deliverTo, startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";

describe("SEARCH bad input", () => {
  let harness: ImapHarness;
  let client: RawImapClient;

  before(async () => {
    harness = await startImapHarness();
    await deliverTo(harness, harness.accounts.alice, "lighthouse notes");
    client = await RawImapClient.open(harness.ports.imap);
    await client.nextLine();
    assert.match(await client.command("a", 'LOGIN alice@example.org "alice-pass"'), /^a OK/m);
    assert.match(await client.command("b", "SELECT INBOX"), /^b OK/m);
  });

  after(async () => {
    client.socket.destroy();
    await harness.stop();
  });

  it("NOT nested past the limit is BAD; just inside it is answered", async () => {
    assert.match(await client.command("c", `SEARCH ${"NOT ".repeat(200)}ALL`), /^c BAD .*nested too deeply/m);
    assert.match(await client.command("d", `SEARCH ${"NOT ".repeat(40)}TEXT "lighthouse"`), /^\* SEARCH 1\r\n[\s\S]*^d OK/m);
    assert.match(await client.command("e", `SEARCH ${"OR ALL ".repeat(100)}ALL`), /^e BAD/m);
  });

  it("the limits are the configured ones ([imap] search_max_depth, search_max_keys)", async () => {
    const small = await startImapHarness({ searchLimits: { maxDepth: 6, maxKeys: 12 } });
    const other = await RawImapClient.open(small.ports.imap);
    try {
      await other.nextLine();
      assert.match(await other.command("a", 'LOGIN alice@example.org "alice-pass"'), /^a OK/m);
      assert.match(await other.command("b", "SELECT INBOX"), /^b OK/m);
      assert.match(await other.command("c", `SEARCH ${"NOT ".repeat(8)}ALL`), /^c BAD .*nested too deeply/m);
      assert.match(await other.command("d", `SEARCH ${"NOT ".repeat(4)}ALL`), /^d OK/m);
      assert.match(await other.command("e", `SEARCH ${"SEEN ".repeat(13)}`), /^e BAD/m);
      assert.match(await client.command("f", `SEARCH ${"NOT ".repeat(40)}ALL`), /^f OK/m, "the default elsewhere");
    } finally {
      other.socket.destroy();
      await small.stop();
    }
  });

  it("an unknown charset is NO [BADCHARSET] with the supported list", async () => {
    assert.match(await client.command("f", 'SEARCH CHARSET X-NOPE TEXT "x"'), /^f NO \[BADCHARSET \(UTF-8 US-ASCII\)\]/m);
  });

  it("a 20 MB search literal is refused by the literal limit, and the session goes on", async () => {
    client.send(`g SEARCH TEXT {${20 * 1024 * 1024}}\r\n`);
    const refusal = await client.until((b) => /^g (NO|BAD) /m.test(b));
    assert.match(refusal, /^g (NO|BAD) .*(literal|too (big|large|long))/im);
    client.take();
    assert.match(await client.command("h", 'UID SEARCH TEXT "LIGHTHOUSE"'), /^\* SEARCH \d+\r\n[\s\S]*^h OK/m);
  });
});
