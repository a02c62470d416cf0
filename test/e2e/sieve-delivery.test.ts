// Sieve at delivery, end to end: a script stored for the account (what ManageSieve and
// `mailroom sieve put` write), messages delivered over SMTP port 25 by swaks, and the result read
// back over IMAP with python's imaplib: the right folder, the right flags, a discarded message
// nowhere, a rejected one refused with the script's reason, and a broken script keeping the mail.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { createMemoryLogger } from "../../src/observability/log.js";
import { createAdmin } from "../../src/server/compose.js";
import { startFullServer } from "../harness/full-server.js";
import { swaks } from "../harness/smtp-clients.js";

function runPython(source: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("python3", ["-c", source, ...args], { timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)));
  });
}

const SCRIPT = `require ["fileinto", "imap4flags", "variables", "mailbox", "reject", "subaddress", "envelope"];
if header :contains "subject" "[lists]" {
  fileinto :create "Lists";
  stop;
}
if address :is "from" "boss@example.net" {
  addflag "\\\\Flagged";
  addflag "urgent";
}
if envelope :detail "to" "receipts" {
  fileinto :create :flags "\\\\Seen" "Receipts";
}
if header :matches "subject" "spam *" { discard; stop; }
if header :is "subject" "go away" { reject "I do not want this"; stop; }
`;

const LIST = `
import imaplib, json, ssl, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.starttls(ssl_context=ssl._create_unverified_context())
m.login("alice@example.org", "correct horse battery")
out = {}
typ, boxes = m.list()
for box in ["INBOX", "Lists", "Receipts"]:
    typ, data = m.select(box, readonly=True)
    if typ != "OK":
        out[box] = None
        continue
    typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])") if int(data[0]) > 0 else ("OK", [])
    items = []
    for part in data:
        if isinstance(part, tuple):
            flags = part[0].decode()
            subject = part[1].decode().strip()
            listed = flags[flags.index("FLAGS (") + 7: flags.index(")", flags.index("FLAGS ("))].split()
            items.append([subject, " ".join(f for f in listed if f != "\\\\Recent")])
    out[box] = items
print(json.dumps(out))
`;

test("sieve files, flags, discards and rejects messages delivered over SMTP, seen over IMAP", async () => {
  const log = createMemoryLogger();
  const full = await startFullServer({ protocols: ["smtp", "imap"], log });
  try {
    const admin = createAdmin(full.server.config, full.server.store);
    await admin.addDomain("example.org");
    await admin.addUser({ address: "alice@example.org", password: "correct horse battery" });
    const alice = await full.server.store.accounts.findAccountByAddress("alice@example.org");
    const sieve = full.server.store.sieve!;
    await sieve.putSieveScript(alice!.id, "main", SCRIPT, 10);
    await sieve.setActiveSieveScript(alice!.id, "main");
    const smtp = full.portOf("smtp");
    const send = (subject: string, from = "someone@example.net", to = "alice@example.org") =>
      swaks(smtp, ["--from", from, "--to", to, "--header", `Subject: ${subject}`, "--header", `From: ${from}`, "--body", "hello"]);
    for (const [subject, from, to] of [
      ["[lists] weekly digest", "list@example.net", "alice@example.org"],
      ["quarterly numbers", "boss@example.net", "alice@example.org"],
      ["your receipt", "shop@example.net", "alice+receipts@example.org"],
      ["spam offer", "x@example.net", "alice@example.org"],
      ["plain note", "friend@example.net", "alice@example.org"],
    ] as const) {
      const result = await send(subject, from, to);
      assert.equal(result.code, 0, `${subject}: ${result.stdout}${result.stderr}`);
    }
    const rejected = await send("go away");
    assert.notEqual(rejected.code, 0);
    assert.match(rejected.stdout, /550 5\.7\.1 I do not want this/);

    const boxes = JSON.parse(await runPython(LIST, [String(full.portOf("imap"))])) as Record<string, [string, string][] | null>;
    assert.deepEqual(boxes["Lists"]?.map(([s]) => s), ["Subject: [lists] weekly digest"]);
    assert.deepEqual(boxes["Receipts"], [["Subject: your receipt", "\\Seen"]]);
    const inbox = boxes["INBOX"]!;
    assert.deepEqual(inbox.map(([s]) => s), ["Subject: quarterly numbers", "Subject: plain note"]);
    assert.deepEqual(inbox[0]![1].split(" ").sort(), ["\\Flagged", "urgent"].sort());
    assert.equal(inbox[1]![1], "");

    // A script that no longer compiles (stored bypassing the check) keeps mail in INBOX and says why.
    await sieve.putSieveScript(alice!.id, "main", 'require "fileinto";\nfileinto "Lists"\n', 10);
    assert.equal((await send("[lists] after breakage")).code, 0);
    const after = JSON.parse(await runPython(LIST, [String(full.portOf("imap"))])) as Record<string, [string, string][] | null>;
    assert.ok(after["INBOX"]!.some(([s]) => s === "Subject: [lists] after breakage"));
    assert.ok(log.records.some((e) => e.event === "sieve.script_invalid" && /line 3:1/.test(String(e["error"] ?? ""))), "the compile error is logged with its position");
  } finally {
    await full.stop();
  }
});
