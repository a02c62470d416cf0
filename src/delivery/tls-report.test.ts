import assert from "node:assert/strict";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { MimeTreeBuilder, type ParsedMessage } from "../mail/mime-tree.js";
import { silentLogger } from "../observability/log.js";
import type { StoredTlsReport, TlsReport, TlsReportStore } from "../store/index.js";
import { TlsReportError, createTlsReportIntake, parseTlsReport, reportJson } from "./tls-report.js";

/** RFC 8460 §4.5's example report, with a second failure kind. */
export const SAMPLE = {
  "organization-name": "Company-X",
  "date-range": { "start-datetime": "2016-04-01T00:00:00Z", "end-datetime": "2016-04-01T23:59:59Z" },
  "contact-info": "sts-reporting@company-x.example",
  "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
  policies: [
    {
      policy: { "policy-type": "sts", "policy-string": ["version: STSv1", "mode: testing", "mx: *.mail.company-y.example", "max_age: 86400"], "policy-domain": "company-y.example", "mx-host": ["*.mail.company-y.example"] },
      summary: { "total-successful-session-count": 5326, "total-failure-session-count": 303 },
      "failure-details": [
        { "result-type": "certificate-expired", "sending-mta-ip": "2001:db8:abcd:0012::1", "receiving-mx-hostname": "mx1.mail.company-y.example", "failed-session-count": 100 },
        { "result-type": "starttls-not-supported", "sending-mta-ip": "2001:db8:abcd:0013::1", "receiving-mx-hostname": "mx2.mail.company-y.example", "receiving-ip": "203.0.113.56", "failed-session-count": 200, "additional-information": "https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported" },
        { "result-type": "validation-failure", "sending-mta-ip": "198.51.100.62", "receiving-ip": "203.0.113.58", "receiving-mx-hostname": "mx-backup.mail.company-y.example", "failed-session-count": 3, "failure-reason-code": "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED" },
      ],
    },
  ],
};

test("RFC 8460's example report: every field read", () => {
  const report = parseTlsReport(SAMPLE);
  assert.equal(report.organization, "Company-X");
  assert.equal(report.reportId, "5065427c-23d3-47ca-b6e0-946ea0e8c4be");
  assert.equal(report.start.toISOString(), "2016-04-01T00:00:00.000Z");
  assert.equal(report.policies.length, 1);
  const policy = report.policies[0]!;
  assert.deepEqual([policy.policyType, policy.policyDomain, policy.successfulSessions, policy.failedSessions], ["sts", "company-y.example", 5326, 303]);
  assert.deepEqual(policy.failures.map((f) => [f.resultType, f.failedSessionCount, f.receivingMxHostname]), [
    ["certificate-expired", 100, "mx1.mail.company-y.example"],
    ["starttls-not-supported", 200, "mx2.mail.company-y.example"],
    ["validation-failure", 3, "mx-backup.mail.company-y.example"],
  ]);
});

test("schema violations name the field", () => {
  const broken = (mutate: (report: Record<string, unknown>) => void) => {
    const copy = structuredClone(SAMPLE) as unknown as Record<string, unknown>;
    mutate(copy);
    return () => parseTlsReport(copy);
  };
  assert.throws(broken((r) => delete r["organization-name"]), /organization-name/);
  assert.throws(broken((r) => ((r["date-range"] as Record<string, unknown>)["start-datetime"] = "yesterday")), /start-datetime/);
  assert.throws(broken((r) => ((r["date-range"] as Record<string, unknown>)["end-datetime"] = "2015-01-01T00:00:00Z")), /ends before/);
  assert.throws(broken((r) => (r["policies"] = [])), /policies/);
  assert.throws(broken((r) => (((r["policies"] as Record<string, Record<string, unknown>>[])[0]!["summary"]!)["total-failure-session-count"] = -1)), /total-failure-session-count/);
  assert.throws(broken((r) => (((r["policies"] as Record<string, unknown>[])[0]!)["failure-details"] = [{ "result-type": "x", "failed-session-count": 1.5 }])), /failed-session-count/);
  assert.throws(() => parseTlsReport([]), TlsReportError);
  assert.throws(() => parseTlsReport(null), TlsReportError);
});

