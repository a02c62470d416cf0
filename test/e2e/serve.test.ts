// `mailroom serve` as a whole process: start on a scratch data dir, banner, a real delivery over
// SMTP, certificate reload on SIGHUP, graceful stop on SIGTERM, and a restart that keeps state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { makeScratch, runMailroom, startServeProcess } from "../harness/mailroom-process.js";

const CONFIG = `
[server]
hostname = "mx.example.org"
[auth]
argon2_memory_kib = 1024
argon2_time_cost = 1
[[listeners]]
protocol = "smtp"
address = "127.0.0.1"
port = 0
[[listeners]]
protocol = "imap"
address = "127.0.0.1"
port = 0
[[listeners]]
protocol = "submission"
address = "127.0.0.1"
port = 0
tls = "none"
`;

function portOf(banner: string, protocol: string): number {
  const match = new RegExp(`^\\s+${protocol}\\s+127\\.0\\.0\\.1:(\\d+)`, "m").exec(banner);
  assert.ok(match, `no ${protocol} listener in the banner:\n${banner}`);
  return Number(match[1]);
}

/** A minimal SMTP client: sends each line after the previous reply, returns every reply. */
async function smtpConversation(port: number, lines: string[]): Promise<string[]> {
  const socket = connect(port, "127.0.0.1");
  const replies: string[] = [];
  let buffer = "";
  let waiting: (() => void) | null = null;
  socket.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    // A complete reply ends with a line whose code is followed by a space.
    const match = /(^|\r\n)(\d{3}) [^\r\n]*\r\n$/.exec(buffer);
    if (match) {
      replies.push(buffer);
      buffer = "";
      waiting?.();
    }
  });
  const nextReply = () => new Promise<void>((resolve) => (waiting = resolve));
  await nextReply();
  for (const line of lines) {
    socket.write(line + "\r\n");
    await nextReply();
  }
  socket.end();
  return replies;
}

test("serve: banner, SMTP delivery, SIGHUP reload, SIGTERM stop, restart keeps state", async () => {
  const s = await makeScratch(CONFIG);
  try {
    assert.equal((await runMailroom(["domain", "add", "example.org"], { env: s.env })).code, 0);
    assert.equal((await runMailroom(["user", "add", "alice@example.org"], { env: s.env, input: "a long password\n" })).code, 0);

    const server = await startServeProcess(s.env);
    const certFile = join(s.dataDir, "tls", "selfsigned.crt");
    let firstCert: string;
    try {
      assert.match(server.banner, /Mailroom is running as mx\.example\.org/);
      assert.match(server.banner, /imap\s+127\.0\.0\.1:\d+\s+IMAP, STARTTLS/, "the imap listener is served since the IMAP engine is wired");
      assert.match(server.banner, new RegExp(`data directory\\s+${s.dataDir.replace(/[/.]/g, "\\$&")}`));
      assert.match(server.banner, /self-signed/);
      const keyMode = (await stat(join(s.dataDir, "tls", "selfsigned.key"))).mode & 0o777;
      assert.equal(keyMode & 0o077, 0, "the generated private key is readable by its owner only");
      firstCert = await readFile(certFile, "utf8");

      const port = portOf(server.banner, "smtp");
      const replies = await smtpConversation(port, [
        "EHLO client.example",
        "MAIL FROM:<sender@elsewhere.example>",
        "RCPT TO:<alice@example.org>",
        "DATA",
        "From: sender@elsewhere.example\r\nTo: alice@example.org\r\nSubject: hello\r\n\r\nHi Alice.\r\n.",
        "QUIT",
      ]);
      assert.match(replies[0]!, /^220 /);
      assert.match(replies[1]!, /STARTTLS/);
      assert.match(replies[5]!, /^250 2\.\d\.\d/, replies.join(""));

      // tls = "none": no STARTTLS on offer, and so no AUTH either (no passwords in the clear).
      const plain = await smtpConversation(portOf(server.banner, "submission"), ["EHLO client.example", "QUIT"]);
      assert.doesNotMatch(plain[1]!, /STARTTLS|AUTH/);

      server.child.kill("SIGHUP");
      await waitFor(() => /"event":"tls\.reloaded"/.test(server.logs()), "tls.reloaded in the log");
    } finally {
      const code = await server.stop("SIGTERM");
      assert.equal(code, 0, server.logs());
    }
    assert.match(server.logs(), /"event":"server\.stopped"/);
    assert.ok(!server.logs().includes("a long password"), "no password in the logs");

    const list = await runMailroom(["user", "list"], { env: s.env });
    assert.match(list.stdout, /alice@example\.org\s+used [1-9]\d* B/, "the delivered message counts against the account");

    const again = await startServeProcess(s.env);
    try {
      assert.match(again.banner, /Domains: example\.org/);
    } finally {
      assert.equal(await again.stop(), 0);
    }
    assert.equal(await readFile(certFile, "utf8"), firstCert, "the self-signed certificate is kept across starts");
  } finally {
    await s.cleanup();
  }
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
