// AdminHistoryStore over SQLite (migration 35): admin_minute_counts (one row per minute and
// counter name, only non-zero counts) and admin_deliveries (the recent delivery log).
import type { DeliveryRecord, DeliveryRecordQuery, MinuteCounts } from "../admin-history-store.js";
import type { Param } from "./sqlite-database.js";
import type { StoreContext } from "./store-context.js";

interface DeliveryRow {
  at: number;
  event: DeliveryRecord["event"];
  queue_id: number | null;
  sender: string;
  recipients: string;
  detail: string;
  size: number | null;
}

const delivery = (row: DeliveryRow): DeliveryRecord => ({
  at: new Date(row.at),
  event: row.event,
  queueId: row.queue_id,
  from: row.sender,
  to: row.recipients === "" ? [] : row.recipients.split("\n"),
  detail: row.detail,
  size: row.size,
});

/** LIKE text matching `text` anywhere, with LIKE's wildcards escaped (ESCAPE '\'). */
export function likeAnywhere(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function addMinuteCounts(ctx: StoreContext, points: readonly MinuteCounts[]): void {
  for (const point of points) {
    for (const [name, count] of Object.entries(point.counts)) {
      if (!Number.isFinite(count) || count === 0) continue;
      ctx.sql.run("INSERT INTO admin_minute_counts (minute, name, count) VALUES (?, ?, ?) ON CONFLICT (minute, name) DO UPDATE SET count = count + excluded.count", point.minute, name, count);
    }
  }
}

export function readMinuteCounts(ctx: StoreContext, since: number): MinuteCounts[] {
  const out: MinuteCounts[] = [];
  for (const row of ctx.sql.all<{ minute: number; name: string; count: number }>("SELECT minute, name, count FROM admin_minute_counts WHERE minute >= ? ORDER BY minute", since)) {
    const last = out[out.length - 1];
    if (last !== undefined && last.minute === row.minute) last.counts[row.name] = row.count;
    else out.push({ minute: row.minute, counts: { [row.name]: row.count } });
  }
  return out;
}

export function pruneMinuteCounts(ctx: StoreContext, before: number): number {
  return ctx.sql.run("DELETE FROM admin_minute_counts WHERE minute < ?", before).changes;
}

export function addDeliveries(ctx: StoreContext, entries: readonly DeliveryRecord[]): void {
  for (const e of entries) {
    ctx.sql.run(
      "INSERT INTO admin_deliveries (at, event, queue_id, sender, recipients, detail, size) VALUES (?, ?, ?, ?, ?, ?, ?)",
      e.at.getTime(),
      e.event,
      e.queueId,
      e.from,
      e.to.join("\n"),
      e.detail,
      e.size,
    );
  }
}

export function listDeliveries(ctx: StoreContext, query: DeliveryRecordQuery): DeliveryRecord[] {
  const where: string[] = [];
  const params: Param[] = [];
  if (query.event !== undefined) {
    where.push("event = ?");
    params.push(query.event);
  }
  const text = (query.text ?? "").trim();
  if (text !== "") {
    where.push("(lower(sender) LIKE ? ESCAPE '\\' OR lower(recipients) LIKE ? ESCAPE '\\' OR lower(detail) LIKE ? ESCAPE '\\')");
    const like = likeAnywhere(text);
    params.push(like, like, like);
  }
  const limit = Math.max(1, Math.min(Math.trunc(query.limit), 1000));
  const sql = `SELECT at, event, queue_id, sender, recipients, detail, size FROM admin_deliveries${where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY at DESC, id DESC LIMIT ${limit}`;
  return ctx.sql.all<DeliveryRow>(sql, ...params).map(delivery);
}

export function pruneDeliveries(ctx: StoreContext, keep: number): number {
  if (keep <= 0) return ctx.sql.run("DELETE FROM admin_deliveries").changes;
  const edge = ctx.sql.get<{ at: number; id: number }>("SELECT at, id FROM admin_deliveries ORDER BY at DESC, id DESC LIMIT 1 OFFSET ?", keep - 1);
  if (edge === undefined) return 0;
  return ctx.sql.run("DELETE FROM admin_deliveries WHERE at < ? OR (at = ? AND id < ?)", edge.at, edge.at, edge.id).changes;
}
