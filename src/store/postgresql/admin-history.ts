// AdminHistoryStore over PostgreSQL (migration 20): the same tables as store/sqlite/admin-history.ts,
// shared by every node. Counts are added with one upsert per flush (unnest over arrays), so
// nodes flushing the same minute add up instead of overwriting each other: the dashboard reads
// the cluster's totals. Deliveries from all nodes go to one log, newest first.
import type { DeliveryRecord, DeliveryRecordQuery, MinuteCounts } from "../admin-history-store.js";
import { rows, type Sql } from "./database.js";

interface DeliveryRow {
  at: string;
  event: DeliveryRecord["event"];
  queue_id: string | null;
  sender: string;
  recipients: string;
  detail: string;
  size: string | null;
}

const delivery = (row: DeliveryRow): DeliveryRecord => ({
  at: new Date(Number(row.at)),
  event: row.event,
  queueId: row.queue_id === null ? null : Number(row.queue_id),
  from: row.sender,
  to: row.recipients === "" ? [] : row.recipients.split("\n"),
  detail: row.detail,
  size: row.size === null ? null : Number(row.size),
});

export async function addMinuteCounts(db: Sql, points: readonly MinuteCounts[]): Promise<void> {
  // Summed per (minute, name) first: one upsert may not touch a row twice.
  const sums = new Map<string, { minute: number; name: string; count: number }>();
  for (const point of points) {
    for (const [name, count] of Object.entries(point.counts)) {
      if (!Number.isFinite(count) || count === 0) continue;
      const key = `${point.minute}\u0000${name}`;
      const known = sums.get(key);
      if (known) known.count += count;
      else sums.set(key, { minute: point.minute, name, count });
    }
  }
  if (sums.size === 0) return;
  const list = [...sums.values()];
  await db.query(
    `INSERT INTO admin_minute_counts (minute, name, count)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[])
     ON CONFLICT (minute, name) DO UPDATE SET count = admin_minute_counts.count + excluded.count`,
    [list.map((r) => r.minute), list.map((r) => r.name), list.map((r) => Math.round(r.count))],
  );
}

export async function readMinuteCounts(db: Sql, since: number): Promise<MinuteCounts[]> {
  const out: MinuteCounts[] = [];
  for (const row of await rows<{ minute: string; name: string; count: string }>(db, "SELECT minute, name, count FROM admin_minute_counts WHERE minute >= $1 ORDER BY minute", [since])) {
    const minute = Number(row.minute);
    const last = out[out.length - 1];
    if (last !== undefined && last.minute === minute) last.counts[row.name] = Number(row.count);
    else out.push({ minute, counts: { [row.name]: Number(row.count) } });
  }
  return out;
}

export async function pruneMinuteCounts(db: Sql, before: number): Promise<number> {
  return (await db.query("DELETE FROM admin_minute_counts WHERE minute < $1", [before])).rowCount ?? 0;
}

export async function addDeliveries(db: Sql, entries: readonly DeliveryRecord[]): Promise<void> {
  if (entries.length === 0) return;
  // WITH ORDINALITY: ids follow the batch's order, so equal times list in the order they happened.
  await db.query(
    `INSERT INTO admin_deliveries (at, event, queue_id, sender, recipients, detail, size)
     SELECT at, event, queue_id, sender, recipients, detail, size
       FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[]) WITH ORDINALITY
            AS e(at, event, queue_id, sender, recipients, detail, size, n)
      ORDER BY n`,
    [
      entries.map((e) => e.at.getTime()),
      entries.map((e) => e.event),
      entries.map((e) => e.queueId),
      entries.map((e) => e.from),
      entries.map((e) => e.to.join("\n")),
      entries.map((e) => e.detail),
      entries.map((e) => e.size),
    ],
  );
}

/** LIKE text matching `text` anywhere, with LIKE's wildcards escaped (the default escape, backslash). */
function likeAnywhere(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export async function listDeliveries(db: Sql, query: DeliveryRecordQuery): Promise<DeliveryRecord[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (query.event !== undefined) {
    params.push(query.event);
    where.push(`event = $${params.length}`);
  }
  const text = (query.text ?? "").trim();
  if (text !== "") {
    params.push(likeAnywhere(text));
    const p = `$${params.length}`;
    where.push(`(lower(sender) LIKE ${p} OR lower(recipients) LIKE ${p} OR lower(detail) LIKE ${p})`);
  }
  params.push(Math.max(1, Math.min(Math.trunc(query.limit), 1000)));
  const sql = `SELECT at, event, queue_id, sender, recipients, detail, size FROM admin_deliveries${where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY at DESC, id DESC LIMIT $${params.length}`;
  return (await rows<DeliveryRow>(db, sql, params)).map(delivery);
}

export async function pruneDeliveries(db: Sql, keep: number): Promise<number> {
  if (keep <= 0) return (await db.query("DELETE FROM admin_deliveries")).rowCount ?? 0;
  const result = await db.query(
    `DELETE FROM admin_deliveries d
      USING (SELECT at, id FROM admin_deliveries ORDER BY at DESC, id DESC LIMIT 1 OFFSET $1) edge
      WHERE d.at < edge.at OR (d.at = edge.at AND d.id < edge.id)`,
    [keep - 1],
  );
  return result.rowCount ?? 0;
}
