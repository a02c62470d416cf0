// What the admin dashboard and delivery log read (http/admin-pages.ts, docs/architecture.md,
// "Admin API and pages"): per-minute counts over the last day, sampled from the /metrics counters
// (Metrics.snapshot), and the recent deliveries, taken from the smtp.accepted and queue.delivery
// log events every message already produces. Both are kept in the store when the server has one
// (store/admin-history-store.ts), so a restart keeps them and, with PostgreSQL, every node adds to
// the same rows (the cluster's totals). Writes are batched: one per minute for the counts (this
// minute's increase, added), one per few seconds for the deliveries; a message costs none of its own.
import type { LogFields, Logger } from "./log.js";

export interface SeriesView {
  /** Epoch ms of the first point's minute. */
  start: number;
  stepMs: number;
  /** Every series by name, one count per minute, oldest first; the last point is the current, still-running minute. */
  series: Record<string, number[]>;
}

/** One minute's counts by name (the shape of store/admin-history-store.ts's MinuteCounts). */
export interface MinutePoint {
  minute: number;
  counts: Record<string, number>;
}

/** Where the minutes are kept: the store (AdminHistoryStore), or MemorySeriesHistory. */
export interface SeriesHistory {
  /** Adds each count to its minute (added, never replaced: several nodes count into one minute). */
  addMinuteCounts(points: readonly MinutePoint[]): Promise<void>;
  readMinuteCounts(since: number): Promise<MinutePoint[]>;
  pruneMinuteCounts(before: number): Promise<number>;
}

/** The minutes in this process's memory: for a server without a store history, and the tests. */
export class MemorySeriesHistory implements SeriesHistory {
  readonly #minutes = new Map<number, Record<string, number>>();

  async addMinuteCounts(points: readonly MinutePoint[]): Promise<void> {
    for (const point of points) {
      const counts = this.#minutes.get(point.minute) ?? {};
      for (const [name, count] of Object.entries(point.counts)) if (count !== 0) counts[name] = (counts[name] ?? 0) + count;
      if (Object.keys(counts).length > 0) this.#minutes.set(point.minute, counts);
    }
  }

