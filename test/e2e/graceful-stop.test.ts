// SIGTERM under load, with the whole `mailroom serve` process: SMTP clients (pipelined DATA, BDAT
// in chunks, python smtplib) and IMAP APPEND clients (python imaplib) deliver messages, each with
// a unique token in its Message-ID and body, and log every acknowledgement (250, APPEND OK). The
// server is stopped with SIGTERM in the middle, a few rounds on the same data dir, then started
// once more and every stored token is read back over IMAP. The promise of a graceful stop
// (docs/architecture.md, "Stopping"): every stored message was acknowledged, every acknowledged
// message is stored, so a client that retries what it was told failed never makes a duplicate.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { listenerPort, makeScratch, runMailroom, serveConfig, startServeProcess } from "../harness/mailroom-process.js";
import { RawSmtpClient } from "../harness/smtp-clients.js";

const CONFIG = serveConfig({
  plaintextAuthOnLoopback: true,
  extra: '[shutdown]\ngrace_period = "10s"',
  listeners: [{ protocol: "smtp" }, { protocol: "imap", tls: "none" }],
});

const ROUNDS = 3;
const PASSWORD = "a long password";

function message(token: string, padding: number): string {
  return [
    "From: load@elsewhere.example",
    "To: alice@example.org",
    `Subject: load ${token}`,
    `Message-ID: <${token}@load.example>`,
    "",
    `token ${token}`,
    ...Array.from({ length: padding }, (_, i) => `line ${i} of ${token} ${"x".repeat(60)}`),
    "",
  ].join("\r\n");
}

/** What one load client saw. */
interface ClientLog {
  name: string;
  /** Tokens sent whose acknowledgement was awaited. */
  tried: string[];
  /** Tokens acknowledged (SMTP 250 after the body, APPEND OK). */
  acked: string[];
  /** The last reply or error before the session ended. */
  ending: string;
  /** Whether a reconnect after the goodbye was refused (true) or got a greeting (false); null: not tried. */
  reconnectRefused: boolean | null;
}

function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

/**
 * A raw SMTP client keeping the server busy: each transaction is pipelined (RFC 2920) as MAIL,
 * RCPT and DATA (then the body) or as MAIL, RCPT and the body in BDAT chunks (RFC 3030).
 */
async function rawSmtpLoad(name: string, port: number, mode: "data" | "bdat", onAck: () => void): Promise<ClientLog> {
  const log: ClientLog = { name, tried: [], acked: [], ending: "closed without a reply", reconnectRefused: null };
  const client = await RawSmtpClient.open(port);
  const expect = async (): Promise<string | null> => {
    const answer = await client.reply(15_000);
    if (answer !== null) log.ending = answer;
    return answer;
  };
  try {
    assert.match((await expect()) ?? "", /^220 /);
    client.write("EHLO load.example\r\n");
    assert.match((await expect()) ?? "", /^250[ -]/);
    for (let n = 0; ; n++) {
      const token = `${name}-${n}-${Math.random().toString(36).slice(2, 8)}`;
      const body = Buffer.from(message(token, n % 7 === 0 ? 400 : 5));
      const envelope = "MAIL FROM:<load@elsewhere.example>\r\nRCPT TO:<alice@example.org>\r\n";
      log.tried.push(token);
      if (mode === "data") {
        client.write(`${envelope}DATA\r\n`);
        await expect();
        await expect();
        if (!((await expect()) ?? "").startsWith("354")) break;
        client.write(Buffer.concat([body, Buffer.from(".\r\n")]));
      } else {
        const half = Math.floor(body.length / 2);
        client.write(Buffer.concat([Buffer.from(`${envelope}BDAT ${half}\r\n`), body.subarray(0, half), Buffer.from(`BDAT ${body.length - half} LAST\r\n`), body.subarray(half)]));
        await expect();
        await expect();
        if (!((await expect()) ?? "").startsWith("250")) break;
      }
      if (!((await expect()) ?? "").startsWith("250")) break;
      log.acked.push(token);
      onAck();
    }
  } finally {
    client.close();
  }
  log.reconnectRefused = await tryConnect(port);
  return log;
}

