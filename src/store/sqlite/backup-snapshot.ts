// The SQLite side of `mailroom backup` and `mailroom restore` (docs/architecture.md, "Backup and
// restore"): a consistent copy of the live database made with SQLite's online backup API, and a
// reader for such a copy (the blob ids it refers to, its schema version, its integrity).
//
// Why the copy is consistent with the message files: better-sqlite3 runs the backup in steps on
// the store's own connection, between event-loop turns. Every write of the store goes through
// that same connection in synchronous transactions (commit-queue.ts), so a step never sees half
// a transaction, and SQLite carries writes made between steps into the copy as they happen: the
// copy is the database as of the last step. Blob files are immutable and content-addressed;
// the only way one disappears is the collector, which the caller holds off
// (BlobDirectory.holdRemovals) from before the first step until the last file is read. So every
// row of the copy has its file, with the bytes its id names.
import Database from "better-sqlite3";
import type { Readable } from "node:stream";
import type { BlobDirectory } from "../blobs/blob-directory.js";
import type { BlobId } from "../types.js";
import type { SqliteDatabase } from "./sqlite-database.js";

/** Pages copied per backup step: 256 pages of 4 KiB is ~1 MiB, well under a millisecond of work. */
const PAGES_PER_STEP = 256;
/** Blob ids read from the copy per query. */
const BLOB_PAGE = 2000;

export interface BackupSnapshot {
  /** The copy of the database, a self-contained file (rollback journal mode, no -wal). */
  readonly databasePath: string;
  readonly schemaVersion: number;
  /** The ids and sizes of the message files the copy refers to, ascending, a page at a time. */
  blobs(): AsyncGenerator<{ id: BlobId; size: number }>;
  /** The live file's size, or null when it is missing (damage: store check reports it too). */
  blobSize(id: BlobId): Promise<number | null>;
  openBlob(id: BlobId): Readable;
  /** Lets the collector remove files again; call once the last file has been read. */
  release(): void;
}

export async function takeBackupSnapshot(
  db: SqliteDatabase,
  blobs: BlobDirectory,
  destination: string,
  onProgress?: (copied: number, total: number) => void,
): Promise<BackupSnapshot> {
  const release = blobs.holdRemovals();
  try {
    await db.backup(destination, {
      progress: ({ totalPages, remainingPages }) => {
        onProgress?.(totalPages - remainingPages, totalPages);
        return PAGES_PER_STEP;
      },
    });
    const reader = openSnapshotReader(destination, { writable: true });
    const { schemaVersion } = reader;
    reader.close();
    return {
      databasePath: destination,
      schemaVersion,
      blobs: () => snapshotBlobs(destination),
      blobSize: (id) => blobs.sizeOf(id),
      openBlob: (id) => blobs.createReadStream(id),
      release,
    };
  } catch (error) {
    release();
    throw error;
  }
}

export interface SnapshotReader {
  readonly schemaVersion: number;
  /** SQLite's quick_check: empty when the file is sound. */
  quickCheck(): string[];
  close(): void;
}

/**
 * Opens a database copy (a backup's snapshot, or one being restored). With `writable` it is first
 * switched to rollback-journal mode, so the copy is one self-contained file; the store puts it
 * back into WAL mode when it opens it.
 */
export function openSnapshotReader(path: string, options: { writable?: boolean } = {}): SnapshotReader {
  const db = new Database(path, { readonly: options.writable !== true, fileMustExist: true });
  try {
    if (options.writable) db.pragma("journal_mode = DELETE");
    const version = db.prepare("SELECT max(version) AS v FROM schema_migrations").get() as { v: number | null };
    return {
      schemaVersion: version.v ?? 0,
      quickCheck: () => {
        const rows = db.prepare("PRAGMA quick_check").pluck().all() as string[];
        return rows.length === 1 && rows[0] === "ok" ? [] : rows;
      },
      close: () => db.close(),
    };
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Ascending blob ids and sizes of a database copy, a page per query with the event loop free between pages. */
export async function* snapshotBlobs(path: string): AsyncGenerator<{ id: BlobId; size: number }> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const page = db.prepare("SELECT id, size FROM blobs WHERE id > ? ORDER BY id LIMIT ?");
    let after = "";
    for (;;) {
      const rows = page.all(after, BLOB_PAGE) as { id: BlobId; size: number }[];
      if (rows.length === 0) return;
      for (const row of rows) yield row;
      after = rows[rows.length - 1]!.id;
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    db.close();
  }
}
