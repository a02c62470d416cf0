// Failures under load with two real nodes on one PostgreSQL database (issue 15), clients being
// python's smtplib (submission, AUTH) and imaplib:
// - kill -9 of a node while clients deliver through it: every message a client saw acknowledged
//   (250 after DATA) is in the mailbox, read over IMAP from the other node;
// - the database stopped and started again (pg_ctl) while clients deliver to both nodes: during the
//   outage clients get 4xx (never 5xx) and IMAP LOGIN gets NO [UNAVAILABLE]; nothing acknowledged
//   is lost; both nodes serve again by themselves, and the change feed is back (IDLE on node B sees
//   a delivery on node A after the restart).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { collectLines, startClusterNodes, type ClusterNode } from "../harness/cluster-nodes.js";
import { RawImapClient } from "../harness/imap-raw-client.js";
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

/**
 * Delivers to alice until its standard input closes (or `seconds` pass, a safety stop), printing
 * "ACK <ms> <subject>" after each 250 and "ERR"/"CONN" lines otherwise. Stopped by the test, not
 * by a clock, so a slow machine makes it send fewer messages, never fail the test.
 */
const LOAD = String.raw`
import select, smtplib, sys, time
port, label, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
end = time.time() + seconds
n = 0
s = None
def now():
    return int(time.time() * 1000)
def stopped():
    readable, _, _ = select.select([sys.stdin], [], [], 0)
    return bool(readable) and sys.stdin.read(1) == ""
while time.time() < end and not stopped():
    try:
        if s is None:
            s = smtplib.SMTP("127.0.0.1", port, timeout=10)
            s.login("alice@example.org", "a long password")
        subject = "%s-%d" % (label, n)
        n += 1
        try:
            s.sendmail("alice@example.org", ["alice@example.org"], "From: alice@example.org\r\nTo: alice@example.org\r\nSubject: %s\r\n\r\nunder load\r\n" % subject)
            print("ACK %d %s" % (now(), subject), flush=True)
        except smtplib.SMTPRecipientsRefused as e:
            print("ERR %d %d %s" % (now(), list(e.recipients.values())[0][0], subject), flush=True)
            time.sleep(0.1)
        except smtplib.SMTPResponseException as e:
            print("ERR %d %d %s" % (now(), e.smtp_code, subject), flush=True)
            time.sleep(0.1)
    except (OSError, smtplib.SMTPException) as e:
        print("CONN %d %d %s" % (now(), getattr(e, "smtp_code", 0), type(e).__name__), flush=True)
        try:
            s.close()
        except Exception:
            pass
        s = None
        time.sleep(0.2)
`;

const SUBJECTS = String.raw`
import imaplib, sys, json, re
imap = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]), timeout=60)
imap.login("alice@example.org", "a long password")
typ, data = imap.select("INBOX", readonly=True)
subjects = []
if int(data[0]) > 0:
    typ, data = imap.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    for item in data:
        if isinstance(item, tuple):
            m = re.search(rb"Subject: (\S+)", item[1])
            if m:
                subjects.append(m.group(1).decode())
imap.logout()
print(json.dumps(subjects))
`;

const LOGIN = String.raw`
import imaplib, sys
try:
    imap = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]), timeout=20)
    try:
        imap.login("alice@example.org", "a long password")
        print("ok")
        imap.logout()
    except imaplib.IMAP4.error as e:
        print(str(e))
except Exception as e:
    print("error: %r" % (e,))
`;

interface LoadClient {
  lines: string[];
  /** Closes the client's standard input: it finishes the message in flight and exits. */
  stop(): Promise<void>;
}

function startLoad(node: ClusterNode, label: string, seconds = 150): LoadClient {
  const child = spawn("python3", ["-c", LOAD, String(node.port("submission")), label, String(seconds)], { stdio: ["pipe", "pipe", "pipe"] });
  const lines = collectLines(child.stdout);
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 30) * 1000);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`load client ${label} exited ${code}: ${stderr}`));
    });
  });
  return {
    lines,
    stop: async () => {
      child.stdin.end();
      await done;
    },
  };
}

const acked = (clients: LoadClient[]) => clients.flatMap((c) => c.lines.filter((l) => l.startsWith("ACK ")).map((l) => l.split(" ")[2]!));

async function storedSubjects(node: ClusterNode): Promise<string[]> {
  const result = await run("python3", ["-c", SUBJECTS, String(node.port("imap"))], undefined, 60_000);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as string[];
}

