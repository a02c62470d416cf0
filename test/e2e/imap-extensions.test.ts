// IMAP extensions checked byte for byte over a real socket: NAMESPACE (RFC 2342), ID (RFC 2971),
// SASL-IR (RFC 4959), UTF8=ACCEPT (RFC 6855) against modified UTF-7 for rev1 clients, and
// imapflow reading the same names.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ImapFlow } from "imapflow";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";

/** What a UTF-8 string looks like through the raw client's latin1 socket decoding. */
const wire = (text: string) => Buffer.from(text, "utf8").toString("latin1");

describe("IMAP extensions over a real socket", () => {
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

  it("NAMESPACE names the personal namespace and the other users' Shared/ one, both with the / delimiter", async () => {
    const client = await loggedIn();
    const reply = await client.command("n1", "NAMESPACE");
    assert.match(reply, /^\* NAMESPACE \(\(""\s"\/"\)\) \(\("Shared\/" "\/"\)\) NIL\r\nn1 OK/);
    client.close();
  });

  it("ID answers with the server's name, before and after login", async () => {
    const client = await RawImapClient.open(h.ports.imap);
    client.take(); // the greeting
    const reply = await client.command("i1", 'ID ("name" "test-client" "version" "1.0")');
    assert.match(reply, /^\* ID \(.*"name" "Mailroom".*\)\r\ni1 OK/);
    assert.match(await client.command("i2", "ID NIL"), /\* ID \(/);
    client.close();
  });

  it("SASL-IR: AUTHENTICATE PLAIN with an initial response logs in without a continuation", async () => {
    const client = await RawImapClient.open(h.ports.imap);
    const caps = await client.command("c1", "CAPABILITY");
    assert.match(caps, /SASL-IR/);
    const response = Buffer.from("\0alice@example.org\0alice-pass").toString("base64");
    const reply = await client.command("s1", `AUTHENTICATE PLAIN ${response}`);
    assert.doesNotMatch(reply, /^\+/m, "no continuation request");
    assert.match(reply, /s1 OK/);
    const wrong = await RawImapClient.open(h.ports.imap);
    assert.match(await wrong.command("s2", `AUTHENTICATE PLAIN ${Buffer.from("\0alice@example.org\0nope").toString("base64")}`), /s2 NO \[AUTHENTICATIONFAILED\]/);
    client.close();
    wrong.close();
  });

  it("UTF8=ACCEPT: UTF-8 names for clients that enable it, modified UTF-7 for rev1 clients", async () => {
    const rev1 = await loggedIn();
    // A rev1 client creates the folder in modified UTF-7 (RFC 3501 §5.1.3).
    assert.match(await rev1.command("u1", 'CREATE "Entw&APw-rfe/Gr&APwA3w-e"'), /u1 OK/);
    assert.match(await rev1.command("u2", 'LIST "" "Entw*"'), /\* LIST \([^)]*\) "\/" "?Entw&APw-rfe"?\r\n/);
    assert.match(await rev1.command("u3", 'CREATE "Gr&APw-&AN8-e"'), /u3 NO \[CANNOT\]/, "adjacent shifts are invalid mUTF-7 (RFC 3501 §5.1.3): refused, not altered");
    assert.match(await rev1.command("u5", 'CREATE "bad&AGE"'), /u5 NO \[CANNOT\]/, "an unterminated shift is refused");

    const utf8 = await loggedIn();
    assert.match(await utf8.command("e1", "ENABLE UTF8=ACCEPT"), /\* ENABLED UTF8=ACCEPT\r\ne1 OK/);
    const listed = await utf8.command("e2", 'LIST "" "Entw*"');
    assert.ok(listed.includes(wire("Entwürfe/Grüße")), listed);
    assert.ok(!listed.includes("&APw-"), "no modified UTF-7 once UTF8=ACCEPT is enabled");
    // A UTF-8 client's name reaches the rev1 client as modified UTF-7: one mailbox, two spellings.
    utf8.send(Buffer.from('e3 CREATE "Reisen/Zürich"\r\n', "utf8"));
    await utf8.until((b) => /e3 OK/.test(b));
    assert.match(await rev1.command("u4", 'LIST "" "Reisen/*"'), /Reisen\/Z&APw-rich/);
    rev1.close();
    utf8.close();
  });

  it("imapflow (which enables UTF8=ACCEPT) sees the same folder names as UTF-8", async () => {
    const client = new ImapFlow({ host: "127.0.0.1", port: h.ports.imap, secure: false, auth: { user: "alice@example.org", pass: "alice-pass" }, tls: { rejectUnauthorized: false }, logger: false });
    await client.connect();
    try {
      const paths = (await client.list()).map((m) => m.path);
      assert.ok(paths.includes("Entwürfe/Grüße"), JSON.stringify(paths));
      assert.ok(paths.includes("Reisen/Zürich"), JSON.stringify(paths));
    } finally {
      await client.logout();
    }
  });
});
