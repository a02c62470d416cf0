// RFC 5464 METADATA / METADATA-SERVER over real sockets: exact responses of GETMETADATA (DEPTH,
// MAXSIZE and LONGENTRIES, NIL for an absent entry, literal8 for a binary value) and SETMETADATA
// (all or none, MAXSIZE, TOOMANY, NOPERM, BAD names), entries following RENAME and dying with
// DELETE, private entries per user, /private/specialuse; and python imaplib as a client uses it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";
import { runPython } from "../harness/python.js";

describe("IMAP METADATA (RFC 5464)", () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImapHarness({ metadataLimits: { maxEntrySize: 2048, maxEntriesPerMailbox: 5, maxAccountBytes: 16 * 1024 } });
  });
  after(() => h.stop());

  async function login(user: "alice" | "bob"): Promise<RawImapClient> {
    const client = await RawImapClient.open(h.ports.imap);
    assert.match(await client.command("l0", `LOGIN ${user}@example.org ${user}-pass`), /l0 OK/);
    return client;
  }

  it("is advertised; server entries are private per user", async () => {
    const alice = await login("alice");
    assert.match(await alice.command("c1", "CAPABILITY"), /METADATA METADATA-SERVER|METADATA-SERVER.*METADATA\b/);
    assert.match(await alice.command("s1", 'SETMETADATA "" (/private/vendor/test/motd "hello")'), /s1 OK/);
    assert.equal(await alice.command("g1", 'GETMETADATA "" /private/vendor/test/motd'), '* METADATA "" (/private/vendor/test/motd "hello")\r\ng1 OK GETMETADATA completed\r\n');
    assert.match(await alice.command("s2", 'SETMETADATA "" (/shared/admin "mailto:me")'), /s2 NO \[NOPERM\]/);
    const bob = await login("bob");
    assert.equal(await bob.command("g2", 'GETMETADATA "" /private/vendor/test/motd'), '* METADATA "" (/private/vendor/test/motd NIL)\r\ng2 OK GETMETADATA completed\r\n');
    alice.close();
    bob.close();
  });

  it("GETMETADATA: DEPTH, MAXSIZE with LONGENTRIES, several entries, literal8 for NUL", async () => {
    const c = await login("alice");
    assert.match(await c.command("a1", "CREATE Depth"), /a1 OK/);
    const big = "x".repeat(300);
    assert.match(await c.command("s1", `SETMETADATA Depth (/private/a "1" /private/a/b "2" /private/a/b/c "3" /shared/comment {${big.length}+}\r\n${big})`), /s1 OK/);
    assert.equal(await c.command("g0", "GETMETADATA Depth /private/a"), '* METADATA "Depth" (/private/a "1")\r\ng0 OK GETMETADATA completed\r\n');
    assert.equal(await c.command("g1", "GETMETADATA (DEPTH 1) Depth /private/a"), '* METADATA "Depth" (/private/a "1" /private/a/b "2")\r\ng1 OK GETMETADATA completed\r\n');
    assert.equal(await c.command("g2", "GETMETADATA (DEPTH infinity) Depth (/private/a)"), '* METADATA "Depth" (/private/a "1" /private/a/b "2" /private/a/b/c "3")\r\ng2 OK GETMETADATA completed\r\n');
    // Case-insensitive names; the shared and private trees in one request.
    assert.equal(await c.command("g3", "GETMETADATA (MAXSIZE 100 DEPTH infinity) Depth (/SHARED /Private/A/B)"), '* METADATA "Depth" (/private/a/b "2" /private/a/b/c "3")\r\ng3 OK [METADATA LONGENTRIES 300] GETMETADATA completed; some values were larger than MAXSIZE\r\n');
    const all = await c.command("g4", "GETMETADATA (DEPTH infinity) Depth /shared");
    assert.ok(all.includes(`/shared/comment "${big}"`), all);
    // A value with NUL comes back as literal8.
    c.send("s2 SETMETADATA Depth (/private/bin ~{3+}\r\na\0b)\r\n");
    await c.until((t) => /s2 (OK|NO|BAD)/.test(t));
    assert.match(c.take(), /s2 OK/);
    assert.equal(await c.command("g5", "GETMETADATA Depth /private/bin"), '* METADATA "Depth" (/private/bin ~{3}\r\na\0b)\r\ng5 OK GETMETADATA completed\r\n');
    // A mailbox with special use shows it as /private/specialuse, read only.
    assert.equal(await c.command("g6", "GETMETADATA Sent /private/specialuse"), '* METADATA "Sent" (/private/specialuse "\\\\Sent")\r\ng6 OK GETMETADATA completed\r\n');
    assert.match(await c.command("s3", 'SETMETADATA Sent (/private/specialuse "\\\\Trash")'), /s3 NO \[NOPERM\]/);
    c.close();
  });

  it("SETMETADATA: NIL removes, all or none, MAXSIZE and TOOMANY, bad names and mailboxes", async () => {
    const c = await login("alice");
    assert.match(await c.command("a1", "CREATE Limits"), /a1 OK/);
    assert.match(await c.command("s1", 'SETMETADATA Limits (/private/one "1" /private/two "2")'), /s1 OK/);
    assert.match(await c.command("s2", "SETMETADATA Limits (/private/one NIL)"), /s2 OK/);
    assert.equal(await c.command("g1", "GETMETADATA (DEPTH 1) Limits /private"), '* METADATA "Limits" (/private/two "2")\r\ng1 OK GETMETADATA completed\r\n');
    const tooBig = "y".repeat(2049);
    assert.match(await c.command("s3", `SETMETADATA Limits (/private/big {${tooBig.length}+}\r\n${tooBig})`), /s3 NO \[METADATA MAXSIZE 2048\]/);
    // Five entries at most: a write of four more fails as a whole.
    assert.match(await c.command("s4", 'SETMETADATA Limits (/private/3 "3" /private/4 "4" /private/5 "5" /private/6 "6" /private/7 "7")'), /s4 NO \[METADATA TOOMANY\]/);
    assert.equal(await c.command("g2", "GETMETADATA (DEPTH 1) Limits /private"), '* METADATA "Limits" (/private/two "2")\r\ng2 OK GETMETADATA completed\r\n');
    assert.match(await c.command("s5", 'SETMETADATA Limits (/private/3 "3" /private/4 "4" /private/5 "5" /private/6 "6")'), /s5 OK/);
    assert.match(await c.command("s6", 'SETMETADATA Limits (/private/* "x")'), /s6 BAD/);
    assert.match(await c.command("s7", 'SETMETADATA Limits (/other/x "x")'), /s7 BAD/);
    assert.match(await c.command("s8", 'SETMETADATA Limits (/private "x")'), /s8 BAD/);
    assert.match(await c.command("s9", 'SETMETADATA Limits (/private/a// "x")'), /s9 BAD/);
    assert.match(await c.command("s10", 'SETMETADATA Nowhere (/private/a "x")'), /s10 NO \[NONEXISTENT\]/);
    assert.match(await c.command("s11", "GETMETADATA (DEPTH 2) Limits /private"), /s11 BAD/);
    assert.match(await c.command("s12", "GETMETADATA (FOO 1) Limits /private"), /s12 BAD/);
    assert.match(await c.command("s13", "SETMETADATA Limits ()"), /s13 BAD/);
    c.close();
  });

  it("entries follow RENAME, die with DELETE; shared entries are shared, private ones not", async () => {
    const c = await login("alice");
    assert.match(await c.command("a1", "CREATE Old"), /a1 OK/);
    assert.match(await c.command("s1", 'SETMETADATA Old (/shared/comment "team folder" /private/comment "mine")'), /s1 OK/);
    assert.match(await c.command("r1", "RENAME Old New/Name"), /r1 OK/);
    assert.equal(await c.command("g1", "GETMETADATA New/Name (/shared/comment /private/comment)"), '* METADATA "New/Name" (/private/comment "mine" /shared/comment "team folder")\r\ng1 OK GETMETADATA completed\r\n');
    assert.match(await c.command("g2", "GETMETADATA Old /shared/comment"), /g2 NO \[NONEXISTENT\]/);
    assert.match(await c.command("d1", "DELETE New/Name"), /d1 OK/);
    assert.match(await c.command("a2", "CREATE New/Name"), /a2 OK/);
    assert.equal(await c.command("g3", "GETMETADATA (DEPTH infinity) New/Name (/shared /private)"), "g3 OK GETMETADATA completed\r\n");
    c.close();
  });

  it("a metadata flood stays within the account's size", async () => {
    const c = await login("bob");
    const value = "z".repeat(2000);
    let refused = 0;
    for (let i = 0; i < 12; i++) {
      const reply = await c.command(`f${i}`, `SETMETADATA "" (/private/flood/${i} {${value.length}+}\r\n${value})`);
      if (/NO \[METADATA TOOMANY\]/.test(reply)) refused++;
      else assert.match(reply, /OK/);
    }
    // 5 server entries at most, and 16 KiB: the sixth is refused.
    assert.equal(refused, 7);
    c.close();
  });

  it("python imaplib sets and reads entries", async () => {
    const out = await runPython(
      `
import imaplib, sys
imaplib.Commands["SETMETADATA"] = ("AUTH", "SELECTED")
imaplib.Commands["GETMETADATA"] = ("AUTH", "SELECTED")
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("alice@example.org", "alice-pass")
assert "METADATA" in m.capabilities, m.capabilities
m.create("PyMeta")
typ, data = m._simple_command("SETMETADATA", "PyMeta", '(/private/comment "from python")')
print(typ)
typ, data = m._simple_command("GETMETADATA", "PyMeta", "/private/comment")
typ, data = m._untagged_response(typ, data, "METADATA")
print(typ, data[0].decode())
m.logout()
`,
      [String(h.ports.imap)],
    );
    assert.equal(out, 'OK\nOK "PyMeta" (/private/comment "from python")\n');
  });
});
