// The plumbing under SqliteStore: how an operation runs (refused once closing, awaited by
// close()), how a mutation goes through the commit queue with blob files removed after COMMIT,
// and the garbage sweep run at open. Kept apart so sqlite-store.ts holds only the store's methods.
import type { MimeTreeLimits } from "../../mail/mime-tree.js";
import { silentLogger, type Logger } from "../../observability/log.js";
import { InProcessChangeFeed } from "../change-feed.js";
import type { ChangeFeed } from "../changes.js";
import { StoreError } from "../errors.js";
import type { BlobId } from "../types.js";
import type { BlobDirectory } from "../blobs/blob-directory.js";
import { toStoreError } from "./checks.js";
import { CommitQueue } from "./commit-queue.js";
import { UNREFERENCED_BLOB } from "./message-removal.js";
import { type SqliteDatabase, Statements } from "./sqlite-database.js";
import { type StoreContext, UnitOfWork } from "./store-context.js";

export interface SqliteStoreOptions {
  dataDir: string;
  log?: Logger;
  clock?: () => Date;
  /** Group concurrent commits into one transaction (default true); false for measurement. */
  groupCommit?: boolean;
  changeFeed?: ChangeFeed;
  /** How deep and how many parts the stored MIME tree of a message may have (config limits.mime_*). */
  mimeLimits?: MimeTreeLimits;
}

export interface GarbageSweep {
  blobs: number;
  tempFiles: number;
}

/**
 * What every operation of SqliteStore runs on: the database handle and its statements, the blob
 * directory, the commit queue, and the bookkeeping that lets close() wait for work in flight.
 * SqliteStore (sqlite-store.ts) adds the MailStore, AccountStore and QueueStore methods.
 */
export abstract class SqliteStoreCore {
  readonly changes: ChangeFeed;
  protected readonly ctx: StoreContext;
  protected readonly mimeLimits: MimeTreeLimits;
  private readonly queue: CommitQueue;
  private readonly inflight = new Set<Promise<unknown>>();
  protected closing = false;
  private closed = false;

  constructor(
    private readonly db: SqliteDatabase,
    protected readonly blobs: BlobDirectory,
    options: SqliteStoreOptions & { clock: () => Date },
  ) {
    const log = options.log ?? silentLogger;
    this.changes = options.changeFeed ?? new InProcessChangeFeed();
    this.ctx = { sql: new Statements(db), clock: options.clock, log };
    this.mimeLimits = options.mimeLimits ?? {};
    this.queue = new CommitQueue(db, { grouped: options.groupCommit ?? true, publish: (batch) => this.changes.publish(batch), log });
  }

  // Plumbing ----------------------------------------------------------------------------------

  /** Runs a public operation: refused once closing, awaited by close(). */
  protected track<T>(run: () => Promise<T> | T): Promise<T> {
    if (this.closing) return Promise.reject(new StoreError("UNAVAILABLE", "store is closed"));
    const promise = (async () => {
      try {
        return await run();
      } catch (err) {
        throw toStoreError(err);
      }
    })();
    this.inflight.add(promise);
    const forget = () => this.inflight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  protected read<T>(query: (ctx: StoreContext) => T): Promise<T> {
    return this.track(() => query(this.ctx));
  }

  /** One unit of work through the commit queue; unreferenced blobs are removed after COMMIT. */
  protected async mutate<T>(body: (ctx: StoreContext, unit: UnitOfWork) => T): Promise<T> {
    const unit = new UnitOfWork();
    try {
      return await this.queue.submit(() => ({ result: body(this.ctx, unit), batches: unit.batches() }));
    } finally {
      if (unit.garbage.size > 0) await this.removeBlobs(unit.garbage);
    }
  }

  protected write<T>(body: (ctx: StoreContext, unit: UnitOfWork) => T): Promise<T> {
    return this.track(() => this.mutate(body));
  }

  private readonly isBlobReferenced = (id: BlobId): boolean => this.ctx.sql.get("SELECT 1 FROM blobs WHERE id = ?", id) !== undefined;

  protected async removeBlobs(ids: Iterable<BlobId>): Promise<number> {
    const { removed, failed } = await this.blobs.removeManyIfUnreferenced(ids, this.isBlobReferenced);
    // Left as orphans for the next sweep; the rows are already consistent.
    for (const failure of failed) this.ctx.log.warn("store.blob_remove_failed", { path: failure.path, error: failure.error });
    return removed.length;
  }

  /**
   * Removes blob rows no message refers to, blob files with no row (unless a delivery holds
   * them), and temp files of writers that are gone. Run at open; safe to run at any time.
   */
  collectGarbage(): Promise<GarbageSweep> {
    return this.track(async () => {
      await this.mutate((ctx, unit) => {
        const rows = ctx.sql.all<{ id: string }>(`DELETE FROM blobs WHERE ${UNREFERENCED_BLOB} RETURNING id`);
        for (const row of rows) unit.garbage.add(row.id as BlobId);
      });
      let blobCount = 0;
      for await (const id of this.blobs.listBlobIds()) {
        if (await this.blobs.removeIfUnreferenced(id, this.isBlobReferenced)) blobCount++;
      }
      const tempFiles = await this.blobs.removeStaleTemporaryFiles();
      if (blobCount > 0 || tempFiles > 0) this.ctx.log.info("store.garbage_collected", { blobs: blobCount, tempFiles });
      return { blobs: blobCount, tempFiles };
    });
  }

  async close(): Promise<void> {
    if (this.closing) {
      while (!this.closed) await new Promise((resolve) => setImmediate(resolve));
      return;
    }
    this.closing = true;
    await Promise.allSettled([...this.inflight]);
    await this.queue.drain();
    this.db.close();
    this.closed = true;
  }
}