async function waitFor(what: string, probe: () => boolean | Promise<boolean>, budgetMs: number): Promise<void> {
  const started = Date.now();
  while (!(await probe())) {
    assert.ok(Date.now() - started < budgetMs, `${what} within ${budgetMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const NODE_CONFIG = {
  listeners: [{ protocol: "submission" }, { protocol: "imap" }],
  extra: "[abuse]\nmessages_per_hour = 0\nrecipients_per_day = 0\ndomain_messages_per_hour = 0\n",
};

test("kill -9 of a node under SMTP load: every acknowledged message is readable from the other node", { skip, timeout: 180_000 }, async () => {
  const nodes = await startClusterNodes({ count: 2, url: await cluster.createDatabase("kill"), ...NODE_CONFIG });
  try {
    const [a, b] = nodes.nodes as [ClusterNode, ClusterNode];
    const clients = [startLoad(a, "a1"), startLoad(a, "a2"), startLoad(a, "a3"), startLoad(b, "b1")];
    try {
      // Killed while deliveries through it are in flight.
      await waitFor("10 messages acknowledged by node A", () => acked(clients.slice(0, 3)).length >= 10, 60_000);
      a.process.child.kill("SIGKILL");
      const killedAt = Date.now();
      await waitFor("clients of A see it die", () => clients.slice(0, 3).some((c) => c.lines.some((l) => l.startsWith("CONN ") && Number(l.split(" ")[1]) >= killedAt)), 30_000);
      await waitFor("node B keeps serving", () => clients[3]!.lines.some((l) => l.startsWith("ACK ") && Number(l.split(" ")[1]) > killedAt), 30_000);
    } finally {
      await Promise.all(clients.map((c) => c.stop()));
    }
    const acknowledged = acked(clients);
    const fromA = acked(clients.slice(0, 3));
    const stored = new Set(await storedSubjects(b));
    const lost = acknowledged.filter((s) => !stored.has(s));
    assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.length} acknowledged messages lost (${fromA.length} through the killed node)`);
  } finally {
    await nodes.cleanup();
  }
});

test("database restart under load on two nodes: 4xx and NO [UNAVAILABLE] meanwhile, nothing acknowledged lost, nodes and change feed back by themselves", { skip, timeout: 180_000 }, async () => {
  const nodes = await startClusterNodes({ count: 2, url: await cluster.createDatabase("restart"), ...NODE_CONFIG });
  let down = false;
  let stopClients: () => Promise<unknown> = async () => undefined;
  try {
    const [a, b] = nodes.nodes as [ClusterNode, ClusterNode];
    const clients = [startLoad(a, "a1"), startLoad(a, "a2"), startLoad(b, "b1"), startLoad(b, "b2")];
    stopClients = () => Promise.all(clients.map((c) => c.stop()));
    await waitFor("20 messages acknowledged", () => acked(clients).length >= 20, 60_000);

    await cluster.stopServer("fast");
    down = true;
    const stoppedAt = Date.now();
    const login = await run("python3", ["-c", LOGIN, String(b.port("imap"))], undefined, 30_000);
    assert.match(login.stdout, /\[UNAVAILABLE\]/, `IMAP LOGIN while the database is down: ${login.stdout}; node B: exit ${b.process.child.exitCode} ${b.process.logs().slice(-3000)}`);
    await waitFor("a client refused with 4xx during the outage", () => clients.some((c) => c.lines.some((l) => /^(ERR|CONN) \d+ 4\d\d /.test(l) && Number(l.split(" ")[1]) >= stoppedAt)), 30_000);
    await cluster.startServer();
    down = false;
    const restartedAt = Date.now();

    // Both nodes deliver again without being touched.
    await waitFor(
      "both nodes acknowledge again after the restart",
      () => [clients.slice(0, 2), clients.slice(2)].every((group) => group.some((c) => c.lines.some((l) => l.startsWith("ACK ") && Number(l.split(" ")[1]) > restartedAt))),
      60_000,
    );
    // The change feed: IDLE on B sees a delivery on A.
    const imap = await RawImapClient.open(b.port("imap"));
    try {
      assert.match(await imap.command("i1", 'LOGIN alice@example.org "a long password"'), /i1 OK/);
      assert.match(await imap.command("i2", "SELECT INBOX"), /i2 OK/);
      imap.send("i3 IDLE\r\n");
      await imap.until((t) => t.includes("+ "));
      imap.take();
      const sent = await run("python3", ["-c", `import smtplib\nwith smtplib.SMTP("127.0.0.1", ${a.port("submission")}, timeout=20) as s:\n    s.login("alice@example.org", "a long password")\n    s.sendmail("alice@example.org", ["alice@example.org"], "From: alice@example.org\\r\\nSubject: after-restart\\r\\n\\r\\nx\\r\\n")`]);
      assert.equal(sent.code, 0, sent.stderr);
      await imap.until((t) => /\* \d+ EXISTS/.test(t), 15_000);
      imap.send("DONE\r\n");
      await imap.until((t) => t.includes("i3 OK"));
    } finally {
      imap.socket.destroy();
    }

    await Promise.all(clients.map((c) => c.stop()));
    const all = clients.flatMap((c) => c.lines);
    const fiveHundreds = all.filter((l) => /^(ERR|CONN) \d+ 5\d\d /.test(l));
    assert.deepEqual(fiveHundreds, [], "no permanent failure for a passing outage");
    const acknowledged = acked(clients);
    const stored = new Set(await storedSubjects(a));
    const lost = acknowledged.filter((s) => !stored.has(s));
    assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.length} acknowledged messages lost`);
  } finally {
    if (down) await cluster.startServer();
    await stopClients();
    await nodes.cleanup();
  }
});
