// One owner per data dir (issue 11; docs/architecture.md "One owner per data dir"), with real
// `mailroom` processes: a second `serve` is refused naming the first one's PID and changes
// nothing; kill -9 leaves no stale lock; admin commands reach the running server and their effect
// is immediate (a new user logs in, a deleted or disabled user's sessions end, a new alias
// receives mail).
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { once } from "node:events";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { listenerPort, makeScratch, runMailroom, serveConfig, startServeProcess } from "../harness/mailroom-process.js";
import { RawImapClient } from "../harness/imap-raw-client.js";
import { RawSmtpClient } from "../harness/smtp-clients.js";

const CONFIG = serveConfig({
  plaintextAuthOnLoopback: true,
  listeners: [{ protocol: "smtp" }, { protocol: "imap" }, { protocol: "pop3" }, { protocol: "submission", tls: "none" }],
});

/** Every file and folder under dir with its size and modification time: what "changed nothing" compares. */
async function listing(dir: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      const info = await stat(full);
      lines.push(`${full.slice(dir.length)} ${entry.isDirectory() ? "dir" : info.size} ${info.mtimeMs}`);
      if (entry.isDirectory()) await walk(full);
    }
  };
  await walk(dir);
  return lines.sort();
}

async function imapLogin(port: number, user: string, password: string): Promise<RawImapClient> {
  const client = await RawImapClient.open(port);
  client.send(`a LOGIN ${user} "${password}"\r\n`);
  const reply = await client.until((text) => /^a (OK|NO|BAD)/m.test(text));
  assert.match(reply, /^a OK/m, `login of ${user}: ${reply}`);
  client.take();
  return client;
}

async function imapLoginFails(port: number, user: string, password: string): Promise<void> {
  const client = await RawImapClient.open(port);
  client.send(`a LOGIN ${user} "${password}"\r\n`);
  const reply = await client.until((text) => /^a (OK|NO|BAD)/m.test(text), 20_000);
  client.socket.destroy();
  assert.match(reply, /^a NO/m, `login of ${user} must fail: ${reply}`);
}

