// `mailroom tls-reports [--days N]`: what other servers reported about TLS to our MX hosts
// (RFC 8460, received by delivery/tls-report.ts): per policy domain the sessions that succeeded
// and failed over the period, then one line per report with its failures by result type.
import type { StoredTlsReport, TlsReportStore } from "../../store/index.js";

/** Reports listed at most; the totals are over these. */
export const TLS_REPORT_LIST_LIMIT = 1000;

export async function tlsReportSummary(store: TlsReportStore, days: number, now: Date): Promise<string[]> {
  const since = new Date(now.getTime() - days * 86_400_000);
  const reports = await store.listTlsReports(since, TLS_REPORT_LIST_LIMIT);
  if (reports.length === 0) return [`no TLS reports in the last ${days} day(s)`];
  const totals = new Map<string, { successful: number; failed: number; reports: number }>();
  for (const report of reports) {
    for (const policy of report.policies) {
      const total = totals.get(policy.policyDomain) ?? { successful: 0, failed: 0, reports: 0 };
      total.successful += policy.successfulSessions;
      total.failed += policy.failedSessions;
      total.reports++;
      totals.set(policy.policyDomain, total);
    }
  }
  const lines = [`TLS reports in the last ${days} day(s): ${reports.length}${reports.length === TLS_REPORT_LIST_LIMIT ? " (the newest only)" : ""}`];
  for (const [domain, total] of [...totals.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const sessions = total.successful + total.failed;
    const rate = sessions === 0 ? "-" : `${((100 * total.failed) / sessions).toFixed(1)}% failed`;
    lines.push(`${domain}: ${total.successful} successful, ${total.failed} failed sessions (${rate}) in ${total.reports} report(s)`);
  }
  lines.push("");
  for (const report of reports) lines.push(...describeReport(report));
  return lines;
}

function describeReport(report: StoredTlsReport): string[] {
  const day = (date: Date) => date.toISOString().slice(0, 16).replace("T", " ");
  const lines = [`${day(report.start)} .. ${day(report.end)}  ${report.organization}  report ${report.reportId}`];
  for (const policy of report.policies) {
    lines.push(`    ${policy.policyDomain} (${policy.policyType}): ${policy.successfulSessions} successful, ${policy.failedSessions} failed`);
    for (const failure of policy.failures) {
      const where = [failure.receivingMxHostname, failure.sendingMtaIp === null ? null : `from ${failure.sendingMtaIp}`].filter((part) => part !== null).join(" ");
      lines.push(`        ${failure.resultType} x${failure.failedSessionCount}${where === "" ? "" : ` (${where})`}`);
    }
  }
  return lines;
}
