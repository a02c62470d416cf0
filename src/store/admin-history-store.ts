// What the admin dashboard and delivery log keep across restarts (docs/architecture.md, "Admin API
// and pages"; observability/admin-series.ts writes and reads it): the counts per minute of the
// last day and the most recent deliveries. Writes are batched by the caller (one statement per
// minute for the counts, one per few seconds for the deliveries), so a message costs no store
// write of its own. With PostgreSQL every node adds to the same rows, so the dashboard shows the
// cluster's totals. Times are epoch milliseconds in the tables.

/** One line of the delivery log. */
export interface DeliveryRecord {
  at: Date;
  /** accepted: taken by SMTP (inbound or submission); the rest: an outbound attempt's result for one recipient. */
  event: "accepted" | "delivered" | "deferred" | "failed";
  queueId: number | null;
  from: string;
  to: string[];
  /** The remote reply, the local folder, or the reason. */
  detail: string;
  size: number | null;
}

export interface DeliveryRecordQuery {
  event?: DeliveryRecord["event"] | undefined;
  /** Case-insensitive text in the sender, a recipient or the detail. */
  text?: string | undefined;
  /** 1 to 1000. */
  limit: number;
}

/** One minute's counts by name (only the non-zero ones are stored). */
export interface MinuteCounts {
  /** Epoch ms of the minute's start. */
  minute: number;
  counts: Record<string, number>;
}

export interface AdminHistoryStore {
  /**
   * Adds each count to its minute's total, in one statement; concurrent nodes never lose a count
   * (an upsert that adds), so a minute's total is the sum over the nodes that counted in it.
   */
  addMinuteCounts(points: readonly MinuteCounts[]): Promise<void>;
  /** The totals of every minute from `since` (epoch ms, inclusive) on, oldest first; minutes without counts are absent. */
  readMinuteCounts(since: number): Promise<MinuteCounts[]>;
  /** Drops the minutes before `before`; returns how many rows went. */
  pruneMinuteCounts(before: number): Promise<number>;
  /** Appends deliveries in one statement (their order is kept for equal times). */
  addDeliveries(entries: readonly DeliveryRecord[]): Promise<void>;
  /** The newest deliveries first, filtered. */
  listDeliveries(query: DeliveryRecordQuery): Promise<DeliveryRecord[]>;
  /** Keeps the newest `keep` deliveries and drops the rest; returns how many went. */
  pruneDeliveries(keep: number): Promise<number>;
}
