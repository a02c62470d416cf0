// Shared abuse state over PostgreSQL (migration 10, store/abuse-state-store.ts): auth throttle
// records, per-IP MAIL attempt counters and per-node connection counts. Each operation is one
// statement (one round trip), atomic under concurrent nodes: counters are upserts, never a read
// then a write. Times are the database's clock so that every node measures windows alike.
import type { ThrottleRecordRow, ThrottleSnapshot } from "../abuse-state-store.js";
import { one, rows, type Sql } from "./database.js";

const NOW_MS = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

interface ThrottleRow {
  key: string;
  failures: number;
  window_start: string;
  last_success_at: string | null;
  now: string;
}

function snapshotOf(list: ThrottleRow[], now: number): ThrottleSnapshot {
  const records = new Map<string, ThrottleRecordRow>();
  for (const row of list) {
    records.set(row.key, { failures: row.failures, windowStart: Number(row.window_start), lastSuccessAt: row.last_success_at === null ? null : Number(row.last_success_at) });
  }
  return { now, records };
}

export async function readThrottle(db: Sql, keys: readonly string[]): Promise<ThrottleSnapshot> {
  // The clock row comes back even when no key has a record.
  const list = await rows<ThrottleRow & { key: string | null }>(
    db,
    `SELECT t.key, t.failures, t.window_start, t.last_success_at, c.now FROM (SELECT ${NOW_MS} AS now) AS c
       LEFT JOIN auth_throttle AS t ON t.key = ANY($1::text[])`,
    [keys],
  );
  const now = Number(list[0]?.now ?? Date.now());
  return snapshotOf(list.filter((r) => r.key !== null), now);
}

export async function countThrottleFailures(db: Sql, keys: readonly string[], windowMs: number, trustedMs: number): Promise<ThrottleSnapshot> {
  // Keys go in sorted order so two nodes upserting overlapping sets lock rows in the same order
  // (no deadlock). In DO UPDATE every expression sees the row as it was before this statement.
  const list = await rows<ThrottleRow>(
    db,
    `INSERT INTO auth_throttle AS t (key, failures, window_start, last_success_at, updated_at)
       SELECT k, 1, n.now, NULL, n.now FROM (SELECT DISTINCT unnest($1::text[]) AS k ORDER BY 1) AS keys, (SELECT ${NOW_MS} AS now) AS n
     ON CONFLICT (key) DO UPDATE SET
       failures = CASE WHEN t.failures = 0 OR excluded.updated_at - t.window_start >= $2 THEN 1 ELSE t.failures + 1 END,
       window_start = CASE WHEN t.failures = 0 OR excluded.updated_at - t.window_start >= $2 THEN excluded.updated_at ELSE t.window_start END,
       last_success_at = CASE WHEN t.last_success_at IS NOT NULL AND excluded.updated_at - t.last_success_at >= $3 THEN NULL ELSE t.last_success_at END,
       updated_at = excluded.updated_at
     RETURNING t.key, t.failures, t.window_start, t.last_success_at, t.updated_at AS now`,
    [keys, windowMs, trustedMs],
  );
  return snapshotOf(list, Number(list[0]?.now ?? Date.now()));
}

export async function forgiveThrottle(db: Sql, pairKey: string, otherKeys: readonly string[], windowMs: number): Promise<void> {
  // The pair row is locked first (FOR UPDATE), so two successes of one pair do not both forgive
  // the same failures; the address and account rows are lowered by what the pair had in its window.
  await db.query(
    `WITH n AS (SELECT ${NOW_MS} AS now),
     pair AS (
       SELECT CASE WHEN p.failures > 0 AND n.now - p.window_start < $3 THEN p.failures ELSE 0 END AS forgiven
         FROM auth_throttle AS p, n WHERE p.key = $1 FOR UPDATE OF p
     ),
     lowered AS (
       UPDATE auth_throttle AS t SET failures = greatest(0, t.failures - pair.forgiven), updated_at = n.now
         FROM pair, n
        WHERE t.key = ANY($2::text[]) AND t.key <> $1 AND pair.forgiven > 0 AND t.failures > 0 AND n.now - t.window_start < $3
       RETURNING 1
     )
     -- The main statement reads "lowered" so that it runs first: an unreferenced CTE would run
     -- after the upsert below, and its FOR UPDATE would then skip the pair row this very
     -- statement had just rewritten (forgiving nothing).
     INSERT INTO auth_throttle (key, failures, window_start, last_success_at, updated_at)
       SELECT $1, 0, n.now, n.now, n.now FROM n WHERE (SELECT count(*) FROM lowered) >= 0
     ON CONFLICT (key) DO UPDATE SET failures = 0, window_start = excluded.window_start, last_success_at = excluded.last_success_at, updated_at = excluded.updated_at`,
    [pairKey, [...otherKeys].sort(), windowMs],
  );
}

