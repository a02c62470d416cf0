// Opportunistic TLS done right and REQUIRETLS (RFC 8689), A → B over real sockets.
//   - A receiver that offers STARTTLS but whose handshake fails gets the message at once in
//     plaintext (Postfix's behaviour), unless a policy (MTA-STS enforce) asks for authentication:
//     then the message waits (4.7.x) and nothing is sent in plaintext.
//   - REQUIRETLS submitted by python's smtplib on port 587: delivered to B over verified TLS when
//     an MTA-STS policy in mode enforce authenticates B's MX (B offers REQUIRETLS after STARTTLS);
//     returned to the sender with a 5.7.10 DSN (header only, even with RET=FULL) when nothing
//     authenticates the MX; passed on in MAIL FROM to a TLS receiver that offers it, refused
//     5.7.30 (a DSN) when it does not; `TLS-Required: No` lets a message past a policy it would fail.
//   - Our listeners offer REQUIRETLS only under TLS and refuse the parameter without it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { createServer, type Server, type Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inboxTexts, startOutboundPair, type OutboundPair, type OutboundPairOptions } from "../harness/outbound-pair.js";
import { createTestCa, issueCert, type IssuedCert, type TestCa } from "../harness/outbound-tls.js";
import { runPython } from "../harness/python.js";

let dir = "";
let ca: TestCa;
let mxCert: IssuedCert;
let https: HttpsServer;
let policy = "";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "mailroom-requiretls-"));
  ca = await createTestCa();
  mxCert = await issueCert(ca, ["mx.b.test"], dir);
  const webCert = await issueCert(ca, ["mta-sts.b.test"], dir);
  https = createHttpsServer({ cert: webCert.cert, key: webCert.key }, (request, response) => {
    if (request.url !== "/.well-known/mta-sts.txt") return void response.writeHead(404).end();
    response.writeHead(200, { "content-type": "text/plain" }).end(policy);
  });
  https.listen(0, "127.0.0.1");
  await once(https, "listening");
});

