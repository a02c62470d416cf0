// Abuse limits that hold across nodes (issue 15): two real `mailroom serve` processes on one
// PostgreSQL database. Failed logins on node A (IMAP) make node B refuse the address on IMAP
// (NO [UNAVAILABLE]), SMTP AUTH (454 4.7.0) and POP3 (-ERR [SYS/TEMP]), even with the right password; the
// hourly MAIL limit of port 25 is one count over both nodes (451 4.7.1 on B after A's messages);
// connections held open on A count against limits.connections_per_ip on B, and stop counting once
// A closes them, or once A is killed and its heartbeat goes stale. Clients are python's imaplib,
// smtplib and poplib, and raw sockets for the held connections.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { listenerPort, makeScratch, runMailroom, serveConfig, startServeProcess } from "../harness/mailroom-process.js";
import { postgresUnavailable, startPostgres, type PostgresCluster } from "../harness/postgres.js";
import { run } from "../harness/smtp-clients.js";

const skip = postgresUnavailable() ?? false;
let cluster: PostgresCluster;
before(async () => {
  if (!skip) cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

const LOGINS = String.raw`
import imaplib, poplib, smtplib, sys, json
proto, port, password = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    if proto == "imap":
        imap = imaplib.IMAP4("127.0.0.1", port, timeout=20)
        try:
            imap.login("alice@example.org", password)
            out = "ok"
            imap.logout()
        except imaplib.IMAP4.error as e:
            out = str(e)
    elif proto == "smtp":
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
            s.ehlo("client.example")
            try:
                s.login("alice@example.org", password)
                out = "ok"
            except smtplib.SMTPAuthenticationError as e:
                out = "%d %s" % (e.smtp_code, e.smtp_error.decode())
            except smtplib.SMTPResponseException as e:
                out = "%d %s" % (e.smtp_code, e.smtp_error.decode())
    elif proto == "pop3":
        pop = poplib.POP3("127.0.0.1", port, timeout=20)
        pop.user("alice@example.org")
        try:
            pop.pass_(password)
            out = "ok"
            pop.quit()
        except poplib.error_proto as e:
            out = e.args[0].decode()
    elif proto == "mail":
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
            try:
                s.sendmail("someone@elsewhere.example", ["alice@example.org"], "Subject: rate\r\n\r\nx\r\n")
                out = "250"
            except smtplib.SMTPSenderRefused as e:
                out = "%d %s" % (e.smtp_code, e.smtp_error.decode())
except Exception as e:
    out = "error: %r" % (e,)
print(json.dumps(out))
`;

async function attempt(proto: "imap" | "smtp" | "pop3" | "mail", port: number, password = "a long password"): Promise<string> {
  const result = await run("python3", ["-c", LOGINS, proto, String(port), password], undefined, 30_000);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as string;
}

/** A connection held open until destroyed; resolves with the server's first line. */
function hold(port: number): Promise<{ socket: Socket; greeting: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let text = "";
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes("\r\n")) resolve({ socket, greeting: text.split("\r\n")[0]! });
    });
    socket.on("error", reject);
  });
}

