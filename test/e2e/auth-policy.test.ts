// Auth policy (issue 22) with a real `mailroom serve`: failed logins by any mechanism (a wrong
// SCRAM proof, a forged SCRAM nonce, a wrong LOGIN password, over IMAP and POP3) count together
// against the account; at the threshold the account is locked out, a notice lands in its INBOX,
// `mailroom user unlock` lifts the lock at once; and Debian's fail2ban-regex, with the shipped
// filter, finds every failed attempt in what the server logged (SCRAM failures included).
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { findRepositoryRoot } from "../harness/fixtures.js";
import { listenerPort, makeScratch, runMailroom, serveConfig, startServeProcess } from "../harness/mailroom-process.js";
import { RawImapClient } from "../harness/imap-raw-client.js";
import { run } from "../harness/smtp-clients.js";
import { b64, ScramClient, unb64 } from "../harness/scram-client.js";

const FILTER = join(findRepositoryRoot(import.meta.url), "contrib", "fail2ban", "filter.d", "mailroom.conf");
const USER = "alice@example.org";
const PASSWORD = "the right password";

async function scram(port: number, password: string, tamper: (final: string) => string = (f) => f): Promise<string> {
  const client = await RawImapClient.open(port);
  client.take();
  const scramClient = new ScramClient({ hash: "sha256", username: USER, password });
  client.send(`s AUTHENTICATE SCRAM-SHA-256 ${b64(scramClient.first())}\r\n`);
  let line = await client.nextLine(30_000);
  if (line.startsWith("+ ")) {
    client.send(`${b64(tamper(scramClient.final(unb64(line.slice(2)))))}\r\n`);
    line = await client.nextLine(30_000);
    if (line.startsWith("+ ")) {
      client.send("\r\n");
      line = await client.nextLine(30_000);
    }
  }
  client.socket.destroy();
  return line;
}

async function login(port: number, password: string): Promise<string> {
  const client = await RawImapClient.open(port);
  client.take();
  const reply = await client.command("a", `LOGIN ${USER} "${password}"`);
  client.socket.destroy();
  return reply;
}

async function pop3(port: number, password: string): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  let text = "";
  socket.on("data", (d: Buffer) => (text += d.toString()));
  socket.on("error", () => undefined);
  const lines = async (n: number) => {
    const deadline = Date.now() + 30_000;
    while ((text.match(/\r\n/g) ?? []).length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  };
  await lines(1);
  socket.write(`USER ${USER}\r\nPASS ${password}\r\n`);
  await lines(3);
  socket.destroy();
  return text.split("\r\n")[2] ?? "";
}

test("failures by every mechanism lock the account, a notice reaches its INBOX, unlock lifts it, fail2ban sees each failure", async () => {
  const s = await makeScratch(
    serveConfig({
      plaintextAuthOnLoopback: true,
      auth: 'throttle_base_delay = "10ms"\nthrottle_lockout_account = 4\nthrottle_lockout_ip = 50',
      listeners: [{ protocol: "imap" }, { protocol: "pop3" }],
    }),
  );
  try {
    assert.equal((await runMailroom(["--init", "domain", "add", "example.org"], { env: s.env })).code, 0);
    assert.equal((await runMailroom(["user", "add", USER], { env: s.env, input: `${PASSWORD}\n` })).code, 0);
    const server = await startServeProcess(s.env);
    try {
      const imapPort = listenerPort(server.banner, "imap");
      const pop3Port = listenerPort(server.banner, "pop3");
      // Four failures, four ways: the account threshold is 4.
      assert.match(await scram(imapPort, "wrong password"), /^s NO \[AUTHENTICATIONFAILED\]/);
      assert.match(await scram(imapPort, PASSWORD, (final) => final.replace(/,r=[^,]+/, ",r=forged")), /^s NO \[AUTHENTICATIONFAILED\]/);
      assert.match(await login(imapPort, "another guess"), /^a NO \[AUTHENTICATIONFAILED\]/m);
      assert.match(await pop3(pop3Port, "pop guess"), /^-ERR \[AUTH\]/);
      // Locked: even the right password, by either mechanism, is refused for now.
      assert.match(await login(imapPort, PASSWORD), /^a NO \[UNAVAILABLE\]/m);
      assert.match(await scram(imapPort, PASSWORD), /^s NO/);

      const unlocked = await runMailroom(["user", "unlock", USER], { env: s.env });
      assert.equal(unlocked.code, 0, unlocked.stderr);
      assert.match(unlocked.stdout, /alice@example\.org unlocked/);

      const client = await RawImapClient.open(imapPort);
      client.take();
      assert.match(await client.command("a", `LOGIN ${USER} "${PASSWORD}"`), /^a OK/m);
      assert.match(await client.command("b", "SELECT INBOX"), /\* 1 EXISTS/);
      const notice = await client.command("c", "FETCH 1 (BODY[HEADER.FIELDS (FROM SUBJECT AUTO-SUBMITTED)] BODY[TEXT])");
      assert.match(notice, /Subject: Logins to your account were locked after failed attempts/);
      assert.match(notice, /From: Mail Delivery System <postmaster@example\.org>/);
      assert.match(notice, /Auto-Submitted: auto-generated/);
      assert.match(notice, /Last failed attempt from: 127\.0\.0\.1/);
      client.socket.destroy();
      // SCRAM works again too (its keys were stored when the password was set).
      assert.match(await scram(imapPort, PASSWORD), /^s OK/);
    } finally {
      assert.equal(await server.stop(), 0, server.logs());
    }

    const log = server.logs();
    assert.ok(!log.includes(PASSWORD), "no password in the log");
    const failures = log
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.event === "auth.failure");
    assert.deepEqual(
      failures.map((f) => [f.protocol, f.reason, f.mechanism ?? null, f.detail ?? null]),
      [
        ["imap", "wrong-password", "SCRAM-SHA-256", null],
        ["imap", "protocol-error", "SCRAM-SHA-256", "nonce-mismatch"],
        ["imap", "wrong-password", null, null],
        ["pop3", "wrong-password", null, null],
        ["imap", "throttled", null, null],
        ["imap", "throttled", null, null],
      ],
    );
    const logFile = join(s.dir, "mailroom.log");
    await writeFile(logFile, log);
    const checked = await run("fail2ban-regex", ["-v", logFile, FILTER], undefined, 60_000);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    assert.match(checked.stdout, /Failregex: 6 total/, checked.stdout);
  } finally {
    await s.cleanup();
  }
});
