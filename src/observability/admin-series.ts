// What the admin dashboard and delivery log read (http/admin-pages.ts, docs/architecture.md,
// "Admin API and pages"): per-minute counts over the last day, sampled from the /metrics counters
// (Metrics.snapshot), and the recent deliveries, taken from the smtp.accepted and queue.delivery
// log events every message already produces. Both live in memory: a restart starts them afresh,
// as it does the Prometheus counters; history beyond a day belongs in Prometheus.
import type { LogFields, Logger } from "./log.js";

export interface SeriesView {
  /** Epoch ms of the first point's minute. */
  start: number;
  stepMs: number;
  /** Every series by name, one count per minute, oldest first; the last point is the current, still-running minute. */
  series: Record<string, number[]>;
}

/**
 * Counts per minute from cumulative counters: each sample stores the increase since the one
 * before, so a point is "how many in that minute". At most `minutes` points are kept.
 */
export class MinuteSeries {
  readonly #read: () => Promise<Record<string, number>>;
  readonly #minutes: number;
  readonly #clock: () => number;
  /** Minute start (epoch ms) of each kept point, and the counts. */
  readonly #points: { at: number; counts: Record<string, number> }[] = [];
  #last: Record<string, number> | null = null;
  #lastAt = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(read: () => Promise<Record<string, number>>, options: { minutes?: number; clock?: () => number } = {}) {
    this.#read = read;
    this.#minutes = options.minutes ?? 1440;
    this.#clock = options.clock ?? Date.now;
  }

  /** Takes the first reading now, then one at each minute boundary. */
  async start(): Promise<void> {
    this.#last = await this.#read();
    this.#lastAt = minuteOf(this.#clock());
    const schedule = (): void => {
      const now = this.#clock();
      this.#timer = setTimeout(() => void this.sample().finally(schedule), minuteOf(now) + 60_000 - now + 5);
      this.#timer.unref();
    };
    schedule();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Closes the running minute: its increase becomes a point (minutes without a reading get zeros). */
  async sample(): Promise<void> {
    const now = await this.#read();
    const minute = minuteOf(this.#clock());
    if (this.#last !== null && minute > this.#lastAt) {
      this.#points.push({ at: this.#lastAt, counts: difference(now, this.#last) });
      while (this.#points.length > this.#minutes) this.#points.shift();
    }
    if (minute > this.#lastAt || this.#last === null) {
      this.#last = now;
      this.#lastAt = minute;
    }
  }

  /** The last `minutes` minutes, the running one last (its count so far). */
  async view(minutes = this.#minutes): Promise<SeriesView> {
    const current = this.#last === null ? {} : difference(await this.#read(), this.#last);
    const nowMinute = this.#last === null ? minuteOf(this.#clock()) : this.#lastAt;
    const span = Math.max(1, Math.min(minutes, this.#minutes + 1));
    const start = nowMinute - (span - 1) * 60_000;
    const names = new Set<string>(Object.keys(current));
    for (const p of this.#points) for (const name of Object.keys(p.counts)) names.add(name);
    const series: Record<string, number[]> = {};
    const byMinute = new Map(this.#points.map((p) => [p.at, p.counts]));
    for (const name of [...names].sort()) {
      const values: number[] = [];
      for (let at = start; at < nowMinute; at += 60_000) values.push(byMinute.get(at)?.[name] ?? 0);
      values.push(current[name] ?? 0);
      series[name] = values;
    }
    return { start, stepMs: 60_000, series };
  }
}

function minuteOf(ms: number): number {
  return ms - (ms % 60_000);
}

function difference(now: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  // A counter lower than before was reset (never by prom-client in one process): count from zero.
  for (const [name, value] of Object.entries(now)) out[name] = value >= (before[name] ?? 0) ? value - (before[name] ?? 0) : value;
  return out;
}

/** One line of the delivery log. */
export interface DeliveryEntry {
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

export interface DeliveryQuery {
  event?: DeliveryEntry["event"] | undefined;
  /** Case-insensitive text in the sender, a recipient or the detail. */
  text?: string | undefined;
  limit?: number | undefined;
}

/** The last `capacity` deliveries, newest first when listed. */
export class DeliveryLog {
  readonly #entries: DeliveryEntry[] = [];
  constructor(private readonly capacity: number) {}

  add(entry: DeliveryEntry): void {
    if (this.capacity <= 0) return;
    this.#entries.push(entry);
    if (this.#entries.length > this.capacity) this.#entries.splice(0, this.#entries.length - this.capacity);
  }

  list(query: DeliveryQuery = {}): DeliveryEntry[] {
    const text = (query.text ?? "").trim().toLowerCase();
    const limit = Math.max(1, Math.min(query.limit ?? 100, 1000));
    const out: DeliveryEntry[] = [];
    for (let i = this.#entries.length - 1; i >= 0 && out.length < limit; i--) {
      const e = this.#entries[i]!;
      if (query.event !== undefined && e.event !== query.event) continue;
      if (text !== "" && ![e.from, ...e.to, e.detail].some((s) => s.toLowerCase().includes(text))) continue;
      out.push(e);
    }
    return out;
  }

  /**
   * Reads the log events: smtp.accepted (one per message taken, submission.ts and inbound-policy.ts)
   * and queue.delivery (one per recipient and outbound attempt, queue/worker.ts).
   */
  record(event: string, fields: LogFields, at: Date): void {
    const text = (value: unknown): string => (typeof value === "string" ? value : value === null || value === undefined ? "" : JSON.stringify(value)).slice(0, 1000);
    const num = (value: unknown): number | null => (typeof value === "number" && Number.isFinite(value) ? value : null);
    if (event === "smtp.accepted") {
      const recipients = Array.isArray(fields.recipients) ? fields.recipients.map(text) : [];
      const detail = typeof fields.folder === "string" ? `delivered to ${fields.folder}` : `queued: ${num(fields.local) ?? 0} local, ${num(fields.remote) ?? 0} remote`;
      this.add({ at, event: "accepted", queueId: num(fields.queueId), from: text(fields.sender ?? fields.mailFrom), to: recipients, detail, size: num(fields.size) });
    } else if (event === "queue.delivery") {
      const state = fields.state === "delivered" || fields.state === "deferred" || fields.state === "failed" ? fields.state : null;
      if (state === null) return;
      this.add({ at, event: state, queueId: num(fields.queueId), from: text(fields.mailFrom), to: [text(fields.recipient)], detail: text(fields.result), size: num(fields.size) });
    }
  }
}

/** A logger that also hands each info event to `tap` (children included); the lines are written as before. */
export function tapLogger(log: Logger, tap: (event: string, fields: LogFields) => void): Logger {
  const safeTap = (event: string, fields: LogFields | undefined): void => {
    try {
      tap(event, fields ?? {});
    } catch {
      // A tap never breaks the logging it watches.
    }
  };
  return {
    debug: (event, fields) => log.debug(event, fields),
    info: (event, fields) => {
      log.info(event, fields);
      safeTap(event, fields);
    },
    warn: (event, fields) => log.warn(event, fields),
    error: (event, fields) => log.error(event, fields),
    child: (fields) => tapLogger(log.child(fields), tap),
  };
}
