// TlsRptSessionStore over SQLite (migration 37): tls_rpt_sessions, counters keyed by day, policy
// domain, policy type, MX host, address and result type; batches are upserts in one transaction.
import type { TlsSessionCount } from "../tls-rpt-session-store.js";
import type { StoreContext } from "./store-context.js";

interface SessionRow {
  day: string;
  policy_domain: string;
  policy_type: string;
  policy_strings: string;
  mx_host: string;
  receiving_ip: string;
  result_type: string;
  sessions: number;
}

export function addSessions(ctx: StoreContext, counts: readonly TlsSessionCount[]): void {
  for (const c of counts) {
    ctx.sql.run(
      `INSERT INTO tls_rpt_sessions (day, policy_domain, policy_type, policy_strings, mx_host, receiving_ip, result_type, sessions)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (day, policy_domain, policy_type, mx_host, receiving_ip, result_type)
       DO UPDATE SET sessions = sessions + excluded.sessions, policy_strings = excluded.policy_strings`,
      c.day,
      c.policyDomain,
      c.policyType,
      JSON.stringify(c.policyStrings),
      c.mxHost,
      c.receivingIp,
      c.resultType,
      c.sessions,
    );
  }
}

export function listDomains(ctx: StoreContext, beforeDay: string): { day: string; policyDomain: string }[] {
  return ctx.sql
    .all<{ day: string; policy_domain: string }>("SELECT DISTINCT day, policy_domain FROM tls_rpt_sessions WHERE day < ? ORDER BY day, policy_domain", beforeDay)
    .map((row) => ({ day: row.day, policyDomain: row.policy_domain }));
}

export function takeSessions(ctx: StoreContext, day: string, policyDomain: string): TlsSessionCount[] {
  return ctx.sql
    .all<SessionRow>("DELETE FROM tls_rpt_sessions WHERE day = ? AND policy_domain = ? RETURNING *", day, policyDomain)
    .map(rowToCount)
    .sort(byKey);
}

function rowToCount(row: SessionRow): TlsSessionCount {
  return {
    day: row.day,
    policyDomain: row.policy_domain,
    policyType: row.policy_type,
    policyStrings: JSON.parse(row.policy_strings) as string[],
    mxHost: row.mx_host,
    receivingIp: row.receiving_ip,
    resultType: row.result_type,
    sessions: Number(row.sessions),
  };
}

/** A stable order for callers and tests (RETURNING gives none). */
export function byKey(a: TlsSessionCount, b: TlsSessionCount): number {
  return a.policyType.localeCompare(b.policyType) || a.mxHost.localeCompare(b.mxHost) || a.receivingIp.localeCompare(b.receivingIp) || a.resultType.localeCompare(b.resultType);
}