test("gzip and plain JSON read; a gzip bomb stops at the limit; damaged gzip and non-JSON are TlsReportErrors", async () => {
  const json = Buffer.from(JSON.stringify(SAMPLE));
  assert.deepEqual(await reportJson(gzipSync(json), true, 1024 * 1024), SAMPLE);
  assert.deepEqual(await reportJson(json, false, 1024 * 1024), SAMPLE);
  assert.deepEqual(await reportJson(gzipSync(json), false, 1024 * 1024), SAMPLE, "a gzipped +json part is still read");
  const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20));
  assert.ok(bomb.length < 100 * 1024);
  await assert.rejects(reportJson(bomb, true, 1024 * 1024), /larger than 1048576 bytes decompressed/);
  await assert.rejects(reportJson(gzipSync(json).subarray(0, 40), true, 1024 * 1024), /gzip data is damaged/);
  await assert.rejects(reportJson(Buffer.from("{not json"), false, 1024), /not JSON/);
  await assert.rejects(reportJson(Buffer.from("PK\x03\x04zip"), true, 1024), /neither gzip nor JSON/);
});

test("hostile JSON: parseTlsReport throws only TlsReportError", () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
      try {
        parseTlsReport(value);
      } catch (error) {
        assert.ok(error instanceof TlsReportError, String(error));
      }
    }),
    { numRuns: 2000 },
  );
});

function parseMessage(bytes: Buffer): ParsedMessage {
  const builder = new MimeTreeBuilder();
  builder.push(bytes);
  return builder.finish();
}

function memoryStore(): TlsReportStore & { reports: StoredTlsReport[] } {
  const reports: StoredTlsReport[] = [];
  return {
    reports,
    async addTlsReport(report: TlsReport, receivedAt: Date) {
      if (reports.some((r) => r.organization === report.organization && r.reportId === report.reportId)) return false;
      reports.push({ ...report, receivedAt });
      return true;
    },
    async listTlsReports() {
      return reports;
    },
  };
}

function reportMessage(body: Buffer, type = "application/tlsrpt+gzip"): Buffer {
  return Buffer.from(
    [
      "From: tlsrpt@company-x.example",
      "To: postmaster@company-y.example",
      "Subject: Report Domain: company-y.example Submitter: company-x.example Report-ID: <5065427c>",
      "MIME-Version: 1.0",
      'Content-Type: multipart/report; report-type="tlsrpt"; boundary="b1"',
      "",
      "--b1",
      "Content-Type: text/plain",
      "",
      "This is an aggregate TLS report.",
      "--b1",
      `Content-Type: ${type}`,
      "Content-Transfer-Encoding: base64",
      'Content-Disposition: attachment; filename="company-x.example!company-y.example!1459468800!1459555199.json.gz"',
      "",
      ...(body.toString("base64").match(/.{1,76}/g) ?? []),
      "--b1--",
      "",
    ].join("\r\n"),
  );
}

test("intake: a report to postmaster is stored once (then duplicate), a broken one is invalid, mail to others is not read", async () => {
  const store = memoryStore();
  const outcomes: string[] = [];
  const intake = createTlsReportIntake({ store, maxBytes: 1024 * 1024, log: silentLogger, observe: (outcome) => outcomes.push(outcome) });
  const message = (bytes: Buffer) => ({ parsed: parseMessage(bytes), size: bytes.length, read: async () => bytes });
  const good = reportMessage(gzipSync(Buffer.from(JSON.stringify(SAMPLE))));
  assert.equal(await intake.take(message(good), ["postmaster@company-y.example"]), "stored");
  assert.equal(await intake.take(message(good), ["Postmaster@company-y.example"]), "duplicate");
  assert.equal(store.reports.length, 1);
  assert.equal(await intake.take(message(good), ["alice@company-y.example"]), null, "only our rua address is read");
  assert.equal(await intake.take(message(reportMessage(Buffer.from("{\"organization-name\": 5}"), "application/tlsrpt+json")), ["postmaster@company-y.example"]), "invalid");
  const plain = Buffer.from("From: a@b.example\r\nTo: postmaster@company-y.example\r\nSubject: hi\r\n\r\nhello\r\n");
  assert.equal(await intake.take(message(plain), ["postmaster@company-y.example"]), null);
  assert.deepEqual(outcomes, ["stored", "duplicate", "invalid"]);
});
