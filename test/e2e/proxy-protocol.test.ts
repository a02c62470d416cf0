// The PROXY protocol through a real HAProxy (issue 15): Mailroom trusts 127.0.0.1 (where HAProxy
// connects from) and nothing else. Clients reach HAProxy from other loopback addresses
// (127.0.0.2, 127.0.0.3), or HAProxy rewrites their source (set-src) to an address no socket here
// could have (198.51.100.9, 2001:db8::7, 192.0.2.77); Mailroom must see those, never 127.0.0.1: in
// the Received field of a message sent by smtplib (v1 header) and read by imaplib (v2), in the log of
// IMAPS (v2 before the TLS handshake) and POP3 (v2 over IPv6), in the per-IP connection limit, and
// in the HTTP(S) service's loopback-only /metrics. A header from an untrusted peer, a trusted peer
// without one, and a trusted peer that stays silent are refused with a log line.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createMemoryLogger } from "../../src/observability/log.js";
import { createAdmin } from "../../src/server/compose.js";
import { startFullServer, type FullServer } from "../harness/full-server.js";
import { run } from "../harness/smtp-clients.js";

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`haproxy exited ${child.exitCode}: ${stderr()}`);
    const up = await new Promise<boolean>((resolve) => {
      // From 127.0.0.9: HAProxy forwards even these probes, and Mailroom must see them as that client too.
      const socket = connect({ port, host: "127.0.0.1", localAddress: "127.0.0.9" });
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`haproxy did not listen on ${port}: ${stderr()}`);
}

interface Frontend {
  name: string;
  /** Mailroom's port behind it. */
  target: number;
  proxy: "send-proxy" | "send-proxy-v2";
  /** HAProxy's set-src: the client address it reports instead of the real one. */
  setSource?: string;
}

async function startHaproxy(frontends: Frontend[]): Promise<{ ports: Record<string, number>; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "mailroom-haproxy-"));
  const ports: Record<string, number> = {};
  const sections: string[] = [];
  for (const frontend of frontends) {
    ports[frontend.name] = await freePort();
    sections.push(
      `frontend ${frontend.name}`,
      `  bind 127.0.0.1:${ports[frontend.name]}`,
      ...(frontend.setSource === undefined ? [] : [`  tcp-request connection set-src ${frontend.setSource}`]),
      `  default_backend ${frontend.name}_mailroom`,
      `backend ${frontend.name}_mailroom`,
      `  server mailroom 127.0.0.1:${frontend.target} ${frontend.proxy}`,
    );
  }
  const config = ["global", "  maxconn 200", "defaults", "  mode tcp", "  timeout connect 5s", "  timeout client 30s", "  timeout server 30s", ...sections, ""].join("\n");
  await writeFile(join(dir, "haproxy.cfg"), config);
  const child = spawn("haproxy", ["-db", "-f", join(dir, "haproxy.cfg")], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    for (const port of Object.values(ports)) await waitForPort(port, child, () => stderr);
  } catch (error) {
    child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    ports,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function python(script: string, args: string[]): Promise<string> {
  return run("python3", ["-c", script, ...args]).then((result) => {
    if (result.code !== 0) throw new Error(`python failed (${result.code}): ${result.stderr}`);
    return result.stdout;
  });
}

// smtplib from 127.0.0.2 through HAProxy's send-proxy (v1) to port 25.
const SEND = `
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), source_address=("127.0.0.2", 0), timeout=20)
s.ehlo("client.example")
s.sendmail("someone@example.net", ["alice@example.org"], "From: someone@example.net\\r\\nTo: alice@example.org\\r\\nSubject: through haproxy\\r\\n\\r\\nhello\\r\\n")
s.quit()
print("sent")
`;

// imaplib from 127.0.0.2 through send-proxy-v2 to IMAP (STARTTLS), printing the message's trace fields.
const FETCH = `
import imaplib, socket, ssl, sys
class FromTwo(imaplib.IMAP4):
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=("127.0.0.2", 0))
m = FromTwo("127.0.0.1", int(sys.argv[1]), timeout=20)
m.starttls(ssl_context=ssl._create_unverified_context())
m.login("alice@example.org", "correct horse battery")
m.select("INBOX", readonly=True)
typ, data = m.fetch("1", "(BODY.PEEK[HEADER])")
sys.stdout.write(data[0][1].decode())
m.logout()
`;

// IMAPS (implicit TLS): the v2 header comes first, then the handshake.
const IMAPS_LOGIN = `
import imaplib, ssl, sys
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ssl._create_unverified_context(), timeout=20)
m.login("alice@example.org", "correct horse battery")
print(m.select("INBOX", readonly=True)[1][0].decode())
m.logout()
`;

const POP3_LOGIN = `
import poplib, ssl, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=20)
p.stls(context=ssl._create_unverified_context())
p.user("alice@example.org")
p.pass_("correct horse battery")
print(p.stat()[0])
p.quit()
`;

/** Reads what the server sends until it closes, or until `until` matches. */
async function converse(port: number, localAddress: string, send: (Buffer | string)[], until?: RegExp, timeoutMs = 5000): Promise<{ text: string; closed: boolean }> {
  const socket = connect({ port, host: "127.0.0.1", localAddress });
  let text = "";
  let closed = false;
  socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
  socket.on("error", () => {});
  await once(socket, "connect");
  for (const bytes of send) socket.write(bytes);
  const deadline = Date.now() + timeoutMs;
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (socket.destroyed || socket.readableEnded || (until !== undefined && until.test(text)) || Date.now() > deadline) {
        clearInterval(check);
        resolve();
      }
    }, 20);
    socket.once("close", () => (closed = true));
  });
  closed = closed || socket.readableEnded || socket.destroyed;
  socket.destroy();
  return { text, closed };
}

