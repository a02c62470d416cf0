// Mailbox names that mean something outside IMAP are refused when a mailbox would get them:
// a leading "~" (a user's home directory) and any "\" (a Windows path separator), on CREATE and
// on the new name of RENAME, with NO [CANNOT] (RFC 9051 §5.1, §6.3.4, RFC 5530 §3). Dovecot
// answers `CREATE "~root/x"` the same way. Nothing is created, and the connection carries on.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";

describe("IMAP mailbox names that look like paths", () => {
  let harness: ImapHarness;
  let client: RawImapClient;
  before(async () => {
    harness = await startImapHarness();
    client = await RawImapClient.open(harness.ports.imap);
    client.take();
    await client.command("l", "LOGIN alice@example.org alice-pass");
  });
  after(async () => {
    client.close();
    await harness.stop();
  });

  const names = async (): Promise<string[]> => (await harness.temp.store.listMailboxes(harness.accounts.alice.id)).map((m) => m.name).sort();

  // Wire forms: a quoted string escapes "\" as "\\" (RFC 9051 §9 quoted-specials).
  for (const [wire, why] of [
    ['"~root/x"', "a leading ~"],
    ["~root", "a leading ~ (atom)"],
    ['"..\\\\..\\\\x"', "backslashes"],
    ['"Archive\\\\2026"', "a backslash inside"],
    ["{6}\r\n~x\\y/z", "a literal with both"],
  ] as const) {
    it(`CREATE ${wire.split("\r\n").join(" ")} is NO [CANNOT] (${why})`, async () => {
      const before = await names();
      let reply: string;
      if (wire.startsWith("{")) {
        const [marker, octets] = wire.split("\r\n");
        client.send(`c CREATE ${marker}\r\n`);
        assert.equal(await client.nextLine(), "+ Ready for literal data");
        client.send(`${octets}\r\n`);
        await client.until((t) => /(^|\r\n)c (OK|NO|BAD)[^\r\n]*\r\n/.test(t));
        reply = client.take();
      } else reply = await client.command("c", `CREATE ${wire}`);
      assert.match(reply, /^c NO \[CANNOT\] mailbox name must not/m);
      assert.deepEqual(await names(), before, "no mailbox was created");
    });
  }

  it("RENAME to such a name is NO [CANNOT] and leaves the mailbox where it was", async () => {
    assert.match(await client.command("r1", 'RENAME Archive "~root/Archive"'), /^r1 NO \[CANNOT\]/m);
    assert.match(await client.command("r2", 'RENAME Archive "..\\\\Archive"'), /^r2 NO \[CANNOT\]/m);
    assert.match(await client.command("r3", 'RENAME INBOX "~inbox"'), /^r3 NO \[CANNOT\]/m);
    assert.ok((await names()).includes("Archive"));
    assert.ok(!(await names()).some((n) => n.includes("~") || n.includes("\\")));
  });

  it("a '~' that does not lead is an ordinary character", async () => {
    assert.match(await client.command("c2", 'CREATE "Archive/~2026"'), /^c2 OK/m);
    assert.match(await client.command("r4", 'RENAME "Archive/~2026" "Archive/x~y"'), /^r4 OK/m);
    assert.ok((await names()).includes("Archive/x~y"));
    assert.match(await client.command("n", "NOOP"), /^n OK/m);
  });
});
