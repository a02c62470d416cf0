// RFC 9590 LIST-METADATA over a real socket: `LIST ... RETURN (METADATA (entries))` answers each
// listed mailbox's entries (private and shared, the computed /private/specialuse, NIL for absent
// ones, literal8 for a value with NUL) right after its LIST (and STATUS) response; none for a
// \NonExistent name; bad entry names and too many entries are BAD; python3 imaplib.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";
import { runPython } from "../harness/python.js";

describe("IMAP LIST-METADATA (RFC 9590)", () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImapHarness();
  });
  after(() => h.stop());

  async function loggedIn(): Promise<RawImapClient> {
    const client = await RawImapClient.open(h.ports.imap);
    assert.match(await client.command("a0", "LOGIN alice@example.org alice-pass"), /a0 OK/);
    return client;
  }

  it("advertises LIST-METADATA and answers the entries after each LIST response", async () => {
    const client = await loggedIn();
    assert.match(await client.command("c1", "CAPABILITY"), /\bLIST-METADATA\b/);
    await client.command("m1", "CREATE Projects");
    await client.command("m2", "CREATE Projects/Old");
    assert.match(await client.command("m3", 'SETMETADATA Projects (/private/comment "my projects" /shared/comment "for everyone")'), /m3 OK/);
    assert.match(await client.command("m4", 'SETMETADATA INBOX (/private/comment "inbox note")'), /m4 OK/);
    const listed = await client.command("l1", 'LIST "" "*" RETURN (METADATA (/private/comment /shared/comment))');
    assert.match(listed, /\* LIST \([^)]*\) "\/" "INBOX"\r\n\* METADATA "INBOX" \(\/private\/comment "inbox note" \/shared\/comment NIL\)\r\n/);
    assert.match(listed, /\* LIST \([^)]*\) "\/" "Projects"\r\n\* METADATA "Projects" \(\/private\/comment "my projects" \/shared\/comment "for everyone"\)\r\n/);
    assert.match(listed, /\* LIST \([^)]*\) "\/" "Projects\/Old"\r\n\* METADATA "Projects\/Old" \(\/private\/comment NIL \/shared\/comment NIL\)\r\n/);
    assert.match(listed, /l1 OK/);
    // The computed special-use entry, with STATUS too (METADATA after STATUS), case-insensitive names.
    const sent = await client.command("l2", 'LIST "" Sent RETURN (STATUS (MESSAGES) METADATA (/Private/SpecialUse))');
    assert.match(sent, /\* LIST \([^)]*\\Sent[^)]*\) "\/" "Sent"\r\n\* STATUS "Sent" \(MESSAGES 0\)\r\n\* METADATA "Sent" \(\/private\/specialuse "\\\\Sent"\)\r\nl2 OK/);
    client.close();
  });

  it("binary values as literal8; a \\NonExistent name gets no METADATA; bad requests are BAD", async () => {
    const client = await loggedIn();
    client.send("b1 SETMETADATA INBOX (/private/bin ~{3+}\r\na\0b)\r\n");
    await client.until((text) => /b1 (OK|NO|BAD)[^\r\n]*\r\n/.test(text));
    assert.match(client.take(), /b1 OK/);
    const binary = await client.command("b2", 'LIST "" INBOX RETURN (METADATA (/private/bin))');
    assert.match(binary, /\* METADATA "INBOX" \(\/private\/bin ~\{3\}\r\na\0b\)\r\n/);
    await client.command("s1", "SUBSCRIBE Gone");
    const subscribed = await client.command("s2", 'LIST (SUBSCRIBED) "" Gone RETURN (METADATA (/private/comment))');
    assert.match(subscribed, /\* LIST \(\\NonExistent \\Subscribed\) "\/" "Gone"\r\n/);
    assert.doesNotMatch(subscribed, /METADATA/);
    assert.match(await client.command("x1", 'LIST "" * RETURN (METADATA ())'), /x1 BAD/);
    assert.match(await client.command("x2", 'LIST "" * RETURN (METADATA (/other/comment))'), /x2 BAD/);
    assert.match(await client.command("x3", 'LIST "" * RETURN (METADATA (/private/*))'), /x3 BAD/);
    assert.match(await client.command("x4", 'LIST "" * RETURN (METADATA /private/comment)'), /x4 BAD/);
    const many = Array.from({ length: 101 }, (_, i) => `/private/e${i}`).join(" ");
    assert.match(await client.command("x5", `LIST "" * RETURN (METADATA (${many}))`), /x5 BAD/);
    client.close();
  });

  it("python3 imaplib: LIST RETURN (METADATA ...) as Roundcube or a script would send it", async () => {
    const script = `
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("bob@example.org", "bob-pass")
assert "LIST-METADATA" in m.capabilities, m.capabilities
imaplib.Commands["SETMETADATA"] = ("AUTH", "SELECTED")
typ, data = m._simple_command("SETMETADATA", "INBOX", '(/private/color "#ff0000")')
assert typ == "OK", (typ, data)
typ, data = m._simple_command("LIST", '""', '"%"', "RETURN", "(METADATA (/private/color))")
assert typ == "OK", (typ, data)
typ, data = m.response("METADATA")
joined = b" ".join(d if isinstance(d, bytes) else b"".join(d) for d in data)
assert b'"INBOX" (/private/color "#ff0000")' in joined, data
assert b'"Sent" (/private/color NIL)' in joined, data
print("ok")
m.logout()
`;
    assert.equal((await runPython(script, [String(h.ports.imap)])).trim(), "ok");
  });
});