/** Python clients: smtplib (DATA, no pipelining) and imaplib APPEND. They print TRY/ACK/END lines. */
const PYTHON_LOAD = String.raw`
import imaplib, smtplib, socket, sys, random, string
mode, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def msg(token):
    return ("From: load@elsewhere.example\r\nTo: alice@example.org\r\nSubject: load %s\r\n"
            "Message-ID: <%s@load.example>\r\n\r\ntoken %s\r\n" % (token, token, token)) + ("filler %s\r\n" % token) * 20
n = 0
def token():
    global n
    n += 1
    return "%s-%d-%s" % (name, n, "".join(random.choice(string.ascii_lowercase) for _ in range(6)))
try:
    if mode == "smtp":
        s = smtplib.SMTP("127.0.0.1", port, timeout=20)
        s.ehlo("py.example")
        while True:
            t = token()
            print("TRY " + t, flush=True)
            s.sendmail("load@elsewhere.example", ["alice@example.org"], msg(t))
            print("ACK " + t, flush=True)
    else:
        m = imaplib.IMAP4("127.0.0.1", port, timeout=20)
        m.login("alice@example.org", "${PASSWORD}")
        while True:
            t = token()
            print("TRY " + t, flush=True)
            typ, data = m.append("INBOX", None, None, msg(t).encode())
            if typ != "OK":
                print("END " + repr(data), flush=True)
                break
            print("ACK " + t, flush=True)
except Exception as e:
    print("END %s %s" % (type(e).__name__, str(e).replace("\n", " ")), flush=True)
try:
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    print("RECONNECT accepted", flush=True)
except OSError:
    print("RECONNECT refused", flush=True)
`;

function pythonLoad(mode: "smtp" | "imap", port: number, name: string, onAck: () => void): Promise<ClientLog> {
  return new Promise((resolve, reject) => {
    const child = spawn("python3", ["-c", PYTHON_LOAD, mode, String(port), name], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
      if (/^ACK /m.test(stdout)) onAck();
    });
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", () => {
      clearTimeout(timer);
      const lines = stdout.split("\n");
      const field = (prefix: string) => lines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
      const reconnect = field("RECONNECT ")[0];
      resolve({
        name,
        tried: field("TRY "),
        acked: field("ACK "),
        ending: (field("END ")[0] ?? `no END line; stderr: ${stderr}`).trim(),
        reconnectRefused: reconnect === undefined ? null : reconnect === "refused",
      });
    });
  });
}

/** Every token stored in alice's INBOX, read with python imaplib after a restart. */
const PYTHON_LIST = String.raw`
import imaplib, re, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("alice@example.org", "${PASSWORD}")
typ, data = m.select("INBOX", readonly=True)
count = int(data[0])
if count:
    typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    for item in data:
        if isinstance(item, tuple):
            found = re.search(rb"<([^@>]+)@load\.example>", item[1])
            print(found.group(1).decode() if found else "NO-TOKEN", flush=True)
m.logout()
`;

function storedTokens(port: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn("python3", ["-c", PYTHON_LIST, String(port)], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(stdout.split("\n").filter((l) => l !== "")) : reject(new Error(`listing failed (${code}): ${stderr}`))));
  });
}