  async readMinuteCounts(since: number): Promise<MinutePoint[]> {
    return [...this.#minutes.entries()].filter(([minute]) => minute >= since).sort(([a], [b]) => a - b).map(([minute, counts]) => ({ minute, counts: { ...counts } }));
  }

  async pruneMinuteCounts(before: number): Promise<number> {
    let dropped = 0;
    for (const minute of [...this.#minutes.keys()]) {
      if (minute < before) {
        this.#minutes.delete(minute);
        dropped += 1;
      }
    }
    return dropped;
  }
}

/** Closed minutes are read from the history at most this often (other nodes add theirs at each minute's end). */
const HISTORY_READ_MS = 10_000;

/**
 * Counts per minute from cumulative counters: at each minute boundary the increase since the
 * reading before is added to that reading's minute in the history, so a point is "how many in
 * that minute" (summed over the nodes and the server runs that counted in it). At most `minutes`
 * closed minutes are kept; older ones are pruned as each minute is written.
 */
export class MinuteSeries {
  readonly #read: () => Promise<Record<string, number>>;
  readonly #minutes: number;
  readonly #clock: () => number;
  readonly #history: SeriesHistory;
  readonly #onError: (error: unknown) => void;
  /** The reading the next write counts from, and its minute (epoch ms). */
  #last: Record<string, number> | null = null;
  #lastAt = 0;
  #timer: NodeJS.Timeout | null = null;
  #stored: { readAt: number; since: number; points: Map<number, Record<string, number>> } | null = null;
  /** One write at a time: a stop's flush waits for the minute's write in progress. */
  #writing: Promise<void> = Promise.resolve();

  constructor(read: () => Promise<Record<string, number>>, options: { minutes?: number; clock?: () => number; history?: SeriesHistory; onError?: (error: unknown) => void } = {}) {
    this.#read = read;
    this.#minutes = options.minutes ?? 1440;
    this.#clock = options.clock ?? Date.now;
    this.#history = options.history ?? new MemorySeriesHistory();
    this.#onError = options.onError ?? (() => {});
  }

  /** Takes the first reading now, then writes one minute at each minute boundary. */
  async start(): Promise<void> {
    this.#last = await this.#read();
    this.#lastAt = minuteOf(this.#clock());
    const schedule = (): void => {
      const now = this.#clock();
      this.#timer = setTimeout(() => void this.sample().finally(() => this.#timer !== null && schedule()), minuteOf(now) + 60_000 - now + 5);
      this.#timer.unref();
    };
    schedule();
  }

  /** Stops the minute timer and writes what the running minute counted so far (a restart goes on from there). */
  async stop(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.flush();
  }

  /** Closes the running minute once it has passed: its increase is added to the history (minutes without a reading get zeros). */
  async sample(): Promise<void> {
    await this.#serial(async () => {
      const now = await this.#read();
      const minute = minuteOf(this.#clock());
      if (this.#last === null) {
        this.#last = now;
        this.#lastAt = minute;
        return;
      }
      if (minute <= this.#lastAt) return;
      if (!(await this.#write(this.#lastAt, difference(now, this.#last)))) return;
      this.#last = now;
      this.#lastAt = minute;
      await this.#history.pruneMinuteCounts(minute - this.#minutes * 60_000).catch(this.#onError);
    });
  }

  /** Adds the running minute's counts so far to the history, and counts on from here. */
  async flush(): Promise<void> {
    await this.#serial(async () => {
      if (this.#last === null) return;
      const now = await this.#read();
      if (await this.#write(this.#lastAt, difference(now, this.#last))) this.#last = now;
    });
  }

  async #serial(body: () => Promise<void>): Promise<void> {
    const run = this.#writing.then(body);
    this.#writing = run.catch(() => {});
    return run;
  }

  /** false when the history refused it: the increase is counted again at the next write, not lost. */
  async #write(minute: number, counts: Record<string, number>): Promise<boolean> {
    this.#stored = null;
    if (Object.values(counts).every((v) => v === 0)) return true;
    try {
      await this.#history.addMinuteCounts([{ minute, counts }]);
      return true;
    } catch (error) {
      this.#onError(error);
      return false;
    }
  }

  async #closedMinutes(since: number): Promise<Map<number, Record<string, number>>> {
    const now = this.#clock();
    if (this.#stored === null || this.#stored.since > since || now - this.#stored.readAt >= HISTORY_READ_MS) {
      const points = new Map((await this.#history.readMinuteCounts(since)).map((p) => [p.minute, p.counts]));
      this.#stored = { readAt: now, since, points };
    }
    return this.#stored.points;
  }

  /** The last `minutes` minutes, the running one last (what the history has for it, plus this process's count so far). */
  async view(minutes = this.#minutes): Promise<SeriesView> {
    const current = this.#last === null ? {} : difference(await this.#read(), this.#last);
    const nowMinute = this.#last === null ? minuteOf(this.#clock()) : this.#lastAt;
    const span = Math.max(1, Math.min(minutes, this.#minutes + 1));
    const start = nowMinute - (span - 1) * 60_000;
    const stored = await this.#closedMinutes(nowMinute - this.#minutes * 60_000);
    const names = new Set<string>(Object.keys(current));
    for (const [at, counts] of stored) if (at >= start) for (const name of Object.keys(counts)) names.add(name);
    const series: Record<string, number[]> = {};
    for (const name of [...names].sort()) {
      const values: number[] = [];
      for (let at = start; at < nowMinute; at += 60_000) values.push(stored.get(at)?.[name] ?? 0);
      values.push((stored.get(nowMinute)?.[name] ?? 0) + (current[name] ?? 0));
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

/** One line of the delivery log (the shape of store/admin-history-store.ts's DeliveryRecord). */
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

/** Where the delivery log is kept (AdminHistoryStore). */
export interface DeliveryHistory {
  addDeliveries(entries: readonly DeliveryEntry[]): Promise<void>;
  listDeliveries(query: { event?: DeliveryEntry["event"] | undefined; text?: string | undefined; limit: number }): Promise<DeliveryEntry[]>;
  pruneDeliveries(keep: number): Promise<number>;
}

/** Entries waiting for a write at most this long, or until this many are waiting. */
const DELIVERY_FLUSH_MS = 5_000;
const DELIVERY_FLUSH_ENTRIES = 500;

const matches = (e: DeliveryEntry, event: DeliveryEntry["event"] | undefined, text: string): boolean =>
  (event === undefined || e.event === event) && (text === "" || [e.from, ...e.to, e.detail].some((s) => s.toLowerCase().includes(text)));

/**
 * The last `capacity` deliveries, newest first when listed. With a history (the store), entries
 * wait in memory for the next batched write (every few seconds, and at stop) and the log keeps
 * the newest `capacity` there; without one, the log is this memory alone.
 */
export class DeliveryLog {
  /** Not yet written (with a history), or the whole log (without). */
  #pending: DeliveryEntry[] = [];
  /** The batch being written: still listed until the history has it. */
  #writing: DeliveryEntry[] = [];
  #flushing: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | null = null;
  readonly #history: DeliveryHistory | null;
  readonly #onError: (error: unknown) => void;

  constructor(
    private readonly capacity: number,
    options: { history?: DeliveryHistory | null; onError?: (error: unknown) => void } = {},
  ) {
    this.#history = options.history ?? null;
    this.#onError = options.onError ?? (() => {});
  }

  add(entry: DeliveryEntry): void {
    if (this.capacity <= 0) return;
    this.#pending.push(entry);
    if (this.#pending.length > this.capacity) this.#pending.splice(0, this.#pending.length - this.capacity);
    if (this.#history !== null && this.#pending.length >= DELIVERY_FLUSH_ENTRIES) void this.flush();
  }

  /** Starts the periodic write (nothing to do without a history). */
  start(): void {
    if (this.#history === null || this.#timer !== null) return;
    this.#timer = setInterval(() => void this.flush(), DELIVERY_FLUSH_MS);
    this.#timer.unref();
  }

  /** Stops the timer and writes what waits. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.flush();
  }

  /**
   * Writes the waiting entries in one batch and prunes the history to `capacity`. A batch the
   * history refused waits for the next flush; a failed prune does not (the batch is written: it
   * would be written twice), the next flush prunes again.
   */
  flush(): Promise<void> {
    const history = this.#history;
    if (history === null) return Promise.resolve();
    const run = this.#flushing.then(async () => {
      if (this.#pending.length === 0) return;
      this.#writing = this.#pending;
      this.#pending = [];
      try {
        await history.addDeliveries(this.#writing);
      } catch (error) {
        this.#onError(error);
        this.#pending = [...this.#writing, ...this.#pending].slice(-this.capacity);
        return;
      } finally {
        this.#writing = [];
      }
      try {
        await history.pruneDeliveries(this.capacity);
      } catch (error) {
        this.#onError(error);
      }
    });
    this.#flushing = run.catch(() => {});
    return run;
  }

  async list(query: DeliveryQuery = {}): Promise<DeliveryEntry[]> {
    const text = (query.text ?? "").trim().toLowerCase();
    const limit = Math.max(1, Math.min(query.limit ?? 100, 1000, this.capacity));
    const local: DeliveryEntry[] = [];
    const waiting = [...this.#writing, ...this.#pending];
    for (let i = waiting.length - 1; i >= 0 && local.length < limit; i--) if (matches(waiting[i]!, query.event, text)) local.push(waiting[i]!);
    if (this.#history === null) return local;
    const stored = await this.#history.listDeliveries({ event: query.event, text, limit });
    // Written entries are older than this process's waiting ones, but another node's may not be: by time, newest first.
    return [...local, ...stored].sort((a, b) => b.at.getTime() - a.at.getTime()).slice(0, limit);
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
