// TLS-RPT counts for the reports we SEND (RFC 8460 §4): per UTC day, policy domain, policy,
// receiving MX host and address, and result type, how many sessions. Written in batches by
// queue/tls-rpt-recorder.ts; the daily report (queue/tls-rpt-report.ts) takes a finished day's rows
// out. Reports we RECEIVE are another store (tls-report-store.ts).

export interface TlsSessionCount {
  /** UTC day, "YYYY-MM-DD". */
  day: string;
  /** Lower case. */
  policyDomain: string;
  /** "sts", "tlsa" or "no-policy-found" (RFC 8460 §4.4). */
  policyType: string;
  /** The policy as the report states it (the last one seen that day). */
  policyStrings: string[];
  /** The receiving MX host, "" for a failure before any MX (a policy fetch). */
  mxHost: string;
  /** The receiving address, "" when none. */
  receivingIp: string;
  /** An RFC 8460 §4.3 result type, "" for successful sessions. */
  resultType: string;
  sessions: number;
}

export interface TlsRptSessionStore {
  /** Adds the counts to what is stored (same key: sessions summed; policyStrings replaced). */
  addTlsSessions(counts: readonly TlsSessionCount[]): Promise<void>;
  /** The policy domains with counts for days before `beforeDay`, oldest day first. */
  listTlsSessionDomains(beforeDay: string): Promise<{ day: string; policyDomain: string }[]>;
  /**
   * Removes and returns one domain's counts of one day, in one transaction: of two nodes taking
   * the same day, one gets the rows and the other nothing, so one report is sent.
   */
  takeTlsSessions(day: string, policyDomain: string): Promise<TlsSessionCount[]>;
}
