// Store maintenance the operator runs: `mailroom store check [--repair]`. Backend-neutral types;
// the SQLite backend implements them in sqlite/store-check.ts.

export type StoreCheckPhase = "database" | "rows" | "files" | "usage" | "repair";

export interface StoreCheckProgress {
  phase: StoreCheckPhase;
  done: number;
  /** Null while the total is not known yet. */
  total: number | null;
}

export interface StoreCheckOptions {
  /** Fix what can be fixed: orphan files and unreferenced blob rows go, usage counters are recomputed. */
  repair?: boolean;
  /**
   * An orphan file modified more recently than this is reported but not removed (ms; default one
   * hour): a delivery's file has no row until its commit.
   */
  orphanMinAgeMs?: number;
  onProgress?(progress: StoreCheckProgress): void;
}

export interface StoreCheckReport {
  /** What SQLite's integrity check found; empty when "ok". */
  integrity: string[];
  journalMode: string;
  /** Octets in the write-ahead log not yet checkpointed into the database file (information). */
  walBytes: number;
  blobRows: number;
  blobFiles: number;
  messages: number;
  /** Blob rows whose file is missing: their messages answer IMAP NO [SERVERBUG], POP3 -ERR [SYS/PERM]. */
  missingFiles: { blobId: string; messages: number }[];
  /** Blob files of another size than their row records. */
  wrongSize: { blobId: string; recorded: number; actual: number }[];
  /** Files without a row (what a crash between write and commit leaves). */
  orphanFiles: string[];
  /** Blob rows no message or queue entry refers to. */
  unreferencedRows: number;
  /** Accounts whose used-bytes counter differs from the sum of their messages. */
  usage: { address: string; recorded: number; actual: number }[];
  repaired: { orphanFilesRemoved: number; unreferencedRowsQueued: number; usageFixed: number; walCheckpointed: boolean };
  /** Problems still there after the check (and the repair, if asked). */
  remaining: number;
  durationMs: number;
}

export interface StoreMaintenance {
  /**
   * Verifies rows against files, SQLite's integrity, WAL state and usage counters; with repair,
   * fixes what can be fixed. Safe while the server runs in the same process: bounded batches
   * that yield to the event loop, removals under the same locks as the collector.
   */
  checkStore(options?: StoreCheckOptions): Promise<StoreCheckReport>;
}
