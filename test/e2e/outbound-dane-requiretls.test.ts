// DANE (RFC 7672) together with REQUIRETLS (RFC 8689) and TLS-RPT sending (RFC 8460), A → B over
// real sockets; A validates through a real unbound over an ldns-signzone'd b.test served by NSD
// (test/harness/dane-pair.ts). B's certificate comes from a CA A does not trust, so only DANE
// can authenticate it.
//   - REQUIRETLS (python smtplib on 587) to an MX with a matching DANE-EE record: the validated MX
//     is RFC 8689's "MX by DNSSEC", the TLSA match stands for the valid certificate (§4.2.1),
//     B offers REQUIRETLS: delivered over TLS.
//   - REQUIRETLS to the same signed MX with a TLSA record that does not match: never sent, the
//     sender gets a 5.7.10 DSN at once (header only).
//   - REQUIRETLS to a signed MX without TLSA records: the certificate must be PKIX-valid for the
//     MX name: B's certificate for another name (from a CA A trusts) fails 5.7.10; one for
//     mx.b.test is delivered.
//   - TLS-RPT: a mismatching first MX and a matching second one; the day's report, mailed through
//     A's queue to the rua found through the validating resolver, has a "tlsa" policy per MX
//     with its TLSA record as policy-string: a certificate-not-trusted failure and a success.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { decodePartBody, findTlsReportPart, parseTlsReport, reportJson } from "../../src/delivery/tls-report.js";
import { MimeTreeBuilder } from "../../src/mail/mime-tree.js";
import { silentLogger } from "../../src/observability/log.js";
import { createTlsRptSender } from "../../src/server/compose.js";
import { danePair, type DaneRun } from "../harness/dane-pair.js";
import { inboxTexts } from "../harness/outbound-pair.js";
import { createTestCa, issueCert, type IssuedCert, type TestCa } from "../harness/outbound-tls.js";
import { runPython } from "../harness/python.js";

let dir = "";
let ca: TestCa;
let mxCert: IssuedCert;
let wrongNameCert: IssuedCert;

function spkiSha256(pem: string): string {
  return createHash("sha256").update(new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" })).digest("hex");
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "mailroom-dane-requiretls-"));
  ca = await createTestCa("Mailroom DANE REQUIRETLS CA");
  mxCert = await issueCert(ca, ["mx.b.test"], dir);
  wrongNameCert = await issueCert(ca, ["mx.wrong.test"], dir);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** STARTTLS, AUTH and MAIL FROM with REQUIRETLS (and RET=FULL) on A's port 587, by python's smtplib. */
const SUBMIT = `
import smtplib, ssl, sys
port, subject = int(sys.argv[1]), sys.argv[2]
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s.starttls(context=ctx)
s.ehlo("client.test")
s.login("alice@a.test", "alice-pass")
code, text = s.mail("alice@a.test", ["REQUIRETLS", "RET=FULL"])
print("mail", code)
print("rcpt", s.rcpt("bob@b.test")[0])
print("data", s.data("From: alice@a.test\\r\\nTo: bob@b.test\\r\\nSubject: " + subject + "\\r\\n\\r\\nsecret body line\\r\\n")[0])
s.quit()
`;

async function submitRequireTls(run: DaneRun, subject: string): Promise<void> {
  const out = await runPython(SUBMIT, [String(run.pair.a.ports.submission!), subject]);
  assert.match(out, /^mail 250$/m);
  assert.match(out, /^data 250$/m);
}

test("REQUIRETLS over a DANE-authenticated MX: the TLSA match stands for the valid certificate; delivered with REQUIRETLS", async () => {
  const run = await danePair((port) => [`_${port}._tcp.mx IN TLSA 3 1 1 ${spkiSha256(mxCert.cert)}`], {}, { b: { certificate: mxCert } });
  try {
    const attempt = run.pair.nextAttempt();
    await submitRequireTls(run, "requiretls over dane");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => o.state), ["delivered"], report.outcomes[0]?.diagnostic);
    assert.match(report.outcomes[0]!.tls ?? "", /^TLSv1\.[23]$/);
    const [text] = await inboxTexts(run.pair.b);
    assert.match(text!, /Subject: requiretls over dane/);
    assert.match(text!, /with ESMTPS/);
    assert.deepEqual(run.outcomes.map((o) => [o.mxHost, o.ok, o.resultType]), [["mx.b.test", true, null]]);
  } finally {
    await run.stop();
  }
});

test("REQUIRETLS to a DNSSEC-signed MX whose TLSA record does not match: not sent, a 5.7.10 DSN at once (header only)", async () => {
  const run = await danePair((port) => [`_${port}._tcp.mx IN TLSA 3 1 1 ${"ab".repeat(32)}`], {}, { b: { certificate: mxCert } });
  try {
    const attempt = run.pair.nextAttempt();
    await submitRequireTls(run, "requiretls dane mismatch");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => [o.state, o.status]), [["failed", "5.7.10"]], report.outcomes[0]?.diagnostic);
    assert.match(report.outcomes[0]!.diagnostic, /not authenticated: no TLSA record matches/);
    assert.equal(run.outcomes[0]?.resultType, "certificate-not-trusted");
    assert.ok(run.log.records.some((r) => r.event === "queue.dane_failed"));
    assert.equal((await inboxTexts(run.pair.b)).length, 0, "B got nothing");
    const [dsn] = await inboxTexts(run.pair.a);
    assert.ok(dsn, "the sender got a DSN");
    assert.match(dsn, /Status: 5\.7\.10/);
    assert.match(dsn, /Content-Type: text\/rfc822-headers/, "header only despite RET=FULL (RFC 8689 §5)");
    assert.doesNotMatch(dsn, /secret body line/);
  } finally {
    await run.stop();
  }
});

