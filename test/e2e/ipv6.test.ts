// IPv6: every protocol over ::1 with python's own clients (smtplib, imaplib, poplib accept IPv6
// literals), plaintext, STARTTLS/STLS and implicit TLS; and the dual-stack default "::", where an
// IPv4 client arrives as ::ffff:a.b.c.d but must be seen, logged and traced as plain IPv4.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { createMemoryLogger } from "../../src/observability/log.js";
import { createAdmin } from "../../src/server/compose.js";
import { startFullServer, type FullServer } from "../harness/full-server.js";

function runPython(source: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("python3", ["-c", source, ...args], { timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)));
  });
}

async function withAccount(full: FullServer): Promise<void> {
  const admin = createAdmin(full.server.config, full.server.store);
  await admin.addDomain("example.org");
  await admin.addUser({ address: "alice@example.org", password: "correct horse battery" });
}

const EVERY_PROTOCOL = `
import imaplib, json, poplib, smtplib, ssl, sys
host = sys.argv[1]
ports = json.loads(sys.argv[2])
ctx = ssl._create_unverified_context()
user, password = "alice@example.org", "correct horse battery"
out = {}
def message(subject, sender):
    return f"From: {sender}\\r\\nTo: {user}\\r\\nSubject: {subject}\\r\\n\\r\\nover IPv6\\r\\n"

s = smtplib.SMTP(host, ports["smtp"], local_hostname="client.example")
out["smtp"] = s.sendmail("x@ext.example", [user], message("smtp plain", "x@ext.example"))
s.quit()
s = smtplib.SMTP(host, ports["smtp"], local_hostname="client.example")
s.starttls(context=ctx)
out["smtp_starttls"] = s.sendmail("x@ext.example", [user], message("smtp starttls", "x@ext.example"))
s.quit()
s = smtplib.SMTP(host, ports["submission"], local_hostname="client.example")
s.starttls(context=ctx)
s.login(user, password)
out["submission"] = s.sendmail(user, [user], message("submission", user))
s.quit()
s = smtplib.SMTP_SSL(host, ports["submissions"], local_hostname="client.example", context=ctx)
s.login(user, password)
out["submissions"] = s.sendmail(user, [user], message("submissions", user))
s.quit()

m = imaplib.IMAP4(host, ports["imap"])
m.starttls(ssl_context=ctx)
m.login(user, password)
m.select("INBOX")
typ, data = m.search(None, "ALL")
numbers = data[0].split()
out["imap_count"] = len(numbers)
typ, fetched = m.fetch(b",".join(numbers), "(BODY.PEEK[HEADER.FIELDS (SUBJECT RECEIVED)])")
out["imap_headers"] = [part[1].decode() for part in fetched if isinstance(part, tuple)]
m.logout()
m = imaplib.IMAP4_SSL(host, ports["imaps"], ssl_context=ctx)
m.login(user, password)
out["imaps_exists"] = int(m.select("INBOX", readonly=True)[1][0])
m.logout()

p = poplib.POP3(host, ports["pop3"])
p.stls(context=ctx)
p.user(user)
p.pass_(password)
out["pop3_count"] = p.stat()[0]
p.quit()
p = poplib.POP3_SSL(host, ports["pop3s"], context=ctx)
p.user(user)
p.pass_(password)
out["pop3s_count"] = p.stat()[0]
p.quit()
print(json.dumps(out))
`;

test("every protocol over ::1 with python's smtplib, imaplib and poplib (plaintext, STARTTLS, implicit TLS)", async () => {
  const full = await startFullServer({ address: "::1" });
  try {
    await withAccount(full);
    const ports = Object.fromEntries(full.server.listeners.bound.map((l) => [l.protocol, l.port]));
    assert.deepEqual(full.server.listeners.bound.map((l) => l.endpoints[0]), full.server.listeners.bound.map((l) => `[::1]:${l.port}`));
    const out = JSON.parse(await runPython(EVERY_PROTOCOL, ["::1", JSON.stringify(ports)])) as Record<string, unknown>;
    for (const key of ["smtp", "smtp_starttls", "submission", "submissions"]) assert.deepEqual(out[key], {}, `${key}: every recipient accepted`);
    assert.equal(out["imap_count"], 4);
    assert.equal(out["imaps_exists"], 4);
    assert.equal(out["pop3_count"], 4);
    assert.equal(out["pop3s_count"], 4);
    const fromPort25 = (out["imap_headers"] as string[]).find((h) => /Subject: smtp plain/.test(h)) ?? "";
    // RFC 5321 §4.1.3: an IPv6 address literal is written [IPv6:...].
    assert.match(fromPort25.replace(/\r\n\s+/g, " "), /Received: from client\.example \(\[IPv6:::1\]\)/);
  } finally {
    await full.stop();
  }
});

test('the "::" default takes IPv4 too, and an IPv4 client is logged and traced as IPv4, never ::ffff:', async () => {
  const log = createMemoryLogger();
  const full = await startFullServer({ address: "::", protocols: ["smtp", "imaps"], log });
  try {
    await withAccount(full);
    const smtp = full.portOf("smtp");
    assert.deepEqual(full.server.listeners.bound.map((l) => l.endpoints), [[`[::]:${smtp}`], [`[::]:${full.portOf("imaps")}`]]);
    const script = `
import imaplib, json, smtplib, ssl, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="v4.example")
s.sendmail("x@ext.example", ["alice@example.org"], "From: x@ext.example\\r\\nSubject: v4\\r\\n\\r\\nhi\\r\\n")
s.quit()
s = smtplib.SMTP("::1", int(sys.argv[1]), local_hostname="v6.example")
s.sendmail("x@ext.example", ["alice@example.org"], "From: x@ext.example\\r\\nSubject: v6\\r\\n\\r\\nhi\\r\\n")
s.quit()
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[2]), ssl_context=ssl._create_unverified_context())
m.login("alice@example.org", "correct horse battery")
m.select("INBOX")
typ, fetched = m.fetch(b"1:*", "(BODY.PEEK[HEADER.FIELDS (RECEIVED)])")
print(json.dumps([part[1].decode() for part in fetched if isinstance(part, tuple)]))
m.logout()
`;
    const received = (JSON.parse(await runPython(script, [String(smtp), String(full.portOf("imaps"))])) as string[]).map((h) => h.replace(/\r\n\s+/g, " "));
    assert.equal(received.length, 2);
    assert.match(received[0]!, /from v4\.example \(\[127\.0\.0\.1\]\)/);
    assert.match(received[1]!, /from v6\.example \(\[IPv6:::1\]\)/);
    const remotes = new Set(log.records.map((r) => r["remote"]).filter((r) => r !== undefined));
    assert.ok(remotes.has("127.0.0.1") && remotes.has("::1"), `remotes logged: ${[...remotes].join(", ")}`);
    assert.ok(![...remotes].some((r) => String(r).includes("ffff")), "no v4-mapped address in the logs");
    assert.ok(!received.join("").includes("ffff"), "no v4-mapped address in Received");
  } finally {
    await full.stop();
  }
});
