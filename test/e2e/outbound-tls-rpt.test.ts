// TLS-RPT sending (RFC 8460), A → B over real sockets: A (outbound.tls_rpt = true) delivers to B
// under B's MTA-STS policy, once through a receiver whose TLS handshake fails (a
// validation-failure) and once to B itself (a success); the counts go to A's store. The day's
// report is then made, sent through A's own queue (DKIM-signed on the way out) to the rua of
// `_smtp._tls.b.test` (bob@b.test) and POSTed to its https: rua; B receives the mail, and the
// report is gunzipped, parsed back with the intake's §4.4 schema check (delivery/tls-report.ts)
// and its counts compared.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { createServer, type Server, type Socket } from "node:net";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import nodemailer from "nodemailer";
import { decodePartBody, findTlsReportPart, parseTlsReport, reportJson } from "../../src/delivery/tls-report.js";
import { MimeTreeBuilder } from "../../src/mail/mime-tree.js";
import { silentLogger } from "../../src/observability/log.js";
import { createTlsRptSender } from "../../src/server/compose.js";
import { inboxTexts, startOutboundPair, type OutboundPair } from "../harness/outbound-pair.js";
import { createTestCa, issueCert, type IssuedCert, type TestCa } from "../harness/outbound-tls.js";

let dir = "";
let ca: TestCa;
let mxCert: IssuedCert;
let https: HttpsServer;
const posted: { type: string | undefined; body: Buffer }[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "mailroom-tls-rpt-"));
  ca = await createTestCa();
  mxCert = await issueCert(ca, ["mx.b.test"], dir);
  const webCert = await issueCert(ca, ["mta-sts.b.test", "tlsrpt.b.test"], dir);
  https = createHttpsServer({ cert: webCert.cert, key: webCert.key }, (request, response) => {
    if (request.method === "POST" && request.url === "/tlsrpt") {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        posted.push({ type: request.headers["content-type"], body: Buffer.concat(chunks) });
        response.writeHead(201).end();
      });
      return;
    }
    if (request.url !== "/.well-known/mta-sts.txt") return void response.writeHead(404).end();
    response.writeHead(200, { "content-type": "text/plain" }).end("version: STSv1\r\nmode: enforce\r\nmx: mx.b.test\r\nmax_age: 86400\r\n");
  });
  https.listen(0, "127.0.0.1");
  await once(https, "listening");
});