after(async () => {
  await new Promise((resolve) => https.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

/** A pair whose B publishes an MTA-STS policy (mode, mx) served over HTTPS by the test CA. */
function stsPair(mode: string, mx: string, options: OutboundPairOptions = {}): Promise<OutboundPair> {
  policy = `version: STSv1\r\nmode: ${mode}\r\nmx: ${mx}\r\nmax_age: 86400\r\n`;
  return startOutboundPair({
    ...options,
    dns: { "_mta-sts.b.test": { TXT: [["v=STSv1; id=20261203"]] }, "mta-sts.b.test": { A: ["127.0.0.1"] } },
    extras: { trustedCa: ca.cert, mtaStsPort: (https.address() as { port: number }).port },
  });
}

/**
 * Submits with python's smtplib on A's port 587: STARTTLS, AUTH, then MAIL FROM with the given
 * options. Prints the EHLO keywords before and after STARTTLS, then the MAIL reply.
 */
const SUBMIT = `
import smtplib, ssl, sys
port, subject, options, header = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(), sys.argv[4]
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.test")
print("before", "requiretls" in s.esmtp_features)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s.starttls(context=ctx)
s.ehlo("client.test")
print("after", "requiretls" in s.esmtp_features)
s.login("alice@a.test", "alice-pass")
message = "From: alice@a.test\\r\\nTo: bob@b.test\\r\\nSubject: " + subject + "\\r\\n" + (header + "\\r\\n" if header else "") + "\\r\\nsecret body line\\r\\n"
code, text = s.mail("alice@a.test", options)
print("mail", code, text.decode())
code, text = s.rcpt("bob@b.test")
print("rcpt", code)
code, text = s.data(message)
print("data", code)
s.quit()
`;

async function submit(pair: OutboundPair, subject: string, options: string[], header = ""): Promise<string> {
  return runPython(SUBMIT, [String(pair.a.ports.submission!), subject, options.join(" "), header]);
}

/**
 * A receiver that offers STARTTLS and answers it 220, then sends bytes that are not TLS: every
 * handshake fails. Without TLS it takes the message. `sessions` counts connections.
 */
async function brokenTlsReceiver(port: number): Promise<{ server: Server; received: string[]; sessions: { tls: number; plain: number } }> {
  const received: string[] = [];
  const sessions = { tls: 0, plain: 0 };
  const server = createServer((socket: Socket) => {
    socket.on("error", () => undefined);
    socket.write("220 broken.test ESMTP\r\n");
    let buffer = "";
    let data: string | null = null;
    let triedTls = false;
    socket.on("data", (chunk: Buffer) => {
      if (triedTls) {
        // The client's ClientHello: the answer is not a TLS record, so its handshake fails
        // ("wrong version number" or the like).
        socket.end("HTTP/1.0 400 Bad Request\r\n\r\n");
        return;
      }
      buffer += chunk.toString("latin1");
      let end: number;
      while ((end = buffer.indexOf("\r\n")) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (data !== null) {
          if (line === ".") {
            received.push(data);
            data = null;
            socket.write("250 2.0.0 kept\r\n");
          } else data += `${line}\n`;
          continue;
        }
        const verb = line.split(/[ :]/)[0]!.toUpperCase();
        if (verb === "EHLO") socket.write("250-broken.test\r\n250-8BITMIME\r\n250 STARTTLS\r\n");
        else if (verb === "STARTTLS") {
          sessions.tls++;
          triedTls = true;
          socket.write("220 2.0.0 go ahead\r\n");
          return;
        } else if (verb === "MAIL") {
          sessions.plain++;
          socket.write("250 2.1.0 ok\r\n");
        } else if (verb === "DATA") {
          data = "";
          socket.write("354 go ahead\r\n");
        } else if (verb === "QUIT") {
          socket.end("221 2.0.0 bye\r\n");
          return;
        } else socket.write("250 2.0.0 ok\r\n");
      }
    });
  });
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  return { server, received, sessions };
}

test("opportunistic TLS: a failed STARTTLS handshake is followed at once by delivery in plaintext to the same host", async () => {
  const pair = await startOutboundPair();
  // The MX port (B's front) is taken over by the broken receiver.
  await pair.front.down();
  const broken = await brokenTlsReceiver(pair.front.port);
  try {
    const attempt = pair.nextAttempt();
    await submit(pair, "fallback", []);
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => o.state), ["delivered"], report.outcomes[0]?.diagnostic);
    assert.equal(report.outcomes[0]!.tls, null, "sent without TLS");
    assert.deepEqual(broken.sessions, { tls: 1, plain: 1 }, "one failed handshake, then one plaintext session");
    assert.equal(broken.received.length, 1);
    assert.match(broken.received[0]!, /Subject: fallback/);
  } finally {
    await new Promise((resolve) => broken.server.close(resolve));
    await pair.stop();
  }
});

test("MTA-STS enforce: the same failed handshake defers the message (4.7.5) and nothing goes in plaintext", async () => {
  const pair = await stsPair("enforce", "mx.b.test");
  await pair.front.down();
  const broken = await brokenTlsReceiver(pair.front.port);
  try {
    const attempt = pair.nextAttempt();
    await submit(pair, "no fallback", []);
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => [o.state, o.status]), [["deferred", "4.7.5"]], report.outcomes[0]?.diagnostic);
    assert.match(report.outcomes[0]!.diagnostic, /TLS handshake with mx\.b\.test failed/);
    assert.equal(broken.sessions.plain, 0);
    assert.equal(broken.received.length, 0);
  } finally {
    await new Promise((resolve) => broken.server.close(resolve));
    await pair.stop();
  }
});

