// The load and the comparison of the backup tests (test/e2e/backup-restore.test.ts for SQLite,
// test/e2e/backup-postgresql-load.test.ts for PostgreSQL): python smtplib/imaplib clients that
// print each acknowledged message, a snapshot of both users' INBOX over IMAP, and the check that
// a restore holds every message acknowledged before its backup started.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";

export const PASSWORD = "a long password";

/** Two SMTP senders and two APPENDing clients, each printing one JSON line per acknowledged message, until the stop file appears. */
export const LOAD = `
import imaplib, json, os, random, re, smtplib, sys, threading, time
smtp_port, imap_port, stop_file, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
lock = threading.Lock()
def emit(record):
    with lock:
        print(json.dumps(record), flush=True)
def body(kind, client, i):
    filler = "".join("%s %d line %d %s\\r\\n" % (kind, client, k, "x" * (i % 60)) for k in range(10 + (i * 7) % 90))
    return ("From: load@elsewhere.example\\r\\nTo: someone@example.org\\r\\nSubject: %s %d %d\\r\\nMessage-ID: <%s-%d-%d@load.example>\\r\\n\\r\\n%s" % (kind, client, i, kind, client, i, filler)).encode()
def smtp_loop(client):
    s = smtplib.SMTP("127.0.0.1", smtp_port, timeout=60)
    s.ehlo("load.example")
    i = 0
    while not os.path.exists(stop_file):
        s.sendmail("load@elsewhere.example", ["alice@example.org"], body("smtp", client, i))
        emit({"kind": "smtp", "mid": "smtp-%d-%d@load.example" % (client, i), "at": time.time()})
        i += 1
    s.quit()
def append_loop(client):
    m = imaplib.IMAP4("127.0.0.1", imap_port, timeout=60)
    m.login("bob@example.org", password)
    i = 0
    while not os.path.exists(stop_file):
        flags = [r"(\\Seen)", r"(\\Flagged $Label1)", None][i % 3]
        typ, data = m.append("INBOX", flags, None, body("append", client, i))
        assert typ == "OK", data
        match = re.search(rb"APPENDUID (\\d+) (\\d+)", data[0])
        emit({"kind": "append", "uidvalidity": int(match.group(1)), "uid": int(match.group(2)), "at": time.time()})
        i += 1
    m.logout()
threads = [threading.Thread(target=smtp_loop, args=(c,)) for c in range(2)] + [threading.Thread(target=append_loop, args=(c,)) for c in range(2)]
for t in threads: t.start()
for t in threads: t.join()
`;

/** Every message of both users' INBOX: UIDVALIDITY, and per UID its flags, Message-ID and SHA-256. */
export const SNAPSHOT = `
import hashlib, imaplib, json, re, sys
out = {}
for user in ["alice@example.org", "bob@example.org"]:
    m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
    m.login(user, sys.argv[2])
    typ, data = m.select("INBOX", readonly=True)
    uidvalidity = int(m.response("UIDVALIDITY")[1][0])
    messages = {}
    if int(data[0]) > 0:
        typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
        for part in data:
            if not isinstance(part, tuple): continue
            head = part[0].decode()
            uid = re.search(r"UID (\\d+)", head).group(1)
            flags = sorted(re.search(r"FLAGS \\(([^)]*)\\)", head).group(1).split())
            mid = re.search(rb"Message-ID: <([^>]+)>", part[1]).group(1).decode()
            messages[uid] = {"flags": flags, "mid": mid, "sha256": hashlib.sha256(part[1]).hexdigest()}
    out[user] = {"uidvalidity": uidvalidity, "messages": messages}
    m.logout()
print(json.dumps(out))
`;

export type Snapshot = Record<string, { uidvalidity: number; messages: Record<string, { flags: string[]; mid: string; sha256: string }> }>;
export type Ack = { kind: "smtp"; mid: string; at: number } | { kind: "append"; uidvalidity: number; uid: number; at: number };

export function startLoad(smtpPort: number, imapPort: number, stopFile: string) {
  const child = spawn("python3", ["-c", LOAD, String(smtpPort), String(imapPort), stopFile, PASSWORD], { stdio: ["ignore", "pipe", "pipe"] });
  const acks: Ack[] = [];
  let rest = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) if (line) acks.push(JSON.parse(line) as Ack);
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  return {
    acks,
    async waitFor(count: number) {
      const deadline = Date.now() + 120_000;
      while (acks.length < count) {
        if (child.exitCode !== null) throw new Error(`the load stopped early: ${stderr}`);
        if (Date.now() > deadline) throw new Error(`only ${acks.length} acknowledged messages: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      await writeFile(stopFile, "");
      const code = await exited;
      assert.equal(code, 0, `load failed: ${stderr}`);
    },
  };
}

/** The messages acknowledged before `before` (epoch ms), as the original server holds them, must be in the restore unchanged. */
export function assertRestoredHas(original: Snapshot, restored: Snapshot, acks: Ack[], before: number, label: string): number {
  let checked = 0;
  for (const user of ["alice@example.org", "bob@example.org"]) {
    assert.equal(restored[user]!.uidvalidity, original[user]!.uidvalidity, `${label}: UIDVALIDITY of ${user}`);
  }
  const byMid = new Map(Object.entries(original["alice@example.org"]!.messages).map(([uid, m]) => [m.mid, uid]));
  for (const ack of acks) {
    if (ack.at * 1000 >= before) continue;
    const [user, uid] = ack.kind === "smtp" ? ["alice@example.org", byMid.get(ack.mid)] : ["bob@example.org", String(ack.uid)];
    assert.ok(uid, `${label}: ${JSON.stringify(ack)} is not on the original server`);
    if (ack.kind === "append") assert.equal(ack.uidvalidity, original[user]!.uidvalidity);
    assert.deepEqual(restored[user]!.messages[uid], original[user]!.messages[uid], `${label}: ${user} UID ${uid} (${JSON.stringify(ack)})`);
    checked++;
  }
  return checked;
}

