// `mailroom serve` as a whole process: start on a scratch data dir, banner, a real delivery over
// SMTP, certificate reload on SIGHUP, graceful stop on SIGTERM, and a restart that keeps state;
// a refused port fails the start (EADDRINUSE, EACCES) unless `npm start` opted into moving it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { connect, createServer } from "node:net";
import { chown, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { findRepositoryRoot } from "../harness/fixtures.js";
import { listenerPort, mailroomBin, makeScratch, runMailroom, serveConfig, startServeProcess } from "../harness/mailroom-process.js";

const CONFIG = serveConfig({ listeners: [{ protocol: "smtp" }, { protocol: "imap" }, { protocol: "submission", tls: "none" }] });

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
    assert.equal((await runMailroom(["--init", "domain", "add", "example.org"], { env: s.env })).code, 0);
    assert.equal((await runMailroom(["user", "add", "alice@example.org"], { env: s.env, input: "a long password\n" })).code, 0);

    const server = await startServeProcess(s.env);
    const certFile = join(s.dataDir, "tls", "selfsigned.crt");
    let firstCert: string;
    try {
      assert.match(server.banner, /Mailroom is running as mx\.example\.org/);
      assert.match(server.banner, /imap\s+127\.0\.0\.1:\d+\s+IMAP, STARTTLS/, "the imap listener is served since the IMAP engine is wired");
      assert.match(server.banner, new RegExp(`data directory\\s+${s.dataDir.replace(/[/.]/g, "\\$&")}`));
      assert.match(server.banner, /self-signed/);
      // The banner's admin command finds this server from a shell without the MAILROOM_* variables.
      const printed = /^ {2}(npx mailroom .*) user add you@example\.org$/m.exec(server.banner);
      assert.ok(printed, server.banner);
      assert.match(printed[1]!, /--config \S+ --data-dir \S+/);
      const bannerArgs = printed[1]!.split(" ").slice(2);
      const viaBanner = await runMailroom([...bannerArgs, "user", "list"], { env: { MAILROOM_CONFIG: "", MAILROOM_DATA_DIR: "" } });
      assert.equal(viaBanner.code, 0, viaBanner.stderr);
      assert.match(viaBanner.stdout, /alice@example\.org/);
      const keyMode = (await stat(join(s.dataDir, "tls", "selfsigned.key"))).mode & 0o777;
      assert.equal(keyMode & 0o077, 0, "the generated private key is readable by its owner only");
      firstCert = await readFile(certFile, "utf8");

      const port = listenerPort(server.banner, "smtp");
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

      // tls = "none": no STARTTLS on offer, and so no mechanism that sends the password (PLAIN,
      // LOGIN); SCRAM, which never sends it, is offered (RFC 5802; without -PLUS: no TLS to bind).
      const plain = await smtpConversation(listenerPort(server.banner, "submission"), ["EHLO client.example", "QUIT"]);
      assert.doesNotMatch(plain[1]!, /STARTTLS|AUTH[^\r\n]*\b(PLAIN|LOGIN|-PLUS)\b/);
      assert.match(plain[1]!, /^250[- ]AUTH SCRAM-SHA-256 SCRAM-SHA-1\r$/m);

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

/** A free port P below 55535 whose P + 10000 is free too, held busy by the returned server. */
async function busyPortWithFreeFallback(): Promise<{ port: number; release(): void }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const busy = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      busy.once("error", () => resolve(false));
      busy.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (!bound) continue;
    const probe = createServer();
    const fallbackFree = await new Promise<boolean>((resolve) => {
      probe.once("error", () => resolve(false));
      probe.listen(port + 10_000, "127.0.0.1", () => probe.close(() => resolve(true)));
    });
    if (fallbackFree) return { port, release: () => busy.close() };
    busy.close();
  }
  throw new Error("no busy/free port pair found");
}

const listenerOn = (port: number) => serveConfig({ hostname: null, listeners: [{ protocol: "smtp", port }] });

test("serve: a port in use fails the start with the port, the reason and the fix; nothing moves silently", async () => {
  const busy = await busyPortWithFreeFallback();
  const s = await makeScratch(listenerOn(busy.port));
  try {
    const run = await runMailroom(["serve"], { env: s.env });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stderr, new RegExp(`mailroom: cannot listen on 127\\.0\\.0\\.1:${busy.port} for smtp: the port is already in use \\(EADDRINUSE\\)`));
    assert.match(run.stderr, /server\.port_fallback_offset/);
    assert.doesNotMatch(run.stdout, /Mailroom is running/);
  } finally {
    busy.release();
    await s.cleanup();
  }
});

test("npm start opts into the fallback, and the banner says loudly which ports moved", async () => {
  const busy = await busyPortWithFreeFallback();
  const s = await makeScratch(listenerOn(busy.port));
  const server = await startServeProcess(s.env, [join(findRepositoryRoot(import.meta.url), "scripts", "start.mjs")]);
  try {
    assert.match(server.banner, new RegExp(`WARNING: 1 port\\(s\\) moved up by server\\.port_fallback_offset = 10000: ${busy.port} -> ${busy.port + 10_000} \\(EADDRINUSE\\)`));
    assert.match(server.banner, new RegExp(`smtp\\s+127\\.0\\.0\\.1:${busy.port + 10_000}\\s`));
    const replies = await smtpConversation(busy.port + 10_000, ["QUIT"]);
    assert.match(replies[0]!, /^220 /);
    assert.match(server.logs(), /"event":"listener\.port_fallback"/);
  } finally {
    assert.equal(await server.stop(), 0);
    busy.release();
    await s.cleanup();
  }
});

test("serve as an unprivileged user on a port below 1024: EACCES, with the capability to grant", async (t) => {
  const unprivilegedFrom = Number((await readFile("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8").catch(() => "1024")).trim());
  const asRoot = process.getuid?.() === 0;
  if (unprivilegedFrom === 0) {
    t.skip(`this kernel lets every user bind low ports (ip_unprivileged_port_start = ${unprivilegedFrom}); the EACCES advice is covered by listeners.test.ts`);
    return;
  }
  const port = Math.max(1, Math.min(unprivilegedFrom, 1024) - 1 - Math.floor(Math.random() * 100));
  const s = await makeScratch(listenerOn(port));
  try {
    // Root may bind anything: run the command as nobody, as a normal user would.
    if (asRoot) await chownTree(s.dir, 65_534, 65_534);
    const run = await runAs(asRoot ? 65_534 : null, [mailroomBin(), "serve"], s.env);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} for smtp: permission denied \\(EACCES\\)`));
    assert.match(run.stderr, /CAP_NET_BIND_SERVICE/);
  } finally {
    await s.cleanup();
  }
});

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  if (!(await stat(path)).isDirectory()) return;
  for (const entry of await readdir(path)) await chownTree(join(path, entry), uid, gid);
}

function runAs(uid: number | null, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], ...(uid === null ? {} : { uid, gid: uid }) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
