// Store maintenance the operator runs: `mailroom store check [--repair]`. Backend-neutral types;
// the SQLite backend implements them in sqlite/store-check.ts.
import type { AccountId } from "./types.js";

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
  /**
   * Accounts whose used-bytes counter differs from the sum of their messages' sizes, or whose
   * message counter (RFC 9208 MESSAGE, store/quota.ts) from their number of messages.
   */
  usage: { address: string; recorded: number; actual: number; recordedMessages?: number; actualMessages?: number }[];
  repaired: { orphanFilesRemoved: number; unreferencedRowsQueued: number; usageFixed: number; walCheckpointed: boolean };
  /** Problems still there after the check (and the repair, if asked). */
  remaining: number;
  durationMs: number;
}

export interface StoreMaintenance extends SearchIndexMaintenance {
  /**
   * Verifies rows against files, SQLite's integrity, WAL state and usage counters; with repair,
   * fixes what can be fixed. Safe while the server runs in the same process: bounded batches
   * that yield to the event loop, removals under the same locks as the collector.
   */
  checkStore(options?: StoreCheckOptions): Promise<StoreCheckReport>;
}

// `mailroom index check` / `mailroom index rebuild [--account A]`: the full-text index (schema.ts,
// version 9) against what the message files give today. The SQLite backend implements them in
// sqlite/search-index-check.ts.

export type SearchIndexPhase = "blobs" | "orphans";

export interface SearchIndexProgress {
  phase: SearchIndexPhase;
  done: number;
  total: number | null;
}

export interface SearchIndexCheckOptions {
  onProgress?(progress: SearchIndexProgress): void;
}

export interface SearchIndexCheckReport {
  /** Blobs looked at. */
  blobs: number;
  /** Blobs without an index entry (no text_id, or the row is gone). */
  missing: string[];
  /** Blobs whose entry (text or header length) differs from what their file gives now. */
  stale: string[];
  /** Blobs whose file could not be read: not verifiable here (`store check` reports them). */
  unreadable: string[];
  /** Index rows no blob refers to (their rowids). */
  orphans: number[];
  /** missing + stale + orphans. */
  remaining: number;
  durationMs: number;
}

export interface SearchIndexRebuildOptions {
  /** Only the blobs of this account's messages; without it every blob, and orphan rows go. */
  accountId?: AccountId;
  onProgress?(progress: SearchIndexProgress): void;
}

export interface SearchIndexRebuildReport {
  /** Entries written again from the message files. */
  rebuilt: number;
  /** Blobs whose file could not be read: their entries were left as they were. */
  unreadable: string[];
  /** Orphan index rows deleted (only when rebuilding everything). */
  orphansRemoved: number;
  durationMs: number;
}

export interface SearchIndexMaintenance {
  /** Compares every blob's index entry with the text its file gives now; read-only. */
  checkSearchIndex(options?: SearchIndexCheckOptions): Promise<SearchIndexCheckReport>;
  /** Writes the entries again from the files, a few blobs per transaction; safe while serving. */
  rebuildSearchIndex(options?: SearchIndexRebuildOptions): Promise<SearchIndexRebuildReport>;
}