after(async () => {
  await new Promise((resolve) => https.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

async function submit(pair: OutboundPair, subject: string): Promise<void> {
  const transport = nodemailer.createTransport({ host: "127.0.0.1", port: pair.a.ports.submission!, secure: false, requireTLS: true, auth: { user: "alice@a.test", pass: "alice-pass" }, tls: { rejectUnauthorized: false } });
  await transport.sendMail({ from: "alice@a.test", to: "bob@b.test", subject, text: "tls-rpt test\n" });
  transport.close();
}

/** Offers STARTTLS, then answers the ClientHello with bytes that are not TLS. */
async function brokenTlsReceiver(port: number): Promise<Server> {
  const server = createServer((socket: Socket) => {
    socket.on("error", () => undefined);
    socket.write("220 broken.test ESMTP\r\n");
    let starting = false;
    socket.on("data", (chunk: Buffer) => {
      if (starting) return void socket.end("HTTP/1.0 400 Bad Request\r\n\r\n");
      for (const line of chunk.toString("latin1").split("\r\n").filter((l) => l !== "")) {
        const verb = line.split(/[ :]/)[0]!.toUpperCase();
        if (verb === "EHLO") socket.write("250-broken.test\r\n250 STARTTLS\r\n");
        else if (verb === "STARTTLS") {
          starting = true;
          socket.write("220 2.0.0 go ahead\r\n");
        } else socket.write("250 2.0.0 ok\r\n");
      }
    });
  });
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  return server;
}

test("TLS-RPT: a failure and a success are counted, and the day's report reaches the rua by mail (gzipped, DKIM-signed) and by HTTPS", async () => {
  const port = (https.address() as { port: number }).port;
  const pair = await startOutboundPair({
    outboundToml: 'tls_rpt = true\ntls_rpt_organization = "A Test Org"\ntls_rpt_contact = "tlsrpt@a.test"\ntls_rpt_from = "alice@a.test"',
    // One attempt per message here: the failed one waits an hour, so the counts are exact.
    retry: { scheduleMs: [3_600_000] },
    b: { certificate: mxCert },
    dns: {
      "_mta-sts.b.test": { TXT: [["v=STSv1; id=20261203"]] },
      "mta-sts.b.test": { A: ["127.0.0.1"] },
      "tlsrpt.b.test": { A: ["127.0.0.1"] },
      "_smtp._tls.b.test": { TXT: [[`v=TLSRPTv1; rua=mailto:bob@b.test,https://tlsrpt.b.test:${port}/tlsrpt`]] },
    },
    extras: { trustedCa: ca.cert, mtaStsPort: port },
  });
  try {
    // 1. B's MX answers with a broken TLS handshake: the policy forbids plaintext, the message waits.
    await pair.front.down();
    const broken = await brokenTlsReceiver(pair.front.port);
    const failed = pair.nextAttempt();
    await submit(pair, "first, deferred");
    assert.deepEqual((await failed).outcomes.map((o) => o.state), ["deferred"]);
    await new Promise((resolve) => broken.close(resolve));
    // 2. B itself: verified TLS, delivered.
    await pair.front.up("pass");
    const delivered = pair.nextAttempt((r) => r.outcomes.some((o) => o.state === "delivered"));
    await submit(pair, "second, delivered");
    await delivered;
    await pair.worker.flushTlsSessions();

    // 3. The report of today, made "tomorrow": sent through A's queue to bob@b.test, POSTed too.
    const store = pair.a.temp.store;
    const sender = createTlsRptSender(pair.config, { mail: store, accounts: store, queue: store, tlsRptSessions: store, close: async () => undefined }, silentLogger, { trustedCa: ca.cert })!;
    assert.ok(sender, "outbound.tls_rpt = true makes a sender");
    const reportMail = pair.nextAttempt((r) => r.outcomes.some((o) => o.state === "delivered"));
    assert.equal(await sender.sendDue(new Date(Date.now() + 86_400_000)), 1);
    assert.equal(await sender.sendDue(new Date(Date.now() + 86_400_000)), 0, "a day is reported once");
    await reportMail;

    const texts = await inboxTexts(pair.b);
    const text = texts.find((t) => /TLS-Report-Domain: b\.test/.test(t));
    assert.ok(text, "B received the report mail");
    assert.match(text, /Subject: Report Domain: b\.test Submitter: a\.test Report-ID: <[^>]+>/);
    assert.match(text, /TLS-Report-Submitter: a\.test/);
    assert.match(text, /Content-Type: multipart\/report; report-type="tlsrpt"/);
    assert.match(text, /filename="a\.test!b\.test!\d+!\d+!\w+\.json\.gz"/);
    assert.match(text, /DKIM-Signature: [^]*d=a\.test/, "signed with a.test's key");
    assert.match(text, /Authentication-Results: [^]*dkim=pass/, "B verified the signature");

    const bytes = Buffer.from(text, "utf8");
    const builder = new MimeTreeBuilder();
    builder.push(bytes);
    const parsed = builder.finish();
    const part = findTlsReportPart(parsed.root);
    assert.ok(part && part.gzipped);
    const gzipped = decodePartBody(bytes, part.part, 1_000_000);
    const raw = JSON.parse(gunzipSync(gzipped).toString("utf8")) as Record<string, unknown>;
    const report = parseTlsReport(await reportJson(gzipped, true, 1_000_000));
    assert.equal(report.organization, "A Test Org");
    assert.equal(report.contact, "tlsrpt@a.test");
    assert.equal(report.end.getTime() - report.start.getTime(), 86_399_000);
    assert.equal(report.policies.length, 1);
    const policy = report.policies[0]!;
    assert.deepEqual([policy.policyType, policy.policyDomain, policy.successfulSessions, policy.failedSessions], ["sts", "b.test", 1, 1]);
    assert.deepEqual(policy.failures.map((f) => [f.resultType, f.receivingMxHostname, f.failedSessionCount]), [["validation-failure", "mx.b.test", 1]]);
    const rawPolicy = (raw["policies"] as { policy: Record<string, unknown> }[])[0]!.policy;
    assert.deepEqual(rawPolicy["mx-host"], ["mx.b.test"]);
    assert.deepEqual(rawPolicy["policy-string"], ["version: STSv1", "mode: enforce", "mx: mx.b.test", "max_age: 86400"]);

    assert.equal(posted.length, 1, "POSTed to the https: rua");
    assert.equal(posted[0]!.type, "application/tlsrpt+gzip");
    assert.deepEqual(parseTlsReport(JSON.parse(gunzipSync(posted[0]!.body).toString("utf8"))).reportId, report.reportId);
  } finally {
    await pair.stop();
  }
});
