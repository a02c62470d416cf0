// A MIME bomb among ordinary mail, with the whole `mailroom serve` process: one 20,000-part
// message (about 850 KB) delivered over SMTP among 163 ordinary ones, then `FETCH 1:*
// BODYSTRUCTURE` over python imaplib, timed, with the server's peak RSS during the FETCH read from
// /proc. The bomb is stored (never refused), its structure stops at limits.mime_max_parts with the
// rest as one opaque leaf (as Dovecot does), and answering the FETCH stays cheap.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { listenerPort, makeScratch, runMailroom, serveConfig, startServeProcess } from "../harness/mailroom-process.js";

const CONFIG = serveConfig({ plaintextAuthOnLoopback: true, listeners: [{ protocol: "smtp" }, { protocol: "imap", tls: "none" }] });

const PASSWORD = "a long password";
const MESSAGES = 164;
const BOMB_AT = 82;
/** 200 multiparts of 100 parts each: 20,201 parts with the root and the outer multipart's children. */
const OUTER = 200;
const INNER = 100;

function bomb(): string {
  const lines = ["From: bomb@elsewhere.example", "To: alice@example.org", "Subject: many parts", "Message-ID: <bomb@load.example>", "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="outer"', ""];
  for (let o = 0; o < OUTER; o++) {
    lines.push("--outer", `Content-Type: multipart/mixed; boundary="in${o}"`, "");
    for (let i = 0; i < INNER; i++) lines.push(`--in${o}`, "Content-Type: text/plain", "", `${o}.${i}`);
    lines.push(`--in${o}--`);
  }
  lines.push("--outer--", "");
  return lines.join("\r\n");
}

const PYTHON_DELIVER = String.raw`
import smtplib, sys, threading
port, bomb_file, total, bomb_at = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
bomb = open(bomb_file, "rb").read()
def ordinary(i):
    return ("From: sender%d@elsewhere.example\r\nTo: alice@example.org\r\nSubject: ordinary %d\r\n"
            "Message-ID: <m%d@load.example>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello %d\r\n"
            "--b\r\nContent-Type: text/html\r\n\r\n<p>hello %d</p>\r\n--b--\r\n" % (i, i, i, i, i)).encode()
def send(indexes):
    s = smtplib.SMTP("127.0.0.1", port, timeout=60)
    s.ehlo("py.example")
    for i in indexes:
        s.sendmail("load@elsewhere.example", ["alice@example.org"], bomb if i == bomb_at else ordinary(i))
    s.quit()
# The bomb first, alone, so that it has its place in the middle of the mailbox.
send(range(0, bomb_at))
send([bomb_at])
threads = [threading.Thread(target=send, args=(range(bomb_at + 1 + k, total, 4),)) for k in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
print("delivered", flush=True)
`;

const PYTHON_FETCH = String.raw`
import imaplib, json, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
def status(field):
    for line in open("/proc/%s/status" % pid):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
m = imaplib.IMAP4("127.0.0.1", port)
m.login("alice@example.org", "${PASSWORD}")
typ, data = m.select("INBOX", readonly=True)
count = int(data[0])
# Peak RSS from here on: writing 5 to clear_refs resets VmHWM (proc(5)).
open("/proc/%s/clear_refs" % pid, "w").write("5")
before = status("VmRSS")
started = time.monotonic()
typ, data = m.fetch("1:*", "(BODYSTRUCTURE)")
elapsed = time.monotonic() - started
peak = status("VmHWM")
responses = [item if isinstance(item, bytes) else b"".join(x for x in item if isinstance(x, bytes)) for item in data]
bomb = max(responses, key=len)
print(json.dumps({"status": typ, "count": count, "responses": len([r for r in responses if b"BODYSTRUCTURE" in r]),
    "seconds": elapsed, "rssBefore": before, "peak": peak,
    "bombBytes": len(bomb), "bombLeaves": bomb.count(b'"TEXT" "PLAIN"'), "bytes": sum(len(r) for r in responses)}), flush=True)
m.logout()
`;

function python(script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("python3", ["-c", script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`python exited with ${code}: ${stderr}`))));
  });
}

interface FetchFigures {
  status: string;
  count: number;
  responses: number;
  seconds: number;
  rssBefore: number;
  peak: number;
  bombBytes: number;
  bombLeaves: number;
  bytes: number;
}

test("a 20,000-part MIME bomb among 164 messages: stored, and FETCH 1:* BODYSTRUCTURE stays fast and small", { timeout: 180_000 }, async (t) => {
  const s = await makeScratch(CONFIG);
  try {
    assert.equal((await runMailroom(["--init", "domain", "add", "example.org"], { env: s.env })).code, 0);
    assert.equal((await runMailroom(["user", "add", "alice@example.org"], { env: s.env, input: `${PASSWORD}\n` })).code, 0);
    const bombFile = join(s.dir, "bomb.eml");
    const bombBytes = bomb();
    await writeFile(bombFile, bombBytes);
    const server = await startServeProcess(s.env);
    try {
      const smtp = listenerPort(server.banner, "smtp");
      const imap = listenerPort(server.banner, "imap");
      assert.match(await python(PYTHON_DELIVER, [String(smtp), bombFile, String(MESSAGES), String(BOMB_AT)]), /delivered/, "the bomb is accepted, not refused");
      // Twice: the first FETCH may meet cold caches; the second shows the steady cost.
      const runs: FetchFigures[] = [];
      for (const run of [1, 2]) {
        const figures = JSON.parse(await python(PYTHON_FETCH, [String(imap), String(server.child.pid)])) as FetchFigures;
        runs.push(figures);
        t.diagnostic(
          `run ${run}: FETCH 1:${figures.count} BODYSTRUCTURE ${figures.seconds.toFixed(2)} s, ${(figures.bytes / 1024).toFixed(0)} KB of responses, ` +
            `bomb ${(figures.bombBytes / 1024).toFixed(0)} KB with ${figures.bombLeaves} text leaves, peak RSS ${(figures.peak / 2 ** 20).toFixed(0)} MB (+${((figures.peak - figures.rssBefore) / 2 ** 20).toFixed(0)} MB)`,
        );
      }
      for (const figures of runs) {
        assert.equal(figures.status, "OK");
        assert.equal(figures.count, MESSAGES);
        assert.equal(figures.responses, MESSAGES);
        // limits.mime_max_parts (default 1000): the tree stops there; the rest is one leaf.
        assert.ok(figures.bombLeaves <= 1000, `${figures.bombLeaves} leaves in the bomb's BODYSTRUCTURE`);
        assert.ok(figures.bombLeaves >= 900, `the parts before the limit are all there: ${figures.bombLeaves}`);
        assert.ok(figures.bombBytes < 128 * 1024, `the bomb's BODYSTRUCTURE is ${figures.bombBytes} octets`);
        assert.ok(figures.seconds < 1, `FETCH 1:* BODYSTRUCTURE took ${figures.seconds.toFixed(2)} s`);
        const growthMb = (figures.peak - figures.rssBefore) / 2 ** 20;
        assert.ok(growthMb < 16, `the server's RSS grew by ${growthMb.toFixed(0)} MB during the FETCH`);
      }
    } finally {
      assert.equal(await server.stop(), 0, server.logs());
    }
  } finally {
    await s.cleanup();
  }
});
