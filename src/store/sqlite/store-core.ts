// The plumbing under SqliteStore: how an operation runs (refused once closing, awaited by
// close()), how a mutation goes through the commit queue with the blobs it orphaned queued for
// the collector in the same transaction, and the collector's start and stop. Kept apart so
// sqlite-store.ts holds only the store's methods.
import { type QuotaPolicy, UNLIMITED_QUOTA } from "../quota.js";
import type { MimeTreeLimits } from "../../mail/mime-tree.js";
import { silentLogger, type Logger } from "../../observability/log.js";
import { InProcessChangeFeed } from "../change-feed.js";
import type { ChangeFeed } from "../changes.js";
import { StoreError } from "../errors.js";
import type { BlobId } from "../types.js";
import type { BlobDirectory, BlobDirectoryOptions } from "../blobs/blob-directory.js";
import { BlobCollector, queueGarbage, type CollectorOptions } from "./blob-collector.js";
import { toStoreError } from "./checks.js";
import { checkStore } from "./store-check.js";
import { checkSearchIndex, rebuildSearchIndex } from "./search-index-check.js";
import type { SearchIndexCheckOptions, SearchIndexCheckReport, SearchIndexRebuildOptions, SearchIndexRebuildReport, StoreCheckOptions, StoreCheckReport } from "../maintenance.js";
import { CommitQueue } from "./commit-queue.js";
import { takeBackupSnapshot } from "./backup-snapshot.js";
import { createBackup } from "../backup/create.js";
import type { BackupReport, BackupRequest } from "../backup/types.js";
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
  /** The blob directory's file layer and test sync points (blob-directory.ts). */
  blobs?: BlobDirectoryOptions;
  /** The blob collector's pace (blob-collector.ts); it runs only once startCollector() is called. */
  collector?: CollectorOptions;
  /** Quota defaults from config [quota] (store/quota.ts); absent: unlimited. */
  quota?: QuotaPolicy;
}

/**
 * What every operation of SqliteStore runs on: the database handle and its statements, the blob
 * directory, the commit queue, and the bookkeeping that lets close() wait for work in flight.
 * SqliteStore (sqlite-store.ts) adds the MailStore, AccountStore and QueueStore methods.
 */
export abstract class SqliteStoreCore {
  readonly changes: ChangeFeed;
  /** Removes blob files nothing refers to; idle until startCollector() (the serving process only). */
  readonly collector: BlobCollector;
  protected readonly ctx: StoreContext;
  protected readonly mimeLimits: MimeTreeLimits;
  private readonly queue: CommitQueue;
  private readonly inflight = new Set<Promise<unknown>>();
  protected closing = false;
  private readonly databasePath: string;
  private closed = false;

  constructor(
    private readonly db: SqliteDatabase,
    protected readonly blobs: BlobDirectory,
    options: SqliteStoreOptions & { clock: () => Date; databasePath: string },
  ) {
    this.databasePath = options.databasePath;
    const log = options.log ?? silentLogger;
    this.changes = options.changeFeed ?? new InProcessChangeFeed();
    this.ctx = { sql: new Statements(db), clock: options.clock, log, quota: options.quota ?? UNLIMITED_QUOTA };
    this.mimeLimits = options.mimeLimits ?? {};
    this.queue = new CommitQueue(db, { grouped: options.groupCommit ?? true, publish: (batch) => this.changes.publish(batch), log });
    this.collector = new BlobCollector(
      {
        ctx: this.ctx,
        blobs,
        mutate: (work) => this.queue.submit(() => ({ result: work(this.ctx), batches: [] })),
      },
      options.collector,
    );
  }

  /**
   * Starts the blob collector. Only the process that serves the data dir calls this (compose.ts):
   * opening the store, as every admin command does, never deletes, moves or invalidates a file.
   */
  startCollector(): void {
    if (this.closing) return;
    this.collector.start();
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

  /**
   * One unit of work through the commit queue. The blobs whose last row it deleted are queued in
   * blob_garbage inside the same transaction, so the collector cannot miss one after a crash.
   */
  protected async mutate<T>(body: (ctx: StoreContext, unit: UnitOfWork) => T): Promise<T> {
    const unit = new UnitOfWork();
    const result = await this.queue.submit(() => {
      const value = body(this.ctx, unit);
      if (unit.garbage.size > 0) queueGarbage(this.ctx, unit.garbage);
      return { result: value, batches: unit.batches() };
    });
    if (unit.garbage.size > 0) this.collector.wake();
    return result;
  }

  protected write<T>(body: (ctx: StoreContext, unit: UnitOfWork) => T): Promise<T> {
    return this.track(() => this.mutate(body));
  }

  /** Staged blobs dropped without a delivery: the collector removes them unless referenced. */
  protected dropStaged(ids: Iterable<BlobId>): void {
    this.collector.noteUnreferenced(ids);
  }

  /** `mailroom store check [--repair]` (store-check.ts); safe while serving. */
  checkStore(options: StoreCheckOptions = {}): Promise<StoreCheckReport> {
    return this.track(() =>
      checkStore({ ctx: this.ctx, blobs: this.blobs, databasePath: this.databasePath, mutate: (work) => this.queue.submit(() => ({ result: work(this.ctx), batches: [] })) }, options),
    );
  }

  /** `mailroom index check` (search-index-check.ts); read-only, safe while serving. */
  checkSearchIndex(options: SearchIndexCheckOptions = {}): Promise<SearchIndexCheckReport> {
    return this.track(() => checkSearchIndex(this.searchIndexDependencies(), options));
  }

  /** `mailroom index rebuild [--account A]` (search-index-check.ts); small transactions, safe while serving. */
  rebuildSearchIndex(options: SearchIndexRebuildOptions = {}): Promise<SearchIndexRebuildReport> {
    return this.track(() => rebuildSearchIndex(this.searchIndexDependencies(), options));
  }

  /**
   * `mailroom backup` (backup/create.ts over backup-snapshot.ts): an online snapshot plus the files
   * it refers to, safe while serving; the collector removes no file until the archive has them.
   */
  writeBackup(request: BackupRequest): Promise<BackupReport> {
    return this.track(() => createBackup((destination, onProgress) => takeBackupSnapshot(this.db, this.blobs, destination, onProgress), request));
  }

  private searchIndexDependencies() {
    return { ctx: this.ctx, blobs: this.blobs, mimeLimits: this.mimeLimits, mutate: (work: (ctx: StoreContext) => void) => this.queue.submit(() => ({ result: work(this.ctx), batches: [] })) };
  }

  async close(): Promise<void> {
    if (this.closing) {
      while (!this.closed) await new Promise((resolve) => setImmediate(resolve));
      return;
    }
    this.closing = true;
    await this.collector.stop();
    await Promise.allSettled([...this.inflight]);
    await this.queue.drain();
    this.db.close();
    this.closed = true;
  }
}