/** An open connection that waits for a greeting-like line and stays open. */
async function openAndGreet(port: number, localAddress: string): Promise<{ socket: Socket; greeting: string }> {
  const socket = connect({ port, host: "127.0.0.1", localAddress });
  socket.on("error", () => {});
  let text = "";
  socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
  await once(socket, "connect");
  for (let i = 0; i < 250 && !text.includes("\r\n") && !socket.destroyed; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  return { socket, greeting: text };
}

async function curl(args: string[]): Promise<{ status: number; body: string }> {
  const result = await run("curl", ["-sS", "-k", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}", ...args]);
  const at = result.stdout.lastIndexOf("\n");
  return { status: Number(result.stdout.slice(at + 1)), body: result.stdout.slice(0, at) };
}

async function setup(): Promise<{ full: FullServer; log: ReturnType<typeof createMemoryLogger> }> {
  const log = createMemoryLogger();
  const full = await startFullServer({
    protocols: ["smtp", "imap", "imaps", "pop3"],
    log,
    serverToml: 'proxy_protocol_trusted = ["127.0.0.1/32"]',
    extraToml: '[limits]\nconnections_per_ip = 2\nproxy_protocol_timeout = "700ms"\n[inbound]\ntrusted_networks = []\n',
  });
  const admin = createAdmin(full.server.config, full.server.store);
  await admin.addDomain("example.org");
  await admin.addUser({ address: "alice@example.org", password: "correct horse battery" });
  return { full, log };
}

const V2_SIGNATURE = Buffer.from("0d0a0d0a000d0a515549540a", "hex");

test("through HAProxy: Received, logs and per-IP limits name the client, not the balancer", async () => {
  const { full, log } = await setup();
  const http = full.server.http!.bound;
  const haproxy = await startHaproxy([
    { name: "smtp", target: full.portOf("smtp"), proxy: "send-proxy" },
    { name: "imap", target: full.portOf("imap"), proxy: "send-proxy-v2" },
    { name: "imaps", target: full.portOf("imaps"), proxy: "send-proxy-v2", setSource: "ipv4(198.51.100.9)" },
    { name: "pop3", target: full.portOf("pop3"), proxy: "send-proxy-v2", setSource: "ipv6(2001:db8::7)" },
    { name: "http", target: http.find((b) => b.scheme === "http")!.port, proxy: "send-proxy-v2", setSource: "ipv4(192.0.2.77)" },
    { name: "https", target: http.find((b) => b.scheme === "https")!.port, proxy: "send-proxy", setSource: "ipv4(192.0.2.78)" },
  ]);
  try {
    assert.equal((await python(SEND, [String(haproxy.ports["smtp"])])).trim(), "sent");
    const header = await python(FETCH, [String(haproxy.ports["imap"])]);
    const received = /^Received: [\s\S]*?(?=\r?\n\S)/m.exec(header)?.[0] ?? "";
    assert.match(received, /\[127\.0\.0\.2\]/, `the Received field names the client: ${received}`);
    assert.doesNotMatch(received, /127\.0\.0\.1/, "and not the balancer");
    // The address SPF is evaluated for and the accepted-message line names (session.remoteAddress).
    const accepted = log.records.find((r) => r.event === "smtp.accepted");
    assert.equal(accepted?.["clientIp"], "127.0.0.2", JSON.stringify(accepted));
    const imapSession = log.records.find((r) => r["protocol"] === "imap" && r["remote"] === "127.0.0.2" && r["proxy"] === "127.0.0.1");
    assert.ok(imapSession, "IMAP log lines carry the client as remote and the balancer as proxy");

    assert.match(await python(IMAPS_LOGIN, [String(haproxy.ports["imaps"])]), /^1$/m);
    assert.ok(log.records.some((r) => r["protocol"] === "imaps" && r["remote"] === "198.51.100.9"), "IMAPS: the header came before the TLS handshake");
    assert.equal((await python(POP3_LOGIN, [String(haproxy.ports["pop3"])])).trim(), "1");
    assert.ok(log.records.some((r) => r["protocol"] === "pop3" && r["remote"] === "2001:db8::7"), "POP3 over an IPv6 client address");
    const byBalancer = log.records.filter((r) => r["remote"] === "127.0.0.1" && typeof r["protocol"] === "string");
    assert.deepEqual(byBalancer, [], "no session was known by the balancer's address");

    // connections_per_ip = 2 counts clients, not the one balancer all connections come from.
    const first = await openAndGreet(haproxy.ports["imap"]!, "127.0.0.2");
    const second = await openAndGreet(haproxy.ports["imap"]!, "127.0.0.2");
    assert.match(first.greeting, /^\* OK/);
    assert.match(second.greeting, /^\* OK/);
    const third = await openAndGreet(haproxy.ports["imap"]!, "127.0.0.2");
    assert.match(third.greeting, /^\* BYE/, "a third connection from 127.0.0.2 is over its limit");
    const other = await openAndGreet(haproxy.ports["imap"]!, "127.0.0.3");
    assert.match(other.greeting, /^\* OK/, "another client through the same balancer is not");
    for (const c of [first, second, third, other]) c.socket.destroy();

    // HTTP(S): /metrics answers loopback only; the client HAProxy names is not loopback.
    const viaHttp = await curl([`http://127.0.0.1:${haproxy.ports["http"]}/metrics`]);
    assert.equal(viaHttp.status, 403, viaHttp.body);
    const viaHttps = await curl(["--resolve", `mx.example.org:${haproxy.ports["https"]}:127.0.0.1`, `https://mx.example.org:${haproxy.ports["https"]}/metrics`]);
    assert.equal(viaHttps.status, 403, viaHttps.body);
    assert.equal((await curl([`http://127.0.0.1:${haproxy.ports["http"]}/healthz`])).status, 200);
    // Directly from an untrusted loopback address (no header): served, and loopback.
    const direct = await curl(["--interface", "127.0.0.2", `http://127.0.0.1:${http.find((b) => b.scheme === "http")!.port}/metrics`]);
    assert.equal(direct.status, 200);
  } finally {
    await haproxy.stop();
    await full.stop();
  }
});

test("refused: a header from an untrusted peer, a trusted peer without a header or silent past the timeout", async () => {
  const { full, log } = await setup();
  try {
    // 127.0.0.2 is not trusted: its v1 header is never read as an SMTP command.
    const smtp = await converse(full.portOf("smtp"), "127.0.0.2", ["PROXY TCP4 203.0.113.1 127.0.0.1 1234 25\r\nEHLO x\r\n"]);
    assert.ok(smtp.closed);
    assert.match(smtp.text, /^220 /);
    assert.doesNotMatch(smtp.text, /^(250|500)/m, "the session never answered the header or what followed");
    // A v2 header to the implicit-TLS port: refused before OpenSSL sees it.
    const before = log.records.length;
    const imaps = await converse(full.portOf("imaps"), "127.0.0.2", [Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0, 12]), Buffer.alloc(12)])]);
    assert.ok(imaps.closed);
    assert.equal(imaps.text, "");
    const untrusted = log.records.filter((r) => r.event === "proxy.untrusted_header");
    assert.equal(untrusted.length, 2, JSON.stringify(untrusted));
    assert.ok(untrusted.every((r) => r["remote"] === "127.0.0.2"));
    assert.ok(!log.records.slice(before).some((r) => r.event === "tls.handshake_failed"), "named as a PROXY header, not as a TLS failure");
    // The plain session from 127.0.0.2 still works when it sends no header.
    const plain = await converse(full.portOf("imap"), "127.0.0.2", ["a1 CAPABILITY\r\n"], /^a1 OK/m);
    assert.match(plain.text, /^a1 OK/m);

    // From the trusted balancer, plain protocol instead of a header: refused, nothing sent.
    const noHeader = await converse(full.portOf("imap"), "127.0.0.1", ["a1 CAPABILITY\r\n"]);
    assert.ok(noHeader.closed);
    assert.equal(noHeader.text, "", "no greeting before the header");
    // Silence past limits.proxy_protocol_timeout (700 ms): refused.
    const started = Date.now();
    const silent = await converse(full.portOf("smtp"), "127.0.0.1", []);
    assert.ok(silent.closed);
    assert.equal(silent.text, "");
    assert.ok(Date.now() - started >= 600, "closed by the timeout");
    const refused = log.records.filter((r) => r.event === "proxy.header_refused").map((r) => r["reason"]);
    assert.deepEqual(refused.sort(), ["invalid", "timeout"]);
    // A v1 header from the balancer naming the client, split over two writes, then SMTP.
    const split = await converse(full.portOf("smtp"), "127.0.0.1", ["PROXY TCP6 2001:db8::", "42 ::1 5555 25\r\nEHLO client.example\r\n"], /^250 /m);
    assert.match(split.text, /^220 [\s\S]*^250[ -]/m);
    assert.ok(log.records.some((r) => r["protocol"] === "smtp" && r["remote"] === "2001:db8::42"));
  } finally {
    await full.stop();
  }
});
