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

/** TLS-RPT counts for reports we send (TlsRptSessionStore): summed per key, listed by finished day, taken once. */
export function tlsRptSessionContract(open: OpenBackend): void {
  test("tls-rpt sessions: batches add up per key, days before a day are listed, a take returns and removes them once", using(open, async (fx) => {
    const store = fx.tlsRptSessions;
    if (!store) return;
    const sts = { policyType: "sts", policyStrings: ["version: STSv1", "mode: enforce", "mx: mx.example.org", "max_age: 86400"] };
    const none = { policyType: "no-policy-found", policyStrings: [] };
    await store.addTlsSessions([
      { day: "2026-11-01", policyDomain: "example.org", ...sts, mxHost: "mx.example.org", receivingIp: "192.0.2.25", resultType: "", sessions: 3 },
      { day: "2026-11-01", policyDomain: "example.org", ...sts, mxHost: "mx.example.org", receivingIp: "192.0.2.25", resultType: "certificate-expired", sessions: 1 },
      { day: "2026-11-01", policyDomain: "example.net", ...none, mxHost: "mx.example.net", receivingIp: "198.51.100.7", resultType: "", sessions: 1 },
      { day: "2026-11-02", policyDomain: "example.org", ...sts, mxHost: "mx.example.org", receivingIp: "192.0.2.25", resultType: "", sessions: 1 },
    ]);
    // A second batch for the same keys adds to them (two flushes, or two nodes).
    await store.addTlsSessions([
      { day: "2026-11-01", policyDomain: "example.org", ...sts, mxHost: "mx.example.org", receivingIp: "192.0.2.25", resultType: "", sessions: 2 },
      { day: "2026-11-01", policyDomain: "example.org", ...sts, mxHost: "", receivingIp: "", resultType: "sts-policy-fetch-error", sessions: 1 },
    ]);
    assert.deepEqual(await store.listTlsSessionDomains("2026-11-02"), [
      { day: "2026-11-01", policyDomain: "example.net" },
      { day: "2026-11-01", policyDomain: "example.org" },
    ]);
    const taken = await store.takeTlsSessions("2026-11-01", "example.org");
    assert.deepEqual(
      taken.map((c) => [c.mxHost, c.resultType, c.sessions]),
      [
        ["", "sts-policy-fetch-error", 1],
        ["mx.example.org", "", 5],
        ["mx.example.org", "certificate-expired", 1],
      ],
    );
    assert.deepEqual(taken[1]!.policyStrings, sts.policyStrings);
    assert.equal(taken[1]!.receivingIp, "192.0.2.25");
    assert.deepEqual(await store.takeTlsSessions("2026-11-01", "example.org"), [], "taken once");
    assert.deepEqual(await store.listTlsSessionDomains("2026-11-03"), [
      { day: "2026-11-01", policyDomain: "example.net" },
      { day: "2026-11-02", policyDomain: "example.org" },
    ]);
  }));
}
