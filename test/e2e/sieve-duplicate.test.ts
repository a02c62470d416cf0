// RFC 7352 duplicate end to end: the same message (same Message-ID) delivered twice over SMTP by
// swaks is filed as new the first time and as a duplicate the second, across separate SMTP
// sessions, because the IDs live in the store (migration 14); another account has its own memory,
// and a message without a Message-ID is never a duplicate. Seen over IMAP with python's imaplib.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { createAdmin } from "../../src/server/compose.js";
import { startFullServer } from "../harness/full-server.js";
import { swaks } from "../harness/smtp-clients.js";

function runPython(source: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("python3", ["-c", source, ...args], { timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)));
  });
}

const SCRIPT = `require ["duplicate", "fileinto", "mailbox"];
if duplicate { fileinto :create "Duplicates"; }
`;

const COUNTS = `
import imaplib, json, ssl, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.starttls(ssl_context=ssl._create_unverified_context())
m.login(sys.argv[2], "correct horse battery")
out = {}
for box in ["INBOX", "Duplicates"]:
    typ, data = m.select(box, readonly=True)
    out[box] = int(data[0]) if typ == "OK" else None
print(json.dumps(out))
`;

test("duplicate: the second delivery of a Message-ID is filed as a duplicate, per account, across sessions", async () => {
  const full = await startFullServer({ protocols: ["smtp", "imap"] });
  try {
    const admin = createAdmin(full.server.config, full.server.store);
    await admin.addDomain("example.org");
    const sieve = full.server.store.sieve!;
    for (const user of ["alice", "bob"]) {
      await admin.addUser({ address: `${user}@example.org`, password: "correct horse battery" });
      const account = await full.server.store.accounts.findAccountByAddress(`${user}@example.org`);
      await sieve.putSieveScript(account!.id, "main", SCRIPT, 10);
      await sieve.setActiveSieveScript(account!.id, "main");
    }
    const smtp = full.portOf("smtp");
    // "Message-Id", spelled as swaks spells its own, so --header replaces swaks's unique one.
    const send = async (to: string, extra: string[]) => {
      const result = await swaks(smtp, ["--from", "carol@example.net", "--to", to, "--header", "Subject: report", ...extra, "--body", "hello"]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
    };
    await send("alice@example.org", ["--header", "Message-Id: <same-1@example.net>"]);
    await send("alice@example.org", ["--header", "Message-Id: <same-1@example.net>"]);
    await send("alice@example.org", ["--header", "Message-Id: <other-2@example.net>"]);
    await send("bob@example.org", ["--header", "Message-Id: <same-1@example.net>"]);
    const counts = async (user: string) => JSON.parse(await runPython(COUNTS, [String(full.portOf("imap")), `${user}@example.org`])) as Record<string, number | null>;
    assert.deepEqual(await counts("alice"), { INBOX: 2, Duplicates: 1 });
    assert.deepEqual(await counts("bob"), { INBOX: 1, Duplicates: null }, "bob's memory is his own");
  } finally {
    await full.stop();
  }
});