/** A POP3 session logged in (USER/PASS over loopback), returning everything it receives. */
async function pop3Login(port: number, user: string, password: string): Promise<{ received: () => string; closed: Promise<unknown> }> {
  const socket = connect(port, "127.0.0.1");
  let text = "";
  socket.setEncoding("latin1");
  socket.on("data", (chunk: string) => (text += chunk));
  socket.on("error", () => {});
  const closed = once(socket, "close");
  await once(socket, "connect");
  const waitFor = async (count: number) => {
    const deadline = Date.now() + 20_000;
    while ((text.match(/\r\n/g) ?? []).length < count) {
      if (Date.now() > deadline) throw new Error(`POP3: ${text}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await waitFor(1);
  socket.write(`USER ${user}\r\n`);
  await waitFor(2);
  socket.write(`PASS ${password}\r\n`);
  await waitFor(3);
  assert.match(text.split("\r\n")[2]!, /^\+OK/, text);
  return { received: () => text, closed };
}

test("a second serve on a live data dir is refused with the owner's PID and changes nothing; the first keeps serving", async () => {
  const s = await makeScratch(CONFIG);
  try {
    assert.equal((await runMailroom(["--init", "domain", "add", "example.org"], { env: s.env })).code, 0);
    assert.equal((await runMailroom(["user", "add", "alice@example.org"], { env: s.env, input: "a long password\n" })).code, 0);
    const first = await startServeProcess(s.env);
    try {
      const owner = JSON.parse(await readFile(join(s.dataDir, "mailroom.lock"), "utf8")) as { pid: number; role: string };
      assert.equal(owner.role, "serve");
      const ports = Object.fromEntries(["smtp", "imap", "pop3", "submission"].map((p) => [p, listenerPort(first.banner, p)]));
      const samePorts = join(s.dir, "same-ports.toml");
      await writeFile(samePorts, CONFIG.replace(/protocol = "(\w+)"\naddress = "127.0.0.1"\nport = 0/g, (_m, p: string) => `protocol = "${p}"\naddress = "127.0.0.1"\nport = ${ports[p]}`));
      assert.match(await readFile(samePorts, "utf8"), new RegExp(`port = ${ports.imap}`));

      const before = await listing(s.dataDir);
      for (const config of [samePorts, s.configFile]) {
        const second = await runMailroom(["serve"], { env: { ...s.env, MAILROOM_CONFIG: config }, timeoutMs: 60_000 });
        assert.equal(second.code, 1, `${config}: ${second.stdout}${second.stderr}`);
        assert.match(second.stderr, new RegExp(`data directory ${s.dataDir.replace(/[/.]/g, "\\$&")} is in use by mailroom serve \\(pid ${owner.pid}\\)`));
        assert.doesNotMatch(second.stdout + second.stderr, /listener\.bound|control\.listening|Mailroom is running/, "nothing was bound");
      }
      assert.deepEqual(await listing(s.dataDir), before, "the refused serves created, removed and modified nothing in the data dir");

      // The first server still serves: a delivery over SMTP, read back over IMAP.
      const smtp = await RawSmtpClient.open(ports.smtp!);
      assert.match((await smtp.reply())!, /^220 /);
      for (const [line, code] of [["EHLO client.example", "250"], ["MAIL FROM:<sender@elsewhere.example>", "250"], ["RCPT TO:<alice@example.org>", "250"], ["DATA", "354"]] as const) {
        assert.match((await smtp.command(line))!, new RegExp(`^${code}`), line);
      }
      assert.match((await smtp.command("From: sender@elsewhere.example\r\nSubject: still here\r\n\r\nHi.\r\n."))!, /^250 /);
      await smtp.command("QUIT");
      const imap = await imapLogin(ports.imap!, "alice@example.org", "a long password");
      imap.send("b SELECT INBOX\r\n");
      assert.match(await imap.until((t) => /^b /m.test(t)), /\* 1 EXISTS/);
      imap.socket.destroy();
    } finally {
      assert.equal(await first.stop(), 0, first.logs());
    }
  } finally {
    await s.cleanup();
  }
});

test("kill -9 of serve leaves no stale lock: admin commands and a new serve start at once", async () => {
  const s = await makeScratch(CONFIG);
  try {
    assert.equal((await runMailroom(["--init", "domain", "add", "example.org"], { env: s.env })).code, 0);
    const first = await startServeProcess(s.env);
    assert.equal(await first.stop("SIGKILL"), null);
    // The socket file is left behind; nothing answers on it, and the lock died with the process.
    assert.ok((await readdir(s.dataDir)).includes("mailroom.sock"));
    const offline = await runMailroom(["user", "add", "bob@example.org"], { env: s.env, input: "a long password\n" });
    assert.equal(offline.code, 0, offline.stderr);
    const second = await startServeProcess(s.env);
    try {
      const owner = JSON.parse(await readFile(join(s.dataDir, "mailroom.lock"), "utf8")) as { pid: number };
      assert.notEqual(owner.pid, first.child.pid);
      const status = await runMailroom(["status"], { env: s.env });
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, new RegExp(`mailroom serve \\(pid ${owner.pid}\\)`));
      await imapLogin(listenerPort(second.banner, "imap"), "bob@example.org", "a long password").then((c) => c.socket.destroy());
    } finally {
      assert.equal(await second.stop(), 0, second.logs());
    }
  } finally {
    await s.cleanup();
  }
});

test("admin commands act on the running server at once: new user, new alias, deleted and disabled users' sessions end", async () => {
  const s = await makeScratch(CONFIG);
  try {
    const admin = (args: string[], input?: string) => runMailroom(args, { env: s.env, ...(input !== undefined ? { input } : {}) });
    assert.equal((await admin(["--init", "domain", "add", "example.org"])).code, 0);
    for (const user of ["alice", "dave", "eve"]) assert.equal((await admin(["user", "add", `${user}@example.org`], "a long password\n")).code, 0);
    const server = await startServeProcess(s.env);
    try {
      const imapPort = listenerPort(server.banner, "imap");
      const pop3Port = listenerPort(server.banner, "pop3");

      // A user added while the server runs logs in at once.
      const added = await admin(["user", "add", "carol@example.org"], "carol's password\n");
      assert.equal(added.code, 0, added.stderr);
      (await imapLogin(imapPort, "carol@example.org", "carol's password")).socket.destroy();

      // A new alias receives mail at once.
      assert.equal((await admin(["alias", "add", "sales@example.org", "carol@example.org"])).code, 0);
      const smtp = await RawSmtpClient.open(listenerPort(server.banner, "smtp"));
      await smtp.reply();
      await smtp.command("EHLO client.example");
      await smtp.command("MAIL FROM:<sender@elsewhere.example>");
      assert.match((await smtp.command("RCPT TO:<sales@example.org>"))!, /^250 /);
      await smtp.command("DATA");
      assert.match((await smtp.command("Subject: to sales\r\n\r\nHello.\r\n."))!, /^250 /);
      await smtp.command("QUIT");
      const carol = await imapLogin(imapPort, "carol@example.org", "carol's password");
      carol.send("b SELECT INBOX\r\n");
      assert.match(await carol.until((t) => /^b /m.test(t)), /\* 1 EXISTS/);
      carol.socket.destroy();

      // Deleting a user ends its IMAP (selected, idling), POP3 and submission sessions.
      const imap = await imapLogin(imapPort, "dave@example.org", "a long password");
      imap.send("b SELECT INBOX\r\n");
      await imap.until((t) => /^b OK/m.test(t));
      imap.send("c IDLE\r\n");
      await imap.until((t) => /^\+ /m.test(t));
      imap.take();
      const pop3 = await pop3Login(pop3Port, "dave@example.org", "a long password");
      const submission = await RawSmtpClient.open(listenerPort(server.banner, "submission"));
      await submission.reply();
      await submission.command("EHLO client.example");
      assert.match((await submission.command(`AUTH PLAIN ${Buffer.from("\0dave@example.org\0a long password").toString("base64")}`))!, /^235 /);

      const deleted = await admin(["user", "del", "dave@example.org"]);
      assert.equal(deleted.code, 0, deleted.stderr);
      const afterCommand = Date.now();
      await imap.until((t) => imap.closed && /\* BYE/.test(t), 1000);
      assert.match(imap.take(), /^\* BYE \[UNAVAILABLE\] account deleted\r\n/m);
      await Promise.race([pop3.closed, new Promise((_, reject) => setTimeout(() => reject(new Error("POP3 session still open")), 1000))]);
      assert.match(pop3.received(), /-ERR \[SYS\/PERM\] account deleted\r\n$/);
      const final = await submission.reply(1000);
      assert.match(final ?? "", /^421 4\.7\.0 .*account deleted/);
      assert.ok(Date.now() - afterCommand < 1000, "every session ended within 1 s");
      await imapLoginFails(imapPort, "dave@example.org", "a long password");

      // Disabling ends the sessions and refuses logins; enabling gives the same password back.
      const eve = await imapLogin(imapPort, "eve@example.org", "a long password");
      const disabled = await admin(["user", "disable", "eve@example.org"]);
      assert.equal(disabled.code, 0, disabled.stderr);
      assert.match(disabled.stdout, /eve@example\.org .* disabled/);
      await eve.until((t) => eve.closed && /\* BYE/.test(t), 1000);
      await imapLoginFails(imapPort, "eve@example.org", "a long password");
      assert.equal((await admin(["user", "enable", "eve@example.org"])).code, 0);
      (await imapLogin(imapPort, "eve@example.org", "a long password")).socket.destroy();

      assert.ok(!server.logs().includes("a long password") && !server.logs().includes("carol's password"), "no password in the server's log");
      assert.match(server.logs(), /"event":"control\.request".*"method":"deleteUser","ok":true/, "the commands ran inside the server");
    } finally {
      assert.equal(await server.stop(), 0, server.logs());
    }
  } finally {
    await s.cleanup();
  }
});
