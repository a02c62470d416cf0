// Real IMAP clients against the in-process server on a real SQLite store: python imaplib over
// plain IMAP (loopback login allowed) and imapflow with STARTTLS and over implicit TLS.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { ImapFlow } from "imapflow";
import { deliverTo, startImapHarness, type ImapHarness } from "../harness/imap-harness.js";

function python(script: string, port: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("python3", ["-c", script, String(port)], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const IMAPLIB_SESSION = String.raw`
import imaplib, sys, json
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
out = {}
out["login"] = M.login("alice@example.org", "alice-pass")[0]
typ, data = M.select("INBOX")
out["exists"] = int(data[0])
out["fetch"] = [x.decode() if isinstance(x, bytes) else x[0].decode() for x in M.fetch("1:*", "(UID FLAGS)")[1]]
out["store"] = M.store("1", "+FLAGS", "(\\Flagged)")[1][0].decode()
out["create"] = M.create("Archive/2024")[0]
out["append"] = M.append("Archive/2024", "(\\Seen)", None, b"Subject: kept\r\n\r\nbody\r\n")[1][0].decode()
out["copy"] = M.copy("1:2", "Archive/2024")[1][0].decode()
out["move"] = M.uid("MOVE", "1", "Trash")[0]
out["after_move"] = M.search(None, "ALL")[1][0].decode()
out["list"] = sorted(x.decode() for x in M.list('""', "Archive*")[1])
out["status"] = M.status("Archive/2024", "(MESSAGES UIDNEXT UNSEEN)")[1][0].decode()
out["delete_parent"] = M.delete("Archive")[0]
out["rename"] = M.rename("Archive/2024", "Kept")[0]
out["logout"] = M.logout()[0]
print(json.dumps(out))
`;

describe("IMAP with real clients", () => {
  let harness: ImapHarness;
  before(async () => {
    harness = await startImapHarness();
    await deliverTo(harness, harness.accounts.alice, "first");
    await deliverTo(harness, harness.accounts.alice, "second");
  });
  after(async () => harness.stop());

  it("python imaplib: login, select, fetch, store, create, append, copy, move, list, status, delete, rename", async () => {
    const { code, stdout, stderr } = await python(IMAPLIB_SESSION, harness.ports.imap);
    assert.equal(code, 0, stderr);
    const out = JSON.parse(stdout) as Record<string, unknown>;
    assert.equal(out.login, "OK");
    assert.equal(out.exists, 2);
    // RFC 3501 §2.3.2: imaplib is a rev1 client and this session is the first to select INBOX.
    assert.deepEqual(out.fetch, ["1 (UID 1 FLAGS (\\Recent))", "2 (UID 2 FLAGS (\\Recent))"]);
    assert.equal(out.store, "1 (UID 1 FLAGS (\\Flagged \\Recent))");
    assert.equal(out.create, "OK");
    assert.match(out.append as string, /^\[APPENDUID \d+ 1\] APPEND completed$/);
    assert.match(out.copy as string, /^\[COPYUID \d+ 1:2 2:3\] COPY completed$/);
    assert.equal(out.move, "OK");
    assert.equal(out.after_move, "1");
    assert.deepEqual(out.list, ['(\\HasChildren \\Archive) "/" "Archive"', '(\\HasNoChildren) "/" "Archive/2024"']);
    assert.equal(out.status, '"Archive/2024" (MESSAGES 3 UIDNEXT 4 UNSEEN 2)');
    // The store refuses deleting a mailbox with children (NO [HASCHILDREN]); imaplib reports NO.
    assert.equal(out.delete_parent, "NO");
    assert.equal(out.rename, "OK");
    assert.equal(out.logout, "BYE");
    const trash = await harness.temp.store.getMailbox(harness.accounts.alice.id, "Trash");
    assert.equal((await harness.temp.store.listMessages(trash!.id)).length, 1);
  });

  for (const secure of [false, true]) {
    it(`imapflow over ${secure ? "implicit TLS (993)" : "STARTTLS (143)"}: mailbox ops, flags, append, move, expunge`, async () => {
      const client = new ImapFlow({ host: "127.0.0.1", port: secure ? harness.ports.imaps : harness.ports.imap, secure, auth: { user: "bob@example.org", pass: "bob-pass" }, logger: false, tls: { rejectUnauthorized: false } });
      await client.connect();
      try {
        // On 143 imapflow upgrades with STARTTLS because it is advertised.
        assert.equal(client.secureConnection, true);
        const name = secure ? "Flow993" : "Flow143";
        await client.mailboxCreate(name);
        const appended = await client.append(name, Buffer.from("Subject: flow\r\n\r\nhello\r\n"), ["\\Seen"]);
        assert.ok(appended !== false && typeof appended.uid === "number");
        const lock = await client.getMailboxLock(name);
        try {
          assert.equal((client.mailbox as { exists: number }).exists, 1);
          await client.messageFlagsAdd("1:*", ["\\Deleted"], { uid: true });
          await client.messageDelete("1:*", { uid: true });
          assert.equal((client.mailbox as { exists: number }).exists, 0);
        } finally {
          lock.release();
        }
        const list = await client.list();
        assert.ok(list.some((m) => m.path === name));
        const status = await client.status(name, { messages: true, uidNext: true });
        assert.ok(status !== false);
        assert.deepEqual([status.messages, status.uidNext], [0, 2]);
        await client.mailboxDelete(name);
      } finally {
        await client.logout();
      }
    });
  }
});
