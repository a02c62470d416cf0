// The blob garbage collector: the only code that deletes blob files, run only by the process that
// serves the data dir (compose.ts starts it; opening the store for an admin command never does).
//
// Each tick does bounded work, never a walk of every blob:
// 1. Up to `batchSize` entries of blob_garbage (blobs whose last row went, queued in the same
//    transaction that deleted the row), plus blobs staged and then dropped without a delivery
//    (kept in memory: a crash forgets them, and step 2 finds their files). Each file is removed
//    under its blob lock unless a writer pins it or a row refers to it again; the entries handled
//    are then deleted by their id.
// 2. A slice of the slow scan for what a crash left: `scanPerTick` names of the fan-out folders
//    (one folder listing at a time) checked against the blobs table, orphans older than
//    `orphanMinAgeMs` removed the same way, then the temp folder (a temp file goes only when its
//    writer is certainly gone, BlobDirectory.removeTemporaryIfStale). A full pass takes at least
//    256 ticks; the next one starts `scanIntervalMs` later.
//
// Why a blob can never be removed between "exists" and "committed": every path that makes a row
// refer to a blob pins it first (BlobDirectory.write pins before its "exists?" check, hold() before
// a staged message's commit) and unpins only after COMMIT; the collector checks the pin and the
// blobs row under the same per-blob lock right before the unlink. See gc-interleaving.test.ts.
import type { BlobId } from "../types.js";
import { FANOUT_FOLDERS, type BlobDirectory, type BlobRemoval } from "../blobs/blob-directory.js";
import type { StoreContext } from "./store-context.js";

export interface CollectorOptions {
  /** Pause between ticks when there is no backlog (ms). */
  tickMs?: number;
  /** Pause between ticks while a backlog is drained, and after a wake() (ms). */
  busyTickMs?: number;
  /** blob_garbage entries (and dropped staged blobs) handled per tick. */
  batchSize?: number;
  /** Fan-out folder entries the orphan scan checks per tick. */
  scanPerTick?: number;
  /** Pause between two full passes of the orphan scan (ms). */
  scanIntervalMs?: number;
  /** An orphan file modified more recently than this is left for a later pass (ms). */
  orphanMinAgeMs?: number;
  /** A temp file of a pid that still exists (perhaps reused) is stale after this long untouched (ms). */
  staleTempAgeMs?: number;
  /** Dropped staged blobs remembered at most; beyond, the scan finds them. */
  maxLooseCandidates?: number;
}

const DEFAULTS: Required<CollectorOptions> = {
  tickMs: 1000,
  busyTickMs: 20,
  batchSize: 100,
  scanPerTick: 256,
  scanIntervalMs: 6 * 60 * 60_000,
  orphanMinAgeMs: 60 * 60_000,
  staleTempAgeMs: 60 * 60_000,
  maxLooseCandidates: 10_000,
};

/** Folder listings one tick may read while looking for `scanPerTick` names. */
const MAX_LISTINGS_PER_TICK = 16;

export interface TickReport {
  /** Files removed: garbage entries and dropped staged blobs. */
  removed: number;
  /** Entries dropped without an unlink: referenced again, or the file already gone. */
  dropped: number;
  /** Entries left for a later tick because a writer pins the blob. */
  waiting: number;
  /** Names the orphan scan checked. */
  scanned: number;
  orphansRemoved: number;
  tempFilesRemoved: number;
  /** This tick finished a full pass of the orphan scan. */
  passComplete: boolean;
  /** More garbage is queued than this tick took. */
  backlog: boolean;
}

interface Dependencies {
  ctx: StoreContext;
  blobs: BlobDirectory;
  /** Runs a write through the store's commit queue. */
  mutate(work: (ctx: StoreContext) => void): Promise<void>;
}

const emptyReport = (): TickReport => ({ removed: 0, dropped: 0, waiting: 0, scanned: 0, orphansRemoved: 0, tempFilesRemoved: 0, passComplete: false, backlog: false });

