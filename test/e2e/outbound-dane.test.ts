// DANE for SMTP (RFC 7672) in real deliveries A → B. A's outbound.dnssec_resolver is a real
// validating unbound over a b.test zone signed by ldns-signzone and served by NSD
// (test/harness/dnssec-lab.ts); B is a second Mailroom whose port the MX "mx.b.test" reaches
// (outbound.remote_port, so the TLSA name is _<that port>._tcp.mx.b.test).
// Cases: DANE-EE (a certificate no CA vouches for, delivered), DANE-TA (the TA in the chain),
// a TLSA record that does not match (4.7.5, logged, nothing sent), a receiver without STARTTLS
// (4.7.5, never plaintext), a bogus TLSA answer (4.7.5; with a second MX, that one is used), an
// unsigned zone (opportunistic TLS), and
// MTA-STS enforce naming another MX with a certificate for another name: DANE wins (RFC 8461 §2).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { createServer, type Server } from "node:https";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nodemailer from "nodemailer";
import { inboxTexts, type OutboundPair } from "../harness/outbound-pair.js";
import { createTestCa, issueCert, type IssuedCert, type TestCa } from "../harness/outbound-tls.js";
import { danePair } from "../harness/dane-pair.js";

let dir = "";
let ca: TestCa;
let mxCert: IssuedCert;
/** mx.b.test's certificate followed by the CA's: what a DANE-TA server presents. */
let chainCert: { certFile: string; keyFile: string };
let wrongNameCert: IssuedCert;
let https: Server;
let policy = "";
let fetches = 0;

function spkiSha256(pem: string): string {
  return createHash("sha256").update(new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" })).digest("hex");
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "mailroom-dane-"));
  ca = await createTestCa("Mailroom DANE TA");
  mxCert = await issueCert(ca, ["mx.b.test"], dir);
  wrongNameCert = await issueCert(ca, ["mx.wrong.test"], dir);
  chainCert = { certFile: join(dir, "chain.crt"), keyFile: mxCert.keyFile };
  await writeFile(chainCert.certFile, `${mxCert.cert.trim()}\n${ca.cert.trim()}\n`);
  const webCert = await issueCert(ca, ["mta-sts.b.test"], dir);
  https = createServer({ cert: webCert.cert, key: webCert.key }, (request, response) => {
    if (request.url !== "/.well-known/mta-sts.txt") return void response.writeHead(404).end();
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

async function submit(pair: OutboundPair, subject: string): Promise<void> {
  const transport = nodemailer.createTransport({ host: "127.0.0.1", port: pair.a.ports.submission!, secure: false, requireTLS: true, auth: { user: "alice@a.test", pass: "alice-pass" }, tls: { rejectUnauthorized: false } });
  await transport.sendMail({ from: "alice@a.test", to: "bob@b.test", subject, text: "dane test\n" });
  transport.close();
}

test("DANE-EE: a 3 1 1 record of B's key authenticates a certificate no trusted CA issued; delivered over TLS", async () => {
  const run = await danePair((port) => [`_${port}._tcp.mx IN TLSA 3 1 1 ${spkiSha256(mxCert.cert)}`], {}, { b: { certificate: mxCert } });
  try {
    const attempt = run.pair.nextAttempt();
    await submit(run.pair, "dane-ee");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => o.state), ["delivered"], report.outcomes[0]?.diagnostic);
    assert.match(report.outcomes[0]!.tls ?? "", /^TLSv1\.[23]$/);
    const [text] = await inboxTexts(run.pair.b);
    assert.match(text!, /Subject: dane-ee/);
    assert.match(text!, /from mx\.a\.test [^;]*with ESMTPS/);
    assert.deepEqual(
      run.outcomes.map((o) => [o.domain, o.mxHost, o.ok, o.resultType]),
      [["b.test", "mx.b.test", true, null]],
    );
    assert.match(run.outcomes[0]!.policy[0]!, /^3 1 1 [0-9a-f]{64}$/);
  } finally {
    await run.stop();
  }
});

test("DANE-TA: a 2 1 1 record of the issuer in the presented chain, and the MX name in the certificate; delivered", async () => {
  const run = await danePair((port) => [`_${port}._tcp.mx IN TLSA 2 1 1 ${spkiSha256(ca.cert)}`], {}, { b: { certificate: chainCert } });
  try {
    const attempt = run.pair.nextAttempt();
    await submit(run.pair, "dane-ta");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => o.state), ["delivered"], report.outcomes[0]?.diagnostic);
    assert.equal((await inboxTexts(run.pair.b)).length, 1);
    assert.equal(run.outcomes[0]?.ok, true);
    assert.match(run.outcomes[0]!.policy[0]!, /^2 1 1 /);
  } finally {
    await run.stop();
  }
});

test("a TLSA record that matches nothing: deferred 4.7.5 with the reason logged, nothing delivered", async () => {
  const run = await danePair((port) => [`_${port}._tcp.mx IN TLSA 3 1 1 ${"ab".repeat(32)}`], {}, { b: { certificate: mxCert } });
  try {
    const attempt = run.pair.nextAttempt();
    await submit(run.pair, "mismatch");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => [o.state, o.status]), [["deferred", "4.7.5"]]);
    assert.match(report.outcomes[0]!.diagnostic, /not authenticated: no TLSA record matches the presented certificate chain/);
    const logged = run.log.records.find((r) => r.event === "queue.dane_failed");
    assert.ok(logged, "a queue.dane_failed log line");
    assert.equal(logged.resultType, "certificate-not-trusted");
    assert.match(String(logged.reason), new RegExp(`server key SHA-256 ${spkiSha256(mxCert.cert)}`));
    assert.equal(run.outcomes[0]?.resultType, "certificate-not-trusted");
    assert.equal((await inboxTexts(run.pair.b)).length, 0);
  } finally {
    await run.stop();
  }
});