test("REQUIRETLS to a DNSSEC-signed MX without TLSA records: its certificate must be PKIX-valid for the MX name", async () => {
  // A trusts the test CA here: only the name decides.
  const wrong = await danePair(() => [], {}, { b: { certificate: wrongNameCert }, extras: { trustedCa: ca.cert } });
  try {
    const attempt = wrong.pair.nextAttempt();
    await submitRequireTls(wrong, "requiretls wrong name");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => [o.state, o.status]), [["failed", "5.7.10"]], report.outcomes[0]?.diagnostic);
    assert.match(report.outcomes[0]!.diagnostic, /TLS handshake with mx\.b\.test failed/);
    assert.equal((await inboxTexts(wrong.pair.b)).length, 0);
    assert.deepEqual(wrong.outcomes, [], "no DANE for a host without TLSA records");
  } finally {
    await wrong.stop();
  }
  const right = await danePair(() => [], {}, { b: { certificate: mxCert }, extras: { trustedCa: ca.cert } });
  try {
    const attempt = right.pair.nextAttempt();
    await submitRequireTls(right, "requiretls dnssec mx");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => o.state), ["delivered"], report.outcomes[0]?.diagnostic);
    assert.equal((await inboxTexts(right.pair.b)).length, 1);
  } finally {
    await right.stop();
  }
});

test("TLS-RPT: DANE sessions are reported under policy-type tlsa, a failure (certificate-not-trusted) and a success", async () => {
  const goodKey = spkiSha256(mxCert.cert);
  const run = await danePair(
    (port) => [
      "@ IN MX 20 mx2.b.test.",
      "mx2 IN A 127.0.0.1",
      `_${port}._tcp.mx IN TLSA 3 1 1 ${"ab".repeat(32)}`,
      `_${port}._tcp.mx2 IN TLSA 3 1 1 ${goodKey}`,
      '_smtp._tls IN TXT "v=TLSRPTv1; rua=mailto:bob@b.test"',
    ],
    {},
    {
      b: { certificate: mxCert },
      outboundToml: 'tls_rpt = true\ntls_rpt_organization = "A Test Org"\ntls_rpt_contact = "tlsrpt@a.test"\ntls_rpt_from = "alice@a.test"',
      retry: { scheduleMs: [3_600_000] },
    },
  );
  try {
    // mx.b.test (preference 10) is refused by DANE, mx2.b.test takes the message.
    const attempt = run.pair.nextAttempt();
    await submitRequireTls(run, "counted");
    const report = await attempt;
    assert.deepEqual(report.outcomes.map((o) => o.state), ["delivered"], report.outcomes[0]?.diagnostic);
    assert.match(report.outcomes[0]!.relay ?? "", /^mx2\.b\.test\[/);
    await run.pair.worker.flushTlsSessions();

    const store = run.pair.a.temp.store;
    const sender = createTlsRptSender(run.pair.config, { mail: store, accounts: store, queue: store, tlsRptSessions: store, close: async () => undefined }, silentLogger)!;
    assert.ok(sender);
    const reportMail = run.pair.nextAttempt((r) => r.outcomes.some((o) => o.state === "delivered"));
    // The rua is found through the validating resolver (the zone is only there).
    assert.equal(await sender.sendDue(new Date(Date.now() + 86_400_000)), 1);
    await reportMail;

    const text = (await inboxTexts(run.pair.b)).find((t) => /TLS-Report-Domain: b\.test/.test(t));
    assert.ok(text, "B received the report mail");
    const bytes = Buffer.from(text, "utf8");
    const builder = new MimeTreeBuilder();
    builder.push(bytes);
    const part = findTlsReportPart(builder.finish().root);
    assert.ok(part && part.gzipped);
    const gzipped = decodePartBody(bytes, part.part, 1_000_000);
    // The intake's §4.4 schema check accepts it; the policy strings are read from the JSON itself.
    const parsed = parseTlsReport(await reportJson(gzipped, true, 1_000_000));
    assert.deepEqual(parsed.policies.map((p) => p.policyType), ["tlsa", "tlsa"], "one tlsa policy per MX host's records, nothing counted under another policy");
    type RawPolicy = { policy: Record<string, unknown>; summary: Record<string, number>; "failure-details"?: Record<string, unknown>[] };
    const raw = (JSON.parse(gunzipSync(gzipped).toString("utf8")) as { policies: RawPolicy[] }).policies;
    const failing = raw.find((p) => JSON.stringify(p.policy["policy-string"]) === JSON.stringify([`3 1 1 ${"ab".repeat(32)}`]));
    const passing = raw.find((p) => JSON.stringify(p.policy["policy-string"]) === JSON.stringify([`3 1 1 ${goodKey}`]));
    assert.ok(failing && passing, JSON.stringify(raw));
    assert.deepEqual([failing.policy["policy-type"], failing.policy["policy-domain"]], ["tlsa", "b.test"]);
    assert.deepEqual([failing.summary["total-successful-session-count"], failing.summary["total-failure-session-count"]], [0, 1]);
    assert.deepEqual(failing["failure-details"], [{ "result-type": "certificate-not-trusted", "receiving-ip": "127.0.0.1", "receiving-mx-hostname": "mx.b.test", "failed-session-count": 1 }]);
    assert.deepEqual([passing.summary["total-successful-session-count"], passing.summary["total-failure-session-count"]], [1, 0]);
  } finally {
    await run.stop();
  }
});
