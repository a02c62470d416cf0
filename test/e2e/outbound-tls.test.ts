// Outbound TLS policy in real deliveries A → B over the loopback DNS server: MTA-STS (RFC 8461)
// with the policy served over HTTPS by mta-sts.b.test (a test CA's certificate, trusted by A as an
// extra anchor), and the outbound.require_tls switch.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:https";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nodemailer from "nodemailer";
import { inboxTexts, startOutboundPair, type OutboundPair, type OutboundPairOptions } from "../harness/outbound-pair.js";
import { createTestCa, issueCert, type IssuedCert, type TestCa } from "../harness/outbound-tls.js";

let dir = "";
let ca: TestCa;
let mxCert: IssuedCert;
let https: Server;
let policy = "";
let fetches = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "mailroom-outbound-tls-"));
  ca = await createTestCa();
  mxCert = await issueCert(ca, ["mx.b.test"], dir);
  const webCert = await issueCert(ca, ["mta-sts.b.test"], dir);
  https = createServer({ cert: webCert.cert, key: webCert.key }, (request, response) => {
    if (request.url !== "/.well-known/mta-sts.txt" || request.headers.host?.split(":")[0] !== "mta-sts.b.test") {
      response.writeHead(404).end();
      return;
    }
    fetches++;
    response.writeHead(200, { "content-type": "text/plain" }).end(policy);
  });
  https.listen(0, "127.0.0.1");
  await once(https, "listening");
});

after(async () => {
  await new Promise((resolve) => https.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

function stsPair(mode: string, mx: string, options: OutboundPairOptions = {}): Promise<OutboundPair> {
  policy = `version: STSv1\r\nmode: ${mode}\r\nmx: ${mx}\r\nmax_age: 86400\r\n`;
  fetches = 0;
  return startOutboundPair({
    ...options,
    dns: { "_mta-sts.b.test": { TXT: [["v=STSv1; id=20260101"]] }, "mta-sts.b.test": { A: ["127.0.0.1"] } },
    extras: { trustedCa: ca.cert, mtaStsPort: (https.address() as { port: number }).port },
  });
}

async function submit(pair: OutboundPair, subject: string): Promise<void> {
  const transport = nodemailer.createTransport({ host: "127.0.0.1", port: pair.a.ports.submission!, secure: false, requireTLS: true, auth: { user: "alice@a.test", pass: "alice-pass" }, tls: { rejectUnauthorized: false } });
  await transport.sendMail({ from: "alice@a.test", to: "bob@b.test", subject, text: "policy test\n" });
  transport.close();
}

test("MTA-STS enforce: the policy is fetched over HTTPS and the named MX gets the message over verified TLS", async () => {
  const pair = await stsPair("enforce", "mx.b.test", { b: { certificate: mxCert } });
  try {
    const attempt = pair.nextAttempt();
    await submit(pair, "sts enforced");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => o.state), ["delivered"], report.outcomes[0]?.diagnostic);
    assert.equal(fetches, 1);
    const [text] = await inboxTexts(pair.b);
    assert.match(text!, /Subject: sts enforced/);
    assert.match(text!, /from mx\.a\.test [^;]*with ESMTPS/, "B received it over TLS");
    assert.ok(pair.dns.log.includes("TXT _mta-sts.b.test") && pair.dns.log.includes("A mta-sts.b.test"));
  } finally {
    await pair.stop();
  }
});

test("MTA-STS enforce: a certificate not valid for the MX name (self-signed) is refused and the message waits", async () => {
  const pair = await stsPair("enforce", "mx.b.test");
  try {
    const attempt = pair.nextAttempt();
    await submit(pair, "bad certificate");
    const report = await attempt;
    assert.equal(report.outcomes[0]!.state, "deferred");
    assert.match(report.outcomes[0]!.diagnostic, /TLS handshake with mx\.b\.test failed: .*(self[- ]signed|certificate)/i);
    assert.equal((await inboxTexts(pair.b)).length, 0);
  } finally {
    await pair.stop();
  }
});

test("MTA-STS enforce: an MX host the policy does not name is not contacted (4.7.5, retried)", async () => {
  const pair = await stsPair("enforce", "mx.other.test", { b: { certificate: mxCert } });
  try {
    const attempt = pair.nextAttempt();
    await submit(pair, "wrong mx");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => [o.state, o.status]), [["deferred", "4.7.5"]]);
    assert.match(report.outcomes[0]!.diagnostic, /matches its MTA-STS policy/);
    assert.equal((await inboxTexts(pair.b)).length, 0);
  } finally {
    await pair.stop();
  }
});

test("MTA-STS testing: the same mismatch and a self-signed certificate only get logged; the message is delivered", async () => {
  const pair = await stsPair("testing", "mx.other.test");
  try {
    const attempt = pair.nextAttempt();
    await submit(pair, "testing mode");
    assert.equal((await attempt).outcomes[0]!.state, "delivered");
    assert.equal(fetches, 1);
    assert.equal((await inboxTexts(pair.b)).length, 1);
  } finally {
    await pair.stop();
  }
});

test("require_tls: a receiver without STARTTLS is retried, one with it gets the message over TLS", async () => {
  const plain = await startOutboundPair({ outboundToml: "require_tls = true", b: { noTls: true } });
  try {
    const attempt = plain.nextAttempt();
    await submit(plain, "needs tls");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => o.state), ["deferred"]);
    assert.match(report.outcomes[0]!.diagnostic, /TLS required but the server does not offer STARTTLS/);
    assert.equal((await inboxTexts(plain.b)).length, 0);
  } finally {
    await plain.stop();
  }
  const tls = await startOutboundPair({ outboundToml: "require_tls = true" });
  try {
    const attempt = tls.nextAttempt();
    await submit(tls, "needs tls");
    assert.equal((await attempt).outcomes[0]!.state, "delivered");
    assert.match((await inboxTexts(tls.b))[0]!, /with ESMTPS/);
  } finally {
    await tls.stop();
  }
});
