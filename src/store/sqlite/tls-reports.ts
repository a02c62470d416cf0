// TlsReportStore over SQLite (migration 15): tls_reports, one row per report, its policies as JSON
// (a report is read whole and never queried by policy; a few policies per report at most).
import type { StoredTlsReport, TlsReport, TlsReportPolicy } from "../tls-report-store.js";
import type { StoreContext } from "./store-context.js";

interface ReportRow {
  organization: string;
  report_id: string;
  contact: string | null;
  start_at: number;
  end_at: number;
  policies: string;
  received_at: number;
}

export function addReport(ctx: StoreContext, report: TlsReport, receivedAt: Date): boolean {
  const result = ctx.sql.run(
    `INSERT INTO tls_reports (organization, report_id, contact, start_at, end_at, policies, received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (organization, report_id) DO NOTHING`,
    report.organization,
    report.reportId,
    report.contact,
    report.start.getTime(),
    report.end.getTime(),
    JSON.stringify(report.policies),
    receivedAt.getTime(),
  );
  return result.changes === 1;
}

export function listReports(ctx: StoreContext, since: Date, limit: number): StoredTlsReport[] {
  return ctx.sql
    .all<ReportRow>("SELECT organization, report_id, contact, start_at, end_at, policies, received_at FROM tls_reports WHERE end_at >= ? ORDER BY end_at DESC, received_at DESC LIMIT ?", since.getTime(), limit)
    .map((row) => ({
      organization: row.organization,
      reportId: row.report_id,
      contact: row.contact,
      start: new Date(row.start_at),
      end: new Date(row.end_at),
      policies: JSON.parse(row.policies) as TlsReportPolicy[],
      receivedAt: new Date(row.received_at),
    }));
}
