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

  it("a 64 KB search string within the limit is answered (TEXT, BODY, FUZZY): the index is asked for its start only", async () => {
    const long = `lighthouse notes${"x".repeat(64 * 1024)}`;
    // FUZZY matches: the long string has few distinct trigrams, most of them the message's.
    for (const [tag, key, hits] of [["i", "TEXT", ""], ["j", "BODY", ""], ["k", "FUZZY TEXT", " 1"]] as const) {
      client.send(`${tag} UID SEARCH ${key} {${long.length}}\r\n`);
      await client.until((b) => /^\+ /m.test(b));
      client.take();
      client.send(`${long}\r\n`);
      const reply = await client.until((b) => new RegExp(`^${tag} (OK|NO|BAD)`, "m").test(b));
      client.take();
      assert.match(reply, new RegExp(`^\\* SEARCH${hits}\r\n[\\s\\S]*^${tag} OK`, "m"), key);
    }
    assert.match(await client.command("l", 'UID SEARCH TEXT "HOUSE NOTES"'), /^\* SEARCH \d+\r\n[\s\S]*^l OK/m);
  });

  it("invalid UTF-8, a NUL and US-ASCII with 8-bit octets in a search string are answered cleanly", async () => {
    for (const [tag, charset, bytes] of [
      ["m", "UTF-8", Buffer.from([0xff, 0xfe, 0x6c, 0x69, 0x67])],
      ["n", "UTF-8", Buffer.from("lig\0hthouse", "latin1")],
      ["o", "US-ASCII", Buffer.from([0x6c, 0x69, 0xe9, 0x68, 0x74])],
    ] as const) {
      client.send(`${tag} UID SEARCH CHARSET ${charset} TEXT {${bytes.length}}\r\n`);
      await client.until((b) => /^\+ |^\S+ (NO|BAD)/m.test(b));
      if (/^\+ /m.test(client.take())) client.socket.write(Buffer.concat([bytes, Buffer.from("\r\n")]));
      const reply = await client.until((b) => new RegExp(`^${tag} (OK|NO|BAD)`, "m").test(b));
      client.take();
      assert.match(reply, new RegExp(`^${tag} (OK|NO|BAD) `, "m"), `${tag}: a tagged answer`);
    }
    assert.match(await client.command("p", 'UID SEARCH TEXT "lighthouse"'), /^\* SEARCH \d+\r\n[\s\S]*^p OK/m, "the session goes on");
  });

  it("a 20 MB search literal is refused by the literal limit, and the session goes on", async () => {
    client.send(`g SEARCH TEXT {${20 * 1024 * 1024}}\r\n`);
    const refusal = await client.until((b) => /^g (NO|BAD) /m.test(b));
    assert.match(refusal, /^g (NO|BAD) .*(literal|too (big|large|long))/im);
    client.take();
    assert.match(await client.command("h", 'UID SEARCH TEXT "LIGHTHOUSE"'), /^\* SEARCH \d+\r\n[\s\S]*^h OK/m);
  });
});