async function eventually(what: string, probe: () => Promise<boolean>, budgetMs = 15_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - started;
    assert.ok(Date.now() - started < budgetMs, `${what} within ${budgetMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test("two nodes on one database: failed logins, MAIL rate and connections per IP count across nodes", { skip, timeout: 180_000 }, async () => {
  const url = await cluster.createDatabase("abuse");
  const scratch = await makeScratch();
  await writeFile(
    scratch.configFile,
    serveConfig({
      listeners: [{ protocol: "smtp" }, { protocol: "submission" }, { protocol: "imap" }, { protocol: "pop3" }],
      plaintextAuthOnLoopback: true,
      auth: 'throttle_lockout_ip = 3\nthrottle_base_delay = "10ms"\nthrottle_max_delay = "50ms"',
      extra: `[store]\nbackend = "postgresql"\nurl = "${url}"\n[limits]\nconnections_per_ip = 3\n[spam]\nexempt_networks = []\niprev = false\nip_messages_per_hour = 3\n`,
    }),
  );
  const dataDirB = join(scratch.dir, "data-b");
  await mkdir(dataDirB, { recursive: true, mode: 0o700 });
  try {
    assert.equal((await runMailroom(["domain", "add", "example.org"], { env: scratch.env })).code, 0);
    assert.equal((await runMailroom(["user", "add", "alice@example.org"], { env: scratch.env, input: "a long password\n" })).code, 0);
    const nodeA = await startServeProcess(scratch.env);
    const nodeB = await startServeProcess({ ...scratch.env, MAILROOM_DATA_DIR: dataDirB });
    try {
      const port = (node: typeof nodeA, protocol: string) => listenerPort(node.banner, protocol);

      // The MAIL limit: two messages through A and one through B use up the hour on B too.
      assert.equal(await attempt("mail", port(nodeA, "smtp")), "250");
      assert.equal(await attempt("mail", port(nodeA, "smtp")), "250");
      assert.equal(await attempt("mail", port(nodeB, "smtp")), "250");
      assert.match(await attempt("mail", port(nodeB, "smtp")), /^451 4\.7\.1 /, "the fourth MAIL from this address in the hour, on the other node");
      assert.match(await attempt("mail", port(nodeA, "smtp")), /^451 4\.7\.1 /);

      // (No successful login first: a recent success would exempt alice's address+account pair
      // from the address refusal, by design; see auth/auth-throttle.ts.)
      // Three failures on A, from this address, for accounts that are not alice's.
      for (let i = 0; i < 3; i++) {
        const result = await run("python3", ["-c", `import imaplib\nm = imaplib.IMAP4("127.0.0.1", ${port(nodeA, "imap")}, timeout=20)\ntry:\n    m.login("nobody${i}@example.org", "wrong")\nexcept imaplib.IMAP4.error as e:\n    print(e)`]);
        assert.match(result.stdout, /AUTHENTICATIONFAILED/, result.stdout + result.stderr);
      }
      // Node B refuses this address on every protocol, the right password notwithstanding.
      assert.match(await attempt("imap", port(nodeB, "imap")), /\[UNAVAILABLE\]/);
      assert.match(await attempt("smtp", port(nodeB, "submission")), /^454 4\.7\.0 /);
      assert.match(await attempt("pop3", port(nodeB, "pop3")), /^-ERR \[SYS\/TEMP\] /);
      assert.match(await attempt("imap", port(nodeA, "imap")), /\[UNAVAILABLE\]/, "and so does A");

      // Connections per IP (3): two held on A and one on B fill the limit for both nodes. Probes
      // are closed at once, so each node's own count stays below 3: only the other's can refuse.
      const probe = async (node: typeof nodeA, protocol: string) => {
        const p = await hold(port(node, protocol));
        p.socket.destroy();
        return p.greeting;
      };
      const held = [await hold(port(nodeA, "imap")), await hold(port(nodeA, "pop3")), await hold(port(nodeB, "imap"))];
      for (const h of held) assert.match(h.greeting, /^(\* OK|\+OK)/);
      await eventually("node B counts A's connections", async () => /^\* BYE \[UNAVAILABLE\]/.test(await probe(nodeB, "imap")));
      await eventually("node A counts B's connection", async () => /^421 /.test(await probe(nodeA, "smtp")));
      // A's connections close: B admits again.
      held[0]!.socket.destroy();
      held[1]!.socket.destroy();
      await eventually("node B admits once A's connections closed", async () => (await probe(nodeB, "pop3")).startsWith("+OK"));
      held[2]!.socket.destroy();

      // A killed with connections open: they stop counting once its heartbeat is stale (5 s).
      // (A may still count B's last probe for a moment: a refused hold is tried again.)
      const onA: { socket: Socket; greeting: string }[] = [];
      await eventually("node A admits three connections", async () => {
        const h = await hold(port(nodeA, "imap"));
        if (h.greeting.startsWith("* OK")) onA.push(h);
        else h.socket.destroy();
        return onA.length === 3;
      });
      await eventually("node B refuses while A holds three", async () => (await probe(nodeB, "imap")).startsWith("* BYE"));
      nodeA.child.kill("SIGKILL");
      const waited = await eventually("node B admits once the killed node is stale", async () => (await probe(nodeB, "imap")).startsWith("* OK"));
      assert.ok(waited < 12_000, `the killed node stopped counting after ${waited} ms`);
      for (const h of onA) h.socket.destroy();
    } finally {
      await nodeA.stop("SIGKILL");
      assert.equal(await nodeB.stop(), 0);
    }
  } finally {
    await scratch.cleanup();
  }
});
