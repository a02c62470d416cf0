// The log a postmaster works from (issue 12), written by the real `mailroom serve` process and
// driven by python's smtplib, imaplib and poplib:
// - one smtp.accepted line per message (queue id, client IP and name, TLS version, user, sender,
//   recipients, size, Message-ID) and one queue.delivery line per delivery attempt with the same
//   queue id (relay, reply, delay, DSN status, TLS, attempt, sender, size); two messages sent one
//   after the other, each delivered before the next arrives, get two different queue ids;
// - one smtp.command_refused line per refused command, syntax errors included;
// - auth.failure lines for SMTP, IMAP and POP3 with IP, protocol and user, never the password,
//   which Debian's fail2ban-regex matches with contrib/fail2ban/filter.d/mailroom.conf.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { findRepositoryRoot } from "../harness/fixtures.js";
import { listenerPort, makeScratch, runMailroom, serveConfig, startServeProcess } from "../harness/mailroom-process.js";
import { python, run } from "../harness/smtp-clients.js";

const FILTER = join(findRepositoryRoot(import.meta.url), "contrib", "fail2ban", "filter.d", "mailroom.conf");

/** A remote MTA that takes every message (EHLO with 8BITMIME, no STARTTLS). */
async function captureServer(): Promise<{ port: number; messages: string[]; close(): Promise<void> }> {
  const messages: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    socket.write("220 remote.test ESMTP\r\n");
    let buffer = "";
    let inData = false;
    socket.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("latin1");
      for (;;) {
        if (inData) {
          const end = buffer.indexOf("\r\n.\r\n");
          if (end < 0) return;
          messages.push(buffer.slice(0, end));
          buffer = buffer.slice(end + 5);
          inData = false;
          socket.write("250 2.0.0 Ok: kept as R1\r\n");
          continue;
        }
        const end = buffer.indexOf("\r\n");
        if (end < 0) return;
        const verb = buffer.slice(0, end).split(/[ :]/)[0]!.toUpperCase();
        buffer = buffer.slice(end + 2);
        if (verb === "EHLO") socket.write("250-remote.test\r\n250 8BITMIME\r\n");
        else if (verb === "DATA") {
          inData = true;
          socket.write("354 go ahead\r\n");
        } else if (verb === "QUIT") socket.end("221 2.0.0 Bye\r\n");
        else socket.write("250 2.0.0 Ok\r\n");
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as { port: number }).port,
    messages,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

type LogLine = Record<string, unknown> & { event: string };

async function waitFor(read: () => LogLine[], done: (lines: LogLine[]) => boolean, what: string): Promise<LogLine[]> {
  for (let i = 0; i < 300; i++) {
    const lines = read();
    if (done(lines)) return lines;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(read().filter((l) => l.event.startsWith("auth") || l.level !== "debug").map((l) => [l.event, l.protocol, l.reason]))}`);
}

test("accepted, delivery, refusal and auth-failure lines from the real server; fail2ban-regex matches the failures", async () => {
  const remote = await captureServer();
  const s = await makeScratch(
    serveConfig({
      hostname: "mx.a.test",
      auth: 'throttle_base_delay = "10ms"',
      plaintextAuthOnLoopback: true,
      extra: `[outbound]\nroutes = { "b.test" = "127.0.0.1:${remote.port}" }\nmta_sts = false`,
      listeners: [{ protocol: "submission" }, { protocol: "imap" }, { protocol: "pop3" }],
    }),
  );
  try {
    assert.equal((await runMailroom(["--init", "domain", "add", "a.test"], { env: s.env })).code, 0);
    assert.equal((await runMailroom(["user", "add", "alice@a.test"], { env: s.env, input: "right password 1\n" })).code, 0);
    const server = await startServeProcess(s.env);
    const lines = (): LogLine[] =>
      server
        .logs()
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as LogLine);
    try {
      const submission = listenerPort(server.banner, "submission");
      const send = (subject: string) => `
import smtplib, ssl, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="laptop.a.test")
s.starttls(context=ssl._create_unverified_context())
try:
    s.login("alice@a.test", "wrong password 9")
except smtplib.SMTPAuthenticationError as e:
    print("auth", e.smtp_code)
print("bad", *s.docmd("MAIL", "FROM:<alice@a.test"))
s.login("alice@a.test", "right password 1")
msg = "From: alice@a.test\\r\\nTo: bob@b.test\\r\\nSubject: ${subject}\\r\\nMessage-ID: <${subject}@a.test>\\r\\n\\r\\nhello\\r\\n"
print("refused", s.sendmail("alice@a.test", ["bob@b.test"], msg))
s.quit()
`;
      const first = await python(send("first"), submission);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /auth 535/);
      assert.match(first.stdout, /bad 501/);
      await waitFor(lines, (l) => l.some((x) => x.event === "queue.delivery"), "the first delivery");
      const second = await python(send("second"), submission);
      assert.equal(second.code, 0, second.stderr);
      await waitFor(lines, (l) => l.filter((x) => x.event === "queue.delivery").length === 2, "the second delivery");

      const imap = await python(
        `
import imaplib, sys
c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
try:
    c.login("alice@a.test", "imap guess 7")
except imaplib.IMAP4.error as e:
    print("imap", e)
`,
        listenerPort(server.banner, "imap"),
      );
      assert.match(imap.stdout, /imap .*AUTHENTICATIONFAILED/, imap.stdout + imap.stderr);
      const pop = await python(
        `
import poplib, sys
c = poplib.POP3("127.0.0.1", int(sys.argv[1]))
c.user("nobody@a.test")
try:
    c.pass_("pop guess 8")
except poplib.error_proto as e:
    print("pop3", e)
# A login name that tries to forge another client's address into the log line.
c = poplib.POP3("127.0.0.1", int(sys.argv[1]))
c.user('x","remoteAddress":"203.0.113.66","protocol":"pop3","reason":"wrong-password')
try:
    c.pass_("pop guess 8")
except poplib.error_proto as e:
    print("pop3", e)
`,
        listenerPort(server.banner, "pop3"),
      );
      assert.match(pop.stdout, /pop3 b'-ERR/, pop.stdout + pop.stderr);
      await waitFor(lines, (l) => l.filter((x) => x.event === "auth.failure").length === 7, "seven auth failures");
    } finally {
      assert.equal(await server.stop(), 0, server.logs());
    }

    const log = lines();
    const accepted = log.filter((x) => x.event === "smtp.accepted");
    const deliveries = log.filter((x) => x.event === "queue.delivery");
    assert.equal(accepted.length, 2);
    assert.equal(deliveries.length, 2);
    const ids = accepted.map((x) => x.queueId);
    assert.ok(typeof ids[0] === "number" && typeof ids[1] === "number" && ids[0] !== ids[1], `queue ids ${JSON.stringify(ids)}`);
    for (const [index, subject] of ["first", "second"].entries()) {
      const a = accepted[index]!;
      assert.deepEqual(
        { clientIp: a.clientIp, clientName: a.clientName, account: a.account, mailFrom: a.mailFrom, recipients: a.recipients, messageId: a.messageId },
        { clientIp: "127.0.0.1", clientName: "laptop.a.test", account: "alice@a.test", mailFrom: "alice@a.test", recipients: ["bob@b.test"], messageId: `<${subject}@a.test>` },
      );
      assert.match(String(a.tls), /^TLSv1\.[23]$/);
      assert.ok(typeof a.size === "number" && a.size > 0);
      const d = deliveries.find((x) => x.queueId === a.queueId);
      assert.ok(d, `a delivery line for queue id ${String(a.queueId)}`);
      assert.deepEqual(
        { recipient: d.recipient, state: d.state, dsn: d.dsn, relay: d.relay, tls: d.tls, attempt: d.attempt, mailFrom: d.mailFrom },
        { recipient: "bob@b.test", state: "delivered", dsn: "2.0.0", relay: `127.0.0.1[127.0.0.1]:${remote.port}`, tls: null, attempt: 1, mailFrom: "alice@a.test" },
      );
      assert.match(String(d.result), /said: 250 2\.0\.0 Ok: kept as R1$/);
      assert.ok(typeof d.delayMs === "number" && d.delayMs >= 0);
      assert.ok(typeof d.size === "number" && d.size >= (a.size as number), "the size sent includes the trace prefix");
    }
    assert.equal(remote.messages.length, 2);

    const refused = log.filter((x) => x.event === "smtp.command_refused");
    assert.ok(refused.some((x) => x.stage === "MAIL" && x.code === 501 && x.clientIp === "127.0.0.1" && typeof x.text === "string"), JSON.stringify(refused));
    assert.ok(refused.some((x) => x.stage === "AUTH" && x.code === 535), JSON.stringify(refused));
    assert.ok(refused.every((x) => x.level === "info"));

    const failures = log.filter((x) => x.event === "auth.failure");
    // smtplib's login() tries PLAIN, then LOGIN: two failed attempts per session.
    assert.deepEqual(failures.map((x) => [x.protocol, x.remoteAddress, x.username, x.reason]), [
      ["smtp", "127.0.0.1", "alice@a.test", "wrong-password"],
      ["smtp", "127.0.0.1", "alice@a.test", "wrong-password"],
      ["smtp", "127.0.0.1", "alice@a.test", "wrong-password"],
      ["smtp", "127.0.0.1", "alice@a.test", "wrong-password"],
      ["imap", "127.0.0.1", "alice@a.test", "wrong-password"],
      ["pop3", "127.0.0.1", "nobody@a.test", "unknown-user"],
      ["pop3", "127.0.0.1", 'x","remoteAddress":"203.0.113.66","protocol":"pop3","reason":"wrong-password', "unknown-user"],
    ]);
    for (const secret of ["wrong password 9", "right password 1", "imap guess 7", "pop guess 8"]) assert.ok(!server.logs().includes(secret), `no password in the log: ${secret}`);

    // fail2ban-regex (Debian's fail2ban) over exactly what the server wrote.
    const logFile = join(s.dir, "mailroom.log");
    await writeFile(logFile, server.logs());
    const checked = await run("fail2ban-regex", ["-v", logFile, FILTER], undefined, 60_000);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    assert.match(checked.stdout, /Failregex: 7 total/, checked.stdout);
    // -v lists the address taken from each matched line: the client's every time.
    const hosts = [...checked.stdout.matchAll(/^\|\s+(\S+)\s+\w{3} \w{3} \d\d \d\d:\d\d:\d\d \d{4}$/gm)].map((m) => m[1]);
    assert.deepEqual(hosts, Array<string>(7).fill("127.0.0.1"), checked.stdout);
    assert.doesNotMatch(checked.stdout, /^\|\s+203\.0\.113\.66\s/m, "a forged address in a login name is never taken as the client's");
    assert.match(checked.stdout, /Date template hits:[\s\S]*?\[\d+\] \^\\\{"time"/, checked.stdout);
  } finally {
    await s.cleanup();
    await remote.close();
  }
});