export async function pruneThrottle(db: Sql, windowMs: number, trustedMs: number, maxKeys: number): Promise<number> {
  const expired = await db.query(
    `DELETE FROM auth_throttle WHERE (failures = 0 OR ${NOW_MS} - window_start >= $1) AND (last_success_at IS NULL OR ${NOW_MS} - last_success_at >= $2)`,
    [windowMs, trustedMs],
  );
  // The cap, as the in-memory throttle's maxTrackedKeys: least recently written first.
  const beyond = await db.query(
    `DELETE FROM auth_throttle WHERE updated_at < (SELECT updated_at FROM auth_throttle ORDER BY updated_at DESC OFFSET $1 LIMIT 1)`,
    [Math.max(1, maxKeys) - 1],
  );
  return (expired.rowCount ?? 0) + (beyond.rowCount ?? 0);
}

export async function admitIpMessage(db: Sql, ip: string, perHour: number): Promise<boolean> {
  // The check and the count are one statement: a count is added only when the hour's sum is under
  // the limit. Nodes racing on one address can each pass on the same sum, so the limit may be
  // exceeded by at most the number of attempts in flight at that instant.
  const row = await one<{ admitted: boolean }>(
    db,
    `WITH m AS (SELECT (${NOW_MS} / 60000) AS minute),
     total AS (SELECT coalesce(sum(c.attempts), 0) AS n FROM ip_message_counts AS c, m WHERE c.ip = $1 AND c.minute > m.minute - 60),
     counted AS (
       INSERT INTO ip_message_counts AS c (ip, minute, attempts) SELECT $1, m.minute, 1 FROM m, total WHERE total.n < $2
       ON CONFLICT (ip, minute) DO UPDATE SET attempts = c.attempts + 1
       RETURNING 1
     )
     SELECT EXISTS (SELECT 1 FROM counted) AS admitted`,
    [ip, perHour],
  );
  return row?.admitted === true;
}

export async function pruneIpMessages(db: Sql): Promise<number> {
  const result = await db.query(`DELETE FROM ip_message_counts WHERE minute <= ${NOW_MS} / 60000 - 60`);
  return result.rowCount ?? 0;
}

export async function publishConnections(db: Sql, nodeId: string, counts: ReadonlyMap<string, number>, staleMs: number): Promise<Map<string, number>> {
  const list = await rows<{ grp: string; n: number }>(
    db,
    `WITH mine AS (
       INSERT INTO node_connections (node_id, counts, heartbeat) VALUES ($1, $2::jsonb, ${NOW_MS})
       ON CONFLICT (node_id) DO UPDATE SET counts = excluded.counts, heartbeat = excluded.heartbeat
       RETURNING 1
     ),
     -- Rows of nodes long gone (ten times stale) are removed by whichever node passes by.
     gone AS (DELETE FROM node_connections WHERE node_id <> $1 AND heartbeat < ${NOW_MS} - 10 * $3::bigint RETURNING 1)
     SELECT e.key AS grp, sum(e.value::int)::int AS n
       FROM node_connections AS c, jsonb_each_text(c.counts) AS e
      WHERE c.node_id <> $1 AND c.heartbeat > ${NOW_MS} - $3::bigint
      GROUP BY e.key`,
    [nodeId, JSON.stringify(Object.fromEntries(counts)), staleMs],
  );
  return new Map(list.map((r) => [r.grp, r.n]));
}

export async function withdrawConnections(db: Sql, nodeId: string): Promise<void> {
  await db.query("DELETE FROM node_connections WHERE node_id = $1", [nodeId]);
}
