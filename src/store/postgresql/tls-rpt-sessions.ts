// TlsRptSessionStore over PostgreSQL (migration 22): the table and rules of
// store/sqlite/tls-rpt-sessions.ts. A batch is one multi-row upsert; nodes adding to the same row
// at once are serialised by its row lock. takeTlsSessions is one DELETE … RETURNING: of two nodes
// taking one day, one gets the rows.
import type { TlsSessionCount } from "../tls-rpt-session-store.js";
import { rows, type Sql } from "./database.js";

interface SessionRow {
  day: string;
  policy_domain: string;
  policy_type: string;
  policy_strings: string;
  mx_host: string;
  receiving_ip: string;
  result_type: string;
  sessions: string;
}

export async function addSessions(db: Sql, counts: readonly TlsSessionCount[]): Promise<void> {
  if (counts.length === 0) return;
  // One row per key in the statement: ON CONFLICT cannot touch the same row twice in one command.
  const merged = new Map<string, TlsSessionCount>();
  for (const c of counts) {
    const key = JSON.stringify([c.day, c.policyDomain, c.policyType, c.mxHost, c.receivingIp, c.resultType]);
    const found = merged.get(key);
    if (found) merged.set(key, { ...found, sessions: found.sessions + c.sessions, policyStrings: c.policyStrings });
    else merged.set(key, c);
  }
  const list = [...merged.values()];
  await db.query(
    `INSERT INTO tls_rpt_sessions (day, policy_domain, policy_type, policy_strings, mx_host, receiving_ip, result_type, sessions)
     SELECT r.day, r.policy_domain, r.policy_type, r.policy_strings, r.mx_host, r.receiving_ip, r.result_type, r.sessions
       FROM json_to_recordset($1::json) AS r(day text, policy_domain text, policy_type text, policy_strings text, mx_host text, receiving_ip text, result_type text, sessions bigint)
     ON CONFLICT (day, policy_domain, policy_type, mx_host, receiving_ip, result_type)
     DO UPDATE SET sessions = tls_rpt_sessions.sessions + excluded.sessions, policy_strings = excluded.policy_strings`,
    [JSON.stringify(list.map((c) => ({ day: c.day, policy_domain: c.policyDomain, policy_type: c.policyType, policy_strings: JSON.stringify(c.policyStrings), mx_host: c.mxHost, receiving_ip: c.receivingIp, result_type: c.resultType, sessions: c.sessions })))],
  );
}

export async function listDomains(db: Sql, beforeDay: string): Promise<{ day: string; policyDomain: string }[]> {
  const list = await rows<{ day: string; policy_domain: string }>(db, "SELECT DISTINCT day, policy_domain FROM tls_rpt_sessions WHERE day < $1 ORDER BY day, policy_domain", [beforeDay]);
  return list.map((row) => ({ day: row.day, policyDomain: row.policy_domain }));
}

export async function takeSessions(db: Sql, day: string, policyDomain: string): Promise<TlsSessionCount[]> {
  const list = await rows<SessionRow>(db, "DELETE FROM tls_rpt_sessions WHERE day = $1 AND policy_domain = $2 RETURNING *", [day, policyDomain]);
  return list
    .map((row) => ({
      day: row.day,
      policyDomain: row.policy_domain,
      policyType: row.policy_type,
      policyStrings: JSON.parse(row.policy_strings) as string[],
      mxHost: row.mx_host,
      receivingIp: row.receiving_ip,
      resultType: row.result_type,
      sessions: Number(row.sessions),
    }))
    .sort(byKey);
}

/** The order of store/sqlite/tls-rpt-sessions.ts (RETURNING gives none). */
function byKey(a: TlsSessionCount, b: TlsSessionCount): number {
  return a.policyType.localeCompare(b.policyType) || a.mxHost.localeCompare(b.mxHost) || a.receivingIp.localeCompare(b.receivingIp) || a.resultType.localeCompare(b.resultType);
}