test("SIGTERM under SMTP and APPEND load: every acknowledged message is stored, every stored one acknowledged", { timeout: 300_000 }, async (t) => {
  const s = await makeScratch(CONFIG);
  try {
    assert.equal((await runMailroom(["--init", "domain", "add", "example.org"], { env: s.env })).code, 0);
    assert.equal((await runMailroom(["user", "add", "alice@example.org"], { env: s.env, input: `${PASSWORD}\n` })).code, 0);

    const logs: ClientLog[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const server = await startServeProcess(s.env);
      const smtp = listenerPort(server.banner, "smtp");
      const imap = listenerPort(server.banner, "imap");
      const started: Promise<void>[] = [];
      /** Resolves once the client has had its first acknowledgement (or has ended). */
      const client = (run: (onAck: () => void) => Promise<ClientLog>): Promise<ClientLog> => {
        let acked!: () => void;
        started.push(new Promise<void>((resolve) => (acked = resolve)));
        return run(acked).finally(acked);
      };
      const clients = [
        client((onAck) => rawSmtpLoad(`r${round}data1`, smtp, "data", onAck)),
        client((onAck) => rawSmtpLoad(`r${round}data2`, smtp, "data", onAck)),
        client((onAck) => rawSmtpLoad(`r${round}bdat1`, smtp, "bdat", onAck)),
        client((onAck) => rawSmtpLoad(`r${round}bdat2`, smtp, "bdat", onAck)),
        client((onAck) => pythonLoad("smtp", smtp, `r${round}pysmtp`, onAck)),
        client((onAck) => pythonLoad("imap", imap, `r${round}append1`, onAck)),
        client((onAck) => pythonLoad("imap", imap, `r${round}append2`, onAck)),
      ];
      // Every client is delivering: let the load run a moment longer, then stop in the middle of it.
      await Promise.all(started);
      await new Promise((resolve) => setTimeout(resolve, 100 + round * 150));
      const stopStarted = Date.now();
      const exit = server.stop("SIGTERM");
      const roundLogs = await Promise.all(clients);
      const code = await exit;
      const stopMs = Date.now() - stopStarted;
      t.diagnostic(`round ${round}: stopped in ${stopMs} ms; acknowledged/tried ${roundLogs.map((l) => `${l.name} ${l.acked.length}/${l.tried.length}`).join(", ")}`);
      assert.equal(code, 0, server.logs());
      assert.ok(stopMs < 10_000, `the stop took ${stopMs} ms, more than the grace period`);
      assert.doesNotMatch(server.logs(), /"event":"listener\.drain_forced"/, "every session ended within the grace period");
      for (const log of roundLogs) {
        assert.ok(log.acked.length > 0, `${log.name} delivered nothing before the stop: ${log.ending}`);
        if (log.name.includes("data") || log.name.includes("bdat")) {
          // The goodbye of RFC 5321 §3.8, after the real reply to whatever was in flight.
          assert.match(log.ending, /^421 4\.3\.2 /, `${log.name} ended with ${log.ending}`);
        }
        if (log.reconnectRefused !== null) assert.equal(log.reconnectRefused, true, `${log.name}: a connection after the goodbye was accepted`);
      }
      logs.push(...roundLogs);
    }

    const server = await startServeProcess(s.env);
    let stored: string[];
    try {
      stored = await storedTokens(listenerPort(server.banner, "imap"));
    } finally {
      assert.equal(await server.stop(), 0);
    }
    const acked = new Set(logs.flatMap((log) => log.acked));
    const tried = new Set(logs.flatMap((log) => log.tried));
    const storedSet = new Set(stored);
    assert.equal(storedSet.size, stored.length, "no message is stored twice");
    assert.ok(!storedSet.has("NO-TOKEN"), "every stored message is one of the load's");
    const storedNotAcked = stored.filter((token) => !acked.has(token));
    const ackedNotStored = [...acked].filter((token) => !storedSet.has(token));
    const inFlight = [...tried].filter((token) => !acked.has(token)).length;
    assert.deepEqual(
      { storedNotAcked, ackedNotStored },
      { storedNotAcked: [], ackedNotStored: [] },
      `${acked.size} acknowledged, ${stored.length} stored, ${inFlight} in flight at a stop`,
    );
    t.diagnostic(`${acked.size} acknowledged, ${stored.length} stored, ${inFlight} unanswered at a stop (not stored)`);
    assert.ok(acked.size >= ROUNDS * 7, `enough load: ${acked.size} acknowledged`);
  } finally {
    await s.cleanup();
  }
});