/** On an MX listener (port 25): MAIL FROM with REQUIRETLS before and after STARTTLS. */
const MX_SESSION = `
import smtplib, ssl, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.test")
print("before", "requiretls" in s.esmtp_features)
code, text = s.mail("someone@c.test", ["REQUIRETLS"])
print("plain-mail", code, text.decode())
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s.starttls(context=ctx)
s.ehlo("client.test")
print("after", "requiretls" in s.esmtp_features)
code, text = s.mail("someone@c.test", ["REQUIRETLS"])
print("mail", code)
print("rcpt", s.rcpt("alice@a.test")[0])
print("data", s.data("From: someone@c.test\\r\\nSubject: tagged\\r\\n\\r\\nhi\\r\\n")[0])
s.quit()
`;

test("REQUIRETLS on our MX listener: not offered and refused (530 5.7.10) without TLS, offered and accepted after STARTTLS", async () => {
  const pair = await startOutboundPair();
  try {
    const out = await runPython(MX_SESSION, [String(pair.a.ports.mx!)]);
    assert.match(out, /^before False$/m);
    assert.match(out, /^plain-mail 530 5\.7\.10 REQUIRETLS needs TLS/m);
    assert.match(out, /^after True$/m);
    assert.match(out, /^mail 250$/m);
    assert.match(out, /^data 250$/m);
    assert.equal((await inboxTexts(pair.a)).length, 1);
  } finally {
    await pair.stop();
  }
});

test("REQUIRETLS on submission: offered after STARTTLS, delivered over verified TLS to an MTA-STS-authenticated MX", async () => {
  const pair = await stsPair("enforce", "mx.b.test", { b: { certificate: mxCert } });
  try {
    const attempt = pair.nextAttempt();
    const out = await submit(pair, "requiretls ok", ["REQUIRETLS"]);
    assert.match(out, /^before False$/m);
    assert.match(out, /^after True$/m);
    assert.match(out, /^mail 250 /m);
    assert.match(out, /^data 250$/m);
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => o.state), ["delivered"], report.outcomes[0]?.diagnostic);
    assert.match(report.outcomes[0]!.tls ?? "", /^TLSv1\.[23]$/);
    const [text] = await inboxTexts(pair.b);
    assert.match(text!, /Subject: requiretls ok/);
    assert.match(text!, /with ESMTPS/);
  } finally {
    await pair.stop();
  }
});

test("REQUIRETLS: an MX no policy authenticates fails at once; the sender's DSN says 5.7.10 and returns the header only", async () => {
  const pair = await startOutboundPair({ b: { certificate: mxCert } });
  try {
    const attempt = pair.nextAttempt();
    await runPython(SUBMIT.replace('s.mail("alice@a.test", options)', 's.mail("alice@a.test", options + ["RET=FULL"])'), [String(pair.a.ports.submission!), "requiretls refused", "REQUIRETLS", ""]);
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => [o.state, o.status]), [["failed", "5.7.10"]]);
    assert.match(report.outcomes[0]!.diagnostic, /REQUIRETLS: the MX hosts of b\.test \(mx\.b\.test\) are not authenticated/);
    assert.equal((await inboxTexts(pair.b)).length, 0);
    const [dsn] = await inboxTexts(pair.a);
    assert.match(dsn!, /Status: 5\.7\.10/);
    assert.match(dsn!, /REQUIRETLS/);
    assert.match(dsn!, /Content-Type: text\/rfc822-headers/, "header only despite RET=FULL");
    assert.doesNotMatch(dsn!, /secret body line/);
  } finally {
    await pair.stop();
  }
});

test("TLS-Required: No: a message the MTA-STS policy would hold (MX not named) goes with opportunistic TLS", async () => {
  const pair = await stsPair("enforce", "mx.other.test");
  try {
    const held = pair.nextAttempt();
    await submit(pair, "policy holds this", []);
    assert.deepEqual((await held).outcomes.map((o) => [o.state, o.status]), [["deferred", "4.7.5"]]);
    const attempt = pair.nextAttempt((r) => r.outcomes.some((o) => o.state === "delivered"));
    await submit(pair, "tls optional", [], "TLS-Required: No");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => o.state), ["delivered"]);
    const texts = await inboxTexts(pair.b);
    assert.equal(texts.length, 1);
    assert.match(texts[0]!, /Subject: tls optional/);
  } finally {
    await pair.stop();
  }
});