test("DANE and a receiver without STARTTLS: deferred 4.7.5, never sent in plaintext", async () => {
  const run = await danePair((port) => [`_${port}._tcp.mx IN TLSA 3 1 1 ${spkiSha256(mxCert.cert)}`], {}, { b: { noTls: true } });
  try {
    const attempt = run.pair.nextAttempt();
    await submit(run.pair, "no starttls");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => [o.state, o.status]), [["deferred", "4.7.5"]]);
    assert.match(report.outcomes[0]!.diagnostic, /does not offer STARTTLS/);
    assert.equal(run.outcomes[0]?.resultType, "starttls-not-supported");
    assert.equal((await inboxTexts(run.pair.b)).length, 0);
  } finally {
    await run.stop();
  }
});

test("a bogus TLSA answer (changed under its signature): unbound says SERVFAIL, the host is not tried, 4.7.5", async () => {
  const run = await danePair((port) => [`_${port}._tcp.mx IN TLSA 3 1 1 ${spkiSha256(mxCert.cert)}`], { tamper: (zone) => zone.replace(/(TLSA\s+3 1 1 )([0-9a-f]{2})/, (_, head: string, first: string) => `${head}${first === "00" ? "01" : "00"}`) }, { b: { certificate: mxCert } });
  try {
    const attempt = run.pair.nextAttempt();
    await submit(run.pair, "bogus");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => [o.state, o.status]), [["deferred", "4.7.5"]]);
    assert.match(report.outcomes[0]!.diagnostic, /DANE: TLSA lookup of _\d+\._tcp\.mx\.b\.test failed: .*SERVFAIL/);
    assert.equal(report.outcomes[0]!.relay, null, "B was never contacted");
    assert.equal(run.outcomes[0]?.resultType, "tlsa-invalid");
    assert.ok(run.log.records.some((r) => r.event === "queue.dane_failed" && r.resultType === "tlsa-invalid"));
    assert.equal((await inboxTexts(run.pair.b)).length, 0);
  } finally {
    await run.stop();
  }
});

test("a bogus TLSA answer for the first MX only: that host is skipped and the second MX, authenticated, gets the message", async () => {
  const run = await danePair(
    (port) => ["@ IN MX 20 mx2.b.test.", "mx2 IN A 127.0.0.1", `_${port}._tcp.mx IN TLSA 3 1 1 ${"00".repeat(32)}`, `_${port}._tcp.mx2 IN TLSA 3 1 1 ${spkiSha256(mxCert.cert)}`],
    { tamper: (zone) => zone.replace(/(_\d+\._tcp\.mx\.b\.test\.\s+\d+\s+IN\s+TLSA\s+3 1 1 )00/, "$101") },
    { b: { certificate: mxCert } },
  );
  try {
    const attempt = run.pair.nextAttempt();
    await submit(run.pair, "second mx");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => o.state), ["delivered"], report.outcomes[0]?.diagnostic);
    assert.match(report.outcomes[0]!.relay ?? "", /^mx2\.b\.test\[127\.0\.0\.1\]:/);
    assert.deepEqual(
      run.outcomes.map((o) => [o.mxHost, o.ok, o.resultType]),
      [
        ["mx.b.test", false, "tlsa-invalid"],
        ["mx2.b.test", true, null],
      ],
    );
  } finally {
    await run.stop();
  }
});

test("an unsigned zone (insecure): no DANE, the TLSA record is ignored, opportunistic TLS delivers", async () => {
  // The TLSA record would not match: it is not believed without DNSSEC, so it must not matter.
  const run = await danePair((port) => [`_${port}._tcp.mx IN TLSA 3 1 1 ${"ab".repeat(32)}`], { signed: false });
  try {
    const attempt = run.pair.nextAttempt();
    await submit(run.pair, "insecure");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => o.state), ["delivered"], report.outcomes[0]?.diagnostic);
    assert.match(report.outcomes[0]!.tls ?? "", /^TLSv1/, "still TLS (opportunistic, self-signed certificate)");
    assert.deepEqual(run.outcomes, []);
  } finally {
    await run.stop();
  }
});

test("MTA-STS enforce naming another MX, and a certificate for another name: DANE governs the host and it is delivered", async () => {
  policy = "version: STSv1\r\nmode: enforce\r\nmx: mx.other.test\r\nmax_age: 86400\r\n";
  fetches = 0;
  const run = await danePair(
    (port) => [`_${port}._tcp.mx IN TLSA 3 1 1 ${spkiSha256(wrongNameCert.cert)}`, '_mta-sts IN TXT "v=STSv1; id=20261203"', "mta-sts IN A 127.0.0.1"],
    {},
    { b: { certificate: wrongNameCert }, extras: { trustedCa: ca.cert, mtaStsPort: (https.address() as { port: number }).port } },
  );
  try {
    const attempt = run.pair.nextAttempt();
    await submit(run.pair, "dane over sts");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => o.state), ["delivered"], report.outcomes[0]?.diagnostic);
    assert.equal((await inboxTexts(run.pair.b)).length, 1);
    assert.equal(run.outcomes[0]?.ok, true);
    assert.equal(fetches, 1, "the MTA-STS policy was in force (fetched), and did not apply to the DANE host");
  } finally {
    await run.stop();
  }
});
