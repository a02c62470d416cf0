// Group commit. better-sqlite3 is synchronous and, with synchronous=FULL, every COMMIT waits for
// one WAL fsync. Mutations are therefore queued, and a flusher scheduled with setImmediate runs
// everything queued so far in ONE transaction (one fsync), each item inside its own SAVEPOINT so
// that one failing item (OVERQUOTA, a vanished mailbox) is rolled back alone. Only after COMMIT
// are the change batches published, in queue order, and the callers resolved.
//
// With `grouped: false` each item gets its own transaction (and its own fsync): the same code
// path, so the gain of grouping can be measured (bench/store-throughput.ts).
//
// Every mutation of the store goes through this queue (deliveries, flags, expunge, copy/move,
// mailbox and account changes), so commits and published changes share one total order.
//
// Trade-off: the flush runs on the event loop, which is blocked for the duration of the batch and
// its fsync (typically a few ms). Moving SQLite to a worker thread is the later step; the queue
// interface (submit() returning a promise) is already what such a worker would expose.
import type { Logger } from "../../observability/log.js";
import type { ChangeBatch } from "../changes.js";
import { StoreError } from "../errors.js";
import type { SqliteDatabase } from "./sqlite-database.js";

/** What a unit of work returns from inside the transaction. */
export interface Committed<T> {
  result: T;
  /** Published on the change feed after COMMIT, in order. */
  batches: ChangeBatch[];
}

export type Work<T> = () => Committed<T>;

interface QueueItem {
  work: Work<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

type Outcome = { ok: true; value: Committed<unknown> } | { ok: false; error: unknown };

export interface CommitQueueOptions {
  grouped: boolean;
  publish(batch: ChangeBatch): void;
  log: Logger;
  /** Upper bound of items per transaction, so one flush cannot block the loop for long. */
  maxBatch?: number;
}

export class CommitQueue {
  private pending: QueueItem[] = [];
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly db: SqliteDatabase,
    private readonly options: CommitQueueOptions,
  ) {}

  submit<T>(work: Work<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Resolves once every item submitted so far has been committed or failed. */
  drain(): Promise<void> {
    if (this.pending.length === 0 && !this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const items = this.pending.splice(0, this.options.maxBatch ?? 1000);
    if (this.options.grouped) this.commitGroup(items);
    else for (const item of items) this.commitGroup([item]);
    if (this.pending.length > 0) this.schedule();
    else for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private commitGroup(items: QueueItem[]): void {
    let outcomes: Outcome[];
    try {
      this.db.exec("BEGIN IMMEDIATE");
      outcomes = items.map((item) => this.runInSavepoint(item));
      this.db.exec("COMMIT");
    } catch (err) {
      // BEGIN or COMMIT failed (disk full, I/O error), or an item broke the transaction itself:
      // nothing of the group is durable, so every caller is told so.
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
      this.options.log.error("store.commit_failed", { items: items.length, error: err });
      const full = (err as { code?: unknown })?.code === "SQLITE_FULL";
      const failure = err instanceof StoreError ? err : new StoreError(full ? "NOSPACE" : "UNAVAILABLE", `commit failed: ${(err as Error).message}`, { cause: err });
      for (const item of items) item.reject(failure);
      return;
    }
    for (const [index, item] of items.entries()) {
      const outcome = outcomes[index];
      if (outcome?.ok) {
        for (const batch of outcome.value.batches) this.publishSafely(batch);
        item.resolve(outcome.value.result);
      } else {
        item.reject(outcome?.error);
      }
    }
  }

  private publishSafely(batch: ChangeBatch): void {
    try {
      this.options.publish(batch);
    } catch (err) {
      // The commit happened; a failing listener must not turn it into an error for the caller.
      this.options.log.warn("store.publish_failed", { accountId: batch.accountId, error: err });
    }
  }

  private runInSavepoint(item: QueueItem): Outcome {
    this.db.exec("SAVEPOINT item");
    try {
      const value = item.work();
      this.db.exec("RELEASE item");
      return { ok: true, value };
    } catch (error) {
      // SQLite rolls back the whole transaction by itself on some errors (SQLITE_FULL, IOERR):
      // then there is no savepoint to return to, and the group must fail as a whole.
      if (!this.db.inTransaction) throw error;
      this.db.exec("ROLLBACK TO item");
      this.db.exec("RELEASE item");
      return { ok: false, error };
    }
  }
}
