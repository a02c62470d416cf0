// TLS-RPT sending pieces without sockets: the _smtp._tls record, the §4.4 JSON from stored
// counts (read back by the intake's schema check), the §5.3 file name, the recorder's batching.
// The whole path (delivery, report mail through the queue, HTTPS POST) is test/e2e/outbound-tls-rpt.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseTlsReport } from "../delivery/tls-report.js";
import { silentLogger } from "../observability/log.js";
import type { TlsRptSessionStore, TlsSessionCount } from "../store/index.js";
import { stsFetchResultType } from "./tls-outcome.js";
import { BatchedTlsSessionRecorder, sessionCount, type TlsSessionRecorder } from "./tls-rpt-recorder.js";
import { TlsFailure } from "./smtp-client.js";
import { buildReport, composeReportMail, parseTlsRptRecord, reportFileName } from "./tls-rpt-report.js";

test("the _smtp._tls record: v=TLSRPTv1 first, rua's mailto: and https: URIs, anything else is no record", () => {
  assert.deepEqual(parseTlsRptRecord("v=TLSRPTv1; rua=mailto:tls@example.org, https://r.example.org/v1"), ["mailto:tls@example.org", "https://r.example.org/v1"]);
  assert.equal(parseTlsRptRecord("v=TLSRPTv2; rua=mailto:tls@example.org"), null);
  assert.equal(parseTlsRptRecord("v=TLSRPTv1;"), null);
  assert.equal(parseTlsRptRecord("v=TLSRPTv1; rua=ftp://x"), null);
});

test("a day's counts become the RFC 8460 §4.4 report, one policy entry per policy, that the intake accepts", () => {
  const sts = { day: "2026-12-03", policyDomain: "example.org", policyType: "sts", policyStrings: ["version: STSv1", "mode: enforce", "mx: mx.example.org", "max_age: 86400"] };
  const counts: TlsSessionCount[] = [
    { ...sts, mxHost: "mx.example.org", receivingIp: "192.0.2.1", resultType: "", sessions: 7 },
    { ...sts, mxHost: "mx.example.org", receivingIp: "192.0.2.1", resultType: "certificate-expired", sessions: 2 },
    { ...sts, mxHost: "", receivingIp: "", resultType: "sts-policy-fetch-error", sessions: 1 },
    { day: "2026-12-03", policyDomain: "example.org", policyType: "no-policy-found", policyStrings: [], mxHost: "mx.example.org", receivingIp: "192.0.2.1", resultType: "", sessions: 3 },
  ];
  const json = buildReport(counts, { organization: "Org", contact: "c@example.net", reportId: "r1", day: "2026-12-03" });
  const report = parseTlsReport(JSON.parse(JSON.stringify(json)));
  assert.deepEqual([report.start.toISOString(), report.end.toISOString()], ["2026-12-03T00:00:00.000Z", "2026-12-03T23:59:59.000Z"]);
  assert.deepEqual(report.policies.map((p) => [p.policyType, p.successfulSessions, p.failedSessions, p.failures.length]), [["sts", 7, 3, 2], ["no-policy-found", 3, 0, 0]]);
  assert.deepEqual(report.policies[0]!.failures.map((f) => [f.resultType, f.receivingMxHostname, f.failedSessionCount]), [["certificate-expired", "mx.example.org", 2], ["sts-policy-fetch-error", null, 1]]);
  assert.equal(reportFileName("example.net", "example.org", "2026-12-03", "abc"), "example.net!example.org!1796256000!1796342399!abc.json.gz");
});

test("MTA-STS fetch failures get their RFC 8460 §4.3.1 result types", () => {
  assert.equal(stsFetchResultType("self-signed certificate"), "sts-webpki-invalid");
  assert.equal(stsFetchResultType("Hostname/IP does not match certificate's altnames"), "sts-webpki-invalid");
  assert.equal(stsFetchResultType("MTA-STS policy: no mx line"), "sts-policy-invalid");
  assert.equal(stsFetchResultType("media type text/html"), "sts-policy-invalid");
  assert.equal(stsFetchResultType("HTTP status 404"), "sts-policy-fetch-error");
  assert.equal(stsFetchResultType("connect ECONNREFUSED"), "sts-policy-fetch-error");
});

test("the recorder sums sessions in memory and writes one batch per flush; a failed write is kept for the next", async () => {
  const batches: TlsSessionCount[][] = [];
  let fail = true;
  const store = {
    addTlsSessions: async (counts: readonly TlsSessionCount[]) => {
      if (fail) throw new Error("store down");
      batches.push([...counts]);
    },
  } as unknown as TlsRptSessionStore;
  const recorder = new BatchedTlsSessionRecorder({ store, log: silentLogger, flushIntervalMs: 3_600_000, clock: () => new Date("2026-12-03T10:00:00Z") });
  const policy = { type: "no-policy-found" as const, domain: "Example.ORG", strings: [], mxHost: [] };
  for (let i = 0; i < 1000; i++) recorder.session(policy, "MX.example.org", "192.0.2.1", "success");
  recorder.session(policy, "mx.example.org", "192.0.2.1", "starttls-not-supported");
  await recorder.flush();
  assert.equal(batches.length, 0);
  fail = false;
  recorder.session(policy, "mx.example.org", "192.0.2.1", "success");
  await recorder.stop();
  assert.equal(batches.length, 1);
  assert.deepEqual(batches[0]!.map((c) => [c.day, c.policyDomain, c.mxHost, c.resultType, c.sessions]), [
    ["2026-12-03", "example.org", "mx.example.org", "", 1001],
    ["2026-12-03", "example.org", "mx.example.org", "starttls-not-supported", 1],
  ]);
});

test("one connection is one session: TLS a success, plaintext starttls-not-supported, a failed handshake then plaintext only the failure", () => {
  const seen: string[] = [];
  const recorder: TlsSessionRecorder = { session: (_policy, mx, ip, result) => seen.push(`${mx} ${ip} ${result}`), policyFailure: () => undefined };
  const policy = { type: "no-policy-found" as const, domain: "example.org", strings: [], mxHost: [] };
  const host = { name: "mx.example.org", port: 25, tls: "opportunistic" as const, auth: null, tlsPolicy: policy };
  sessionCount(recorder, host, "192.0.2.1").opened(true);
  sessionCount(recorder, host, "192.0.2.1").opened(false);
  const fallback = sessionCount(recorder, host, "192.0.2.1");
  fallback.failed(new TlsFailure("x", "handshake", "ERR_SSL_WRONG_VERSION_NUMBER"));
  fallback.opened(false);
  sessionCount(recorder, { ...host, tlsPolicy: undefined }, "192.0.2.9").opened(true);
  assert.deepEqual(seen, ["mx.example.org 192.0.2.1 success", "mx.example.org 192.0.2.1 starttls-not-supported", "mx.example.org 192.0.2.1 validation-failure"]);
});

test("the report mail says TLS-Required: No, so the recipient's MTA-STS or DANE cannot hold the report of its own TLS failures (RFC 8460 §3)", () => {
  const mail = composeReportMail({ from: "postmaster@a.test", to: ["tlsrpt@b.test"], policyDomain: "b.test", reportId: "r1@a.test", fileName: "a.test!b.test!0!86399!x.json.gz", gzipped: Buffer.from([1, 2, 3]), organization: "A", day: "2026-12-02", now: new Date("2026-12-03T00:00:00Z"), hostname: "mx.a.test" }).toString("latin1");
  const header = mail.slice(0, mail.indexOf("\r\n\r\n"));
  assert.match(header, /^TLS-Required: No$/m);
});