/**
 * A receiver with verified TLS (the test CA's certificate for mx.b.test) that offers REQUIRETLS
 * after STARTTLS or not; it keeps the MAIL lines it was sent and answers every message 250.
 */
async function tlsReceiver(port: number, offerRequireTls: boolean): Promise<{ server: Server; mailLines: string[] }> {
  const mailLines: string[] = [];
  const server = createServer((plain: Socket) => {
    plain.on("error", () => undefined);
    let socket: Socket = plain;
    let secure = false;
    let buffer = "";
    let inData = false;
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString("latin1");
      let end: number;
      while ((end = buffer.indexOf("\r\n")) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (inData) {
          if (line === ".") {
            inData = false;
            socket.write("250 2.0.0 kept\r\n");
          }
          continue;
        }
        const verb = line.split(/[ :]/)[0]!.toUpperCase();
        if (verb === "EHLO") socket.write(secure ? `250-tls.test\r\n250-8BITMIME\r\n${offerRequireTls ? "250-REQUIRETLS\r\n" : ""}250 PIPELINING\r\n` : "250-tls.test\r\n250 STARTTLS\r\n");
        else if (verb === "STARTTLS") {
          socket.write("220 2.0.0 go ahead\r\n");
          plain.off("data", onData);
          const tls = new TLSSocket(plain, { isServer: true, cert: mxCert.cert, key: mxCert.key });
          tls.on("error", () => undefined);
          tls.on("data", onData);
          socket = tls;
          secure = true;
          return;
        } else if (verb === "MAIL") {
          mailLines.push(line);
          socket.write("250 2.1.0 ok\r\n");
        } else if (verb === "DATA") {
          inData = true;
          socket.write("354 go ahead\r\n");
        } else if (verb === "QUIT") {
          socket.end("221 2.0.0 bye\r\n");
          return;
        } else socket.write("250 2.0.0 ok\r\n");
      }
    };
    plain.on("data", onData);
    plain.write("220 tls.test ESMTP\r\n");
  });
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  return { server, mailLines };
}

test("REQUIRETLS is passed on in MAIL FROM to a receiver that offers it; one that does not is refused 5.7.30 and the sender gets a DSN", async () => {
  const pair = await stsPair("enforce", "mx.b.test");
  await pair.front.down();
  let receiver = await tlsReceiver(pair.front.port, true);
  try {
    const sent = pair.nextAttempt();
    await submit(pair, "passed on", ["REQUIRETLS"]);
    assert.deepEqual((await sent).outcomes.map((o) => o.state), ["delivered"], (await sent).outcomes[0]?.diagnostic);
    assert.deepEqual(receiver.mailLines.map((line) => / REQUIRETLS(\s|$)/.test(line)), [true], receiver.mailLines.join("\n"));
    await new Promise((resolve) => receiver.server.close(resolve));
    receiver = await tlsReceiver(pair.front.port, false);
    const refused = pair.nextAttempt();
    await submit(pair, "not offered", ["REQUIRETLS"]);
    const report = await refused;
    assert.deepEqual(report.outcomes.map((o) => [o.state, o.status]), [["failed", "5.7.30"]]);
    assert.match(report.outcomes[0]!.diagnostic, /REQUIRETLS support required: mx\.b\.test does not offer REQUIRETLS/);
    assert.equal(receiver.mailLines.length, 0, "no transaction was started");
    const dsn = (await inboxTexts(pair.a)).find((text) => /Status: 5\.7\.30/.test(text));
    assert.ok(dsn, "the sender got a DSN with 5.7.30");
  } finally {
    await new Promise((resolve) => receiver.server.close(resolve));
    await pair.stop();
  }
});
