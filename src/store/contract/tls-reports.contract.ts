// Conformance: TLS-RPT reports (TlsReportStore, RFC 8460 §4): stored whole, a report sent twice is
// stored once (by organization and report-id), listed newest first from a date on, bounded.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { TlsReport } from "../index.js";
import { type OpenBackend, using } from "./fixture.js";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 1);

function report(organization: string, reportId: string, day: number, failed = 0): TlsReport {
  return {
    organization,
    reportId,
    contact: organization === "Google Inc." ? "smtp-tls-reporting@google.com" : null,
    start: new Date(T0 + day * DAY),
    end: new Date(T0 + (day + 1) * DAY - 1000),
    policies: [
      {
        policyType: "sts",
        policyDomain: "example.org",
        successfulSessions: 120,
        failedSessions: failed,
        failures: failed === 0 ? [] : [{ resultType: "certificate-expired", sendingMtaIp: "2001:db8::25", receivingMxHostname: "mx.example.org", failedSessionCount: failed }],
      },
      { policyType: "no-policy-found", policyDomain: "example.net", successfulSessions: 3, failedSessions: 0, failures: [] },
    ],
  };
}

export function tlsReportContract(open: OpenBackend): void {
  test("tls reports: stored whole, once per organization and id, listed newest first from a date, bounded", using(open, async (fx) => {
    const store = fx.tlsReports;
    if (!store) return;
    const received = new Date(T0 + 10 * DAY);
    assert.equal(await store.addTlsReport(report("Google Inc.", "r-1", 1, 2), received), true);
    assert.equal(await store.addTlsReport(report("Google Inc.", "r-1", 1, 5), received), false, "the same report id again is a duplicate");
    assert.equal(await store.addTlsReport(report("Microsoft", "r-1", 2), received), true, "another organization may use the same id");
    assert.equal(await store.addTlsReport(report("Google Inc.", "r-3", 3), new Date(T0 + 11 * DAY)), true);

    const all = await store.listTlsReports(new Date(T0), 10);
    assert.deepEqual(all.map((r) => `${r.organization}/${r.reportId}`), ["Google Inc./r-3", "Microsoft/r-1", "Google Inc./r-1"]);
    const first = all[2]!;
    assert.deepEqual({ ...first, receivedAt: first.receivedAt.getTime() }, { ...report("Google Inc.", "r-1", 1, 2), receivedAt: received.getTime() }, "the first copy is kept, every field as given");
    assert.equal(all[0]!.receivedAt.getTime(), T0 + 11 * DAY);

    // Reports whose range ends before `since` are left out; the limit bounds the answer.
    assert.deepEqual((await store.listTlsReports(new Date(T0 + 2 * DAY), 10)).map((r) => r.reportId), ["r-3", "r-1"]);
    assert.deepEqual((await store.listTlsReports(new Date(T0), 1)).map((r) => r.reportId), ["r-3"]);
    assert.deepEqual(await store.listTlsReports(new Date(T0 + 30 * DAY), 10), []);
  }));
}
