// TlsReportStore over PostgreSQL (migration 6): the same table and rules as store/sqlite/tls-reports.ts.
// Several nodes may receive the same report at once: the primary key and ON CONFLICT DO NOTHING
// store it once, and exactly one of them is told it stored it.
import type { StoredTlsReport, TlsReport, TlsReportPolicy } from "../tls-report-store.js";
import { rows, type Sql } from "./database.js";

interface ReportRow {
  organization: string;
  report_id: string;
  contact: string | null;
  start_at: string;
  end_at: string;
  policies: TlsReportPolicy[];
  received_at: string;
}

export async function addReport(db: Sql, report: TlsReport, receivedAt: Date): Promise<boolean> {
  const result = await db.query(
    `INSERT INTO tls_reports (organization, report_id, contact, start_at, end_at, policies, received_at)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) ON CONFLICT (organization, report_id) DO NOTHING`,
    [report.organization, report.reportId, report.contact, report.start.getTime(), report.end.getTime(), JSON.stringify(report.policies), receivedAt.getTime()],
  );
  return result.rowCount === 1;
}

export async function listReports(db: Sql, since: Date, limit: number): Promise<StoredTlsReport[]> {
  const list = await rows<ReportRow>(
    db,
    "SELECT organization, report_id, contact, start_at, end_at, policies, received_at FROM tls_reports WHERE end_at >= $1 ORDER BY end_at DESC, received_at DESC LIMIT $2",
    [since.getTime(), limit],
  );
  return list.map((row) => ({
    organization: row.organization,
    reportId: row.report_id,
    contact: row.contact,
    start: new Date(Number(row.start_at)),
    end: new Date(Number(row.end_at)),
    policies: row.policies,
    receivedAt: new Date(Number(row.received_at)),
  }));
}
