// RFC 9208 SETQUOTA over a real socket, with [imap] quota_admins = ["alice@example.org"]:
// QUOTASET advertised; the administrator sets STORAGE (KiB) and MESSAGE of another account's root
// (named by its address) and of her own ("User quota"), limits not listed are discarded, `()`
// removes all, STORAGE 0 refuses new mail; the owner sees the new limits and is held to them
// (APPEND NO [OVERQUOTA]); a non-administrator gets NO [NOPERM]; unknown roots, unknown resources,
// MESSAGE 0, bad syntax are refused with nothing changed; python3 imaplib. Without the key QUOTASET
// is not advertised (test/e2e/imap-quota.test.ts).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startImapHarness, type ImapHarness } from "../harness/imap-harness.js";
import { RawImapClient } from "../harness/imap-raw-client.js";
import { runPython } from "../harness/python.js";

describe("IMAP SETQUOTA (RFC 9208 §4.1.3) for quota administrators", () => {
  let h: ImapHarness;
  before(async () => {
    h = await startImapHarness({ store: { quota: { storageBytes: 0, messages: 0, warningPercent: 0 } }, quotaWarningPercent: 0, quotaAdmins: ["alice@example.org"] });
  });
  after(() => h.stop());

  async function loggedIn(user: "alice" | "bob"): Promise<RawImapClient> {
    const client = await RawImapClient.open(h.ports.imap);
    assert.match(await client.command("a0", `LOGIN ${user}@example.org ${user}-pass`), /a0 OK/);
    return client;
  }

  async function append(client: RawImapClient, tag: string, bytes: number): Promise<string> {
    const message = `Subject: s\r\n\r\n${"x".repeat(bytes)}\r\n`;
    client.send(`${tag} APPEND INBOX {${message.length}+}\r\n${message}\r\n`);
    await client.until((text) => new RegExp(`${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`).test(text));
    return client.take();
  }

  it("the administrator sets another account's limits, which hold at once", async () => {
    const admin = await loggedIn("alice");
    assert.match(await admin.command("c1", "CAPABILITY"), /\bQUOTASET\b/);
    const set = await admin.command("q1", 'SETQUOTA "bob@example.org" (STORAGE 4 MESSAGE 2)');
    assert.match(set, /\* QUOTA "bob@example.org" \(STORAGE 0 4 MESSAGE 0 2\)\r\nq1 OK/);
    assert.match(await admin.command("q2", 'GETQUOTA "bob@example.org"'), /\* QUOTA "bob@example.org" \(STORAGE 0 4 MESSAGE 0 2\)/);

    const bob = await loggedIn("bob");
    assert.match(await bob.command("b1", "GETQUOTAROOT INBOX"), /\* QUOTA "User quota" \(STORAGE 0 4 MESSAGE 0 2\)/);
    assert.match(await append(bob, "b2", 100), /b2 OK/);
    assert.match(await append(bob, "b3", 5000), /b3 NO \[OVERQUOTA\]/, "4 KiB");
    assert.match(await append(bob, "b4", 100), /b4 OK/);
    assert.match(await append(bob, "b5", 10), /b5 NO \[OVERQUOTA\]/, "2 messages");

    // Limits not listed are discarded: MESSAGE only.
    assert.match(await admin.command("q3", 'SETQUOTA "bob@example.org" (MESSAGE 10)'), /\* QUOTA "bob@example.org" \(MESSAGE 2 10\)\r\nq3 OK/);
    assert.match(await append(bob, "b6", 5000), /b6 OK/);
    // STORAGE 0 refuses every new message.
    assert.match(await admin.command("q4", 'SETQUOTA "bob@example.org" (STORAGE 0)'), /\* QUOTA "bob@example.org" \(STORAGE \d+ 0\)\r\nq4 OK/);
    assert.match(await append(bob, "b7", 1), /b7 NO \[OVERQUOTA\]/);
    // () removes every limit: no quota root any more.
    assert.match(await admin.command("q5", 'SETQUOTA "bob@example.org" ()'), /^q5 OK/);
    assert.match(await bob.command("b8", "GETQUOTAROOT INBOX"), /\* QUOTAROOT "INBOX"\r\nb8 OK/);
    assert.match(await append(bob, "b9", 1), /b9 OK/);
    // Her own root by its usual name.
    assert.match(await admin.command("q6", 'SETQUOTA "User quota" (STORAGE 1048576)'), /\* QUOTA "User quota" \(STORAGE 0 1048576\)/);
    admin.close();
    bob.close();
  });

  it("refuses non-administrators, unknown roots and resources, MESSAGE 0 and bad syntax", async () => {
    const bob = await loggedIn("bob");
    assert.match(await bob.command("n1", 'SETQUOTA "User quota" (STORAGE 100000)'), /n1 NO \[NOPERM\]/);
    assert.match(await bob.command("n2", 'SETQUOTA "alice@example.org" (STORAGE 1)'), /n2 NO \[NOPERM\]/);
    assert.match(await bob.command("n3", 'GETQUOTA "alice@example.org"'), /n3 NO \[NONEXISTENT\]/, "others' roots are not visible");
    bob.close();
    const admin = await loggedIn("alice");
    await admin.command("p0", 'SETQUOTA "bob@example.org" (STORAGE 64)');
    assert.match(await admin.command("p1", 'SETQUOTA "nobody@example.org" (STORAGE 1)'), /p1 NO \[NONEXISTENT\]/);
    assert.match(await admin.command("p2", 'SETQUOTA "Other root" (STORAGE 1)'), /p2 NO \[NONEXISTENT\]/);
    assert.match(await admin.command("p3", 'SETQUOTA "bob@example.org" (STORAGE 1 LEVEL 3)'), /p3 NO unsupported quota resource LEVEL/);
    assert.match(await admin.command("p4", 'SETQUOTA "bob@example.org" (MESSAGE 0)'), /p4 NO \[CANNOT\]/);
    assert.match(await admin.command("p5", 'SETQUOTA "bob@example.org" (STORAGE many)'), /p5 BAD/);
    assert.match(await admin.command("p6", 'SETQUOTA "bob@example.org" (STORAGE 1 STORAGE 2)'), /p6 BAD/);
    assert.match(await admin.command("p7", 'SETQUOTA "bob@example.org" STORAGE 1'), /p7 BAD/);
    assert.match(await admin.command("p8", 'SETQUOTA "bob@example.org" (STORAGE 99999999999999999999)'), /p8 BAD/);
    assert.match(await admin.command("p9", 'GETQUOTA "bob@example.org"'), /\(STORAGE \d+ 64\)/, "nothing changed by the refusals");
    admin.close();
  });

  it("python3 imaplib: setquota / getquota as an administrator", async () => {
    const script = `
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("alice@example.org", "alice-pass")
assert "QUOTASET" in m.capabilities, m.capabilities
typ, data = m.setquota('"bob@example.org"', "(STORAGE 2048 MESSAGE 500)")
assert typ == "OK", (typ, data)
assert b'(STORAGE' in data[0] and b'2048' in data[0] and b'MESSAGE' in data[0] and b'500)' in data[0], data
typ, data = m.getquota('"bob@example.org"')
assert typ == "OK" and b"2048" in data[0], (typ, data)
b = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
b.login("bob@example.org", "bob-pass")
typ, data = b.setquota('"User quota"', "(STORAGE 1)")
assert typ == "NO" and b"NOPERM" in data[0], (typ, data)
print("ok")
m.logout(); b.logout()
`;
    assert.equal((await runPython(script, [String(h.ports.imap)])).trim(), "ok");
  });
});