/** Queues blobs whose last row this transaction deleted; call inside the transaction. */
export function queueGarbage(ctx: StoreContext, ids: Iterable<BlobId>): void {
  const now = ctx.clock().getTime();
  for (const id of ids) ctx.sql.run("INSERT OR REPLACE INTO blob_garbage (blob_id, queued_at) VALUES (?, ?)", id, now);
}

export class BlobCollector {
  private readonly options: Required<CollectorOptions>;
  private readonly loose = new Set<BlobId>();
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private timerDue = 0;
  private current: Promise<unknown> | null = null;
  /** blob_garbage ids above this one are next; reset when the table's end is reached. */
  private afterEntry = 0;
  /** Orphan scan: next fan-out folder (256 means the temp folder), names left of the current one. */
  private folder = 0;
  private pending: BlobId[] = [];
  private nextPassAt = 0;
  /** tick() and runUntilIdle() run one after the other, never interleaved. */
  private queueTail: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: Dependencies,
    options: CollectorOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(this.options.busyTickMs);
  }

  /** Stops the ticks; resolves once a tick in progress has finished. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.current;
  }

  /** New garbage was committed: tick soon rather than at the next idle tick. */
  wake(): void {
    if (this.running && this.current === null) this.schedule(this.options.busyTickMs);
  }

  /** Blobs staged and dropped without a delivery: removed at the next tick unless referenced. */
  noteUnreferenced(ids: Iterable<BlobId>): void {
    for (const id of ids) if (this.loose.size < this.options.maxLooseCandidates) this.loose.add(id);
    this.wake();
  }

  /** One bounded round of work (what each timer tick runs); never two at once. */
  tick(now = Date.now()): Promise<TickReport> {
    return this.serially(() => this.tickNow(now));
  }

  /**
   * Ticks until the garbage queue is drained and, with `scan` (the default), one full orphan pass
   * is done, ignoring the pass interval. For tests and tools; the server only ever ticks.
   */
  runUntilIdle(options: { scan?: boolean; now?: number } = {}): Promise<TickReport> {
    const scan = options.scan ?? true;
    const now = options.now ?? Date.now();
    return this.serially(async () => {
      const total = emptyReport();
      if (scan) {
        this.nextPassAt = 0;
        this.folder = 0;
        this.pending = [];
      }
      for (;;) {
        const report = await this.tickNow(now, scan);
        for (const key of ["removed", "dropped", "waiting", "scanned", "orphansRemoved", "tempFilesRemoved"] as const) total[key] += report[key];
        if (report.passComplete) total.passComplete = true;
        if ((total.passComplete || !scan) && !report.backlog && this.loose.size === 0) return total;
      }
    });
  }

  private async tickNow(now: number, scan = true): Promise<TickReport> {
    const report = emptyReport();
    await this.collectQueued(report);
    if (scan && now >= this.nextPassAt) await this.scanStep(report, now);
    if (report.removed + report.orphansRemoved + report.tempFilesRemoved > 0) {
      this.deps.ctx.log.info("store.blobs_collected", { removed: report.removed, orphans: report.orphansRemoved, tempFiles: report.tempFilesRemoved });
    }
    return report;
  }

  private serially<T>(run: () => Promise<T>): Promise<T> {
    const result = this.queueTail.then(run);
    this.queueTail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private schedule(delayMs: number): void {
    const due = Date.now() + delayMs;
    if (this.timer !== null && this.timerDue <= due) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => void this.runTick(), delayMs);
    // The collector never keeps the process alive by itself.
    this.timer.unref();
  }

  private async runTick(): Promise<void> {
    this.timer = null;
    let backlog = false;
    const ticking = this.tick().then(
      (report) => (backlog = report.backlog),
      (error: unknown) => this.deps.ctx.log.error("store.gc_failed", { error }),
    );
    this.current = ticking;
    await ticking;
    this.current = null;
    if (this.running) this.schedule(backlog || this.loose.size > 0 ? this.options.busyTickMs : this.options.tickMs);
  }

  private readonly isReferenced = (id: BlobId): boolean => this.deps.ctx.sql.get("SELECT 1 FROM blobs WHERE id = ?", id) !== undefined;

  private async collectQueued(report: TickReport): Promise<void> {
    const { ctx } = this.deps;
    const limit = this.options.batchSize;
    const entries = ctx.sql.all<{ id: number; blob_id: string }>("SELECT id, blob_id FROM blob_garbage WHERE id > ? ORDER BY id LIMIT ?", this.afterEntry, limit);
    // Entries left behind (pinned) are met again once the cursor wraps around.
    this.afterEntry = entries.length === limit ? entries[entries.length - 1]!.id : 0;
    report.backlog = entries.length === limit;
    const loose = [...this.loose].slice(0, Math.max(0, limit - entries.length));
    for (const id of loose) this.loose.delete(id);
    if (entries.length === 0 && loose.length === 0) return;
    const removal = await this.deps.blobs.removeManyIfUnreferenced([...entries.map((e) => e.blob_id as BlobId), ...loose], this.isReferenced);
    this.logFailures(removal);
    const done: number[] = [];
    for (const outcome of removal.outcomes.values()) {
      if (outcome === "removed") report.removed++;
      else if (outcome === "pinned") report.waiting++;
      else report.dropped++;
    }
    for (const entry of entries) {
      const outcome = removal.outcomes.get(entry.blob_id as BlobId);
      // Pinned: a writer is about to commit a row for it (then the entry is dropped next time)
      // or to drop it (then it is removed next time). Failed: tried again later.
      if (outcome !== undefined && outcome !== "pinned") done.push(entry.id);
    }
    if (done.length > 0) {
      await this.deps.mutate((c) => c.sql.run("DELETE FROM blob_garbage WHERE id IN (SELECT value FROM json_each(?))", JSON.stringify(done)));
    }
  }

  private async scanStep(report: TickReport, now: number): Promise<void> {
    let budget = this.options.scanPerTick;
    let listings = 0;
    while (budget > 0) {
      if (this.pending.length === 0) {
        if (listings >= MAX_LISTINGS_PER_TICK) return;
        listings++;
        if (this.folder < FANOUT_FOLDERS.length) {
          this.pending = await this.deps.blobs.listFolder(FANOUT_FOLDERS[this.folder]!);
          this.folder++;
          continue;
        }
        if (this.folder === FANOUT_FOLDERS.length) {
          this.folder++;
          for (const name of await this.deps.blobs.listTemporary()) {
            try {
              if (await this.deps.blobs.removeTemporaryIfStale(name, this.options.staleTempAgeMs, now)) report.tempFilesRemoved++;
            } catch (error) {
              this.deps.ctx.log.warn("store.temp_remove_failed", { name, error });
            }
          }
          continue;
        }
        this.folder = 0;
        this.nextPassAt = now + this.options.scanIntervalMs;
        report.passComplete = true;
        return;
      }
      const slice = this.pending.splice(0, budget);
      budget -= slice.length;
      report.scanned += slice.length;
      const unrowed = this.deps.ctx.sql
        .all<{ value: string }>("SELECT value FROM json_each(?) WHERE NOT EXISTS (SELECT 1 FROM blobs WHERE blobs.id = json_each.value)", JSON.stringify(slice))
        .map((row) => row.value as BlobId);
      if (unrowed.length === 0) continue;
      const removal = await this.deps.blobs.removeManyIfUnreferenced(unrowed, this.isReferenced, { minAgeMs: this.options.orphanMinAgeMs, now });
      this.logFailures(removal);
      for (const [id, outcome] of removal.outcomes) {
        if (outcome !== "removed") continue;
        report.orphansRemoved++;
        // A file without a row is what a crash between the blob write and the commit leaves.
        this.deps.ctx.log.info("store.orphan_blob_removed", { blobId: id });
      }
    }
  }

  private logFailures(removal: BlobRemoval): void {
    for (const failure of removal.failed) this.deps.ctx.log.warn("store.blob_remove_failed", { path: failure.path, error: failure.error });
  }
}
