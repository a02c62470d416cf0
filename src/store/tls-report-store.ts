// TLS-RPT reports received for our domains (RFC 8460 §4): one row per policy of a report, with the
// session counts and the failure details, kept for `mailroom tls-reports` and metrics.

/** One failure kind of one policy (RFC 8460 §4.3, failure-details), counted. */
export interface TlsReportFailure {
  readonly resultType: string;
  readonly sendingMtaIp: string | null;
  readonly receivingMxHostname: string | null;
  readonly failedSessionCount: number;
}

/** One policy of one report (RFC 8460 §4.4). */
export interface TlsReportPolicy {
  /** "sts", "tlsa" or "no-policy-found". */
  readonly policyType: string;
  readonly policyDomain: string;
  readonly successfulSessions: number;
  readonly failedSessions: number;
  readonly failures: readonly TlsReportFailure[];
}

export interface TlsReport {
  readonly organization: string;
  readonly reportId: string;
  readonly contact: string | null;
  readonly start: Date;
  readonly end: Date;
  readonly policies: readonly TlsReportPolicy[];
}

export interface StoredTlsReport extends TlsReport {
  readonly receivedAt: Date;
}

export interface TlsReportStore {
  /** Stores the report; false (and nothing changed) when this organization's report id is already stored. */
  addTlsReport(report: TlsReport, receivedAt: Date): Promise<boolean>;
  /** Reports whose range ends at or after `since`, newest first, at most `limit`. */
  listTlsReports(since: Date, limit: number): Promise<StoredTlsReport[]>;
}
