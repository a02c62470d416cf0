// `mailroom backup` as the store offers it (docs/architecture.md, "Backup and restore"): a backend
// that can take a consistent online backup implements StoreBackup. Backend-neutral types; the
// SQLite backend implements it (sqlite/backup-snapshot.ts, backup/create.ts).

export interface BackupProgress {
  /** "database": the snapshot being copied (pages); "messages": message files archived or found in the base. */
  phase: "database" | "messages";
  done: number;
  total: number | null;
}

/** A folder of small files kept beside the store (DKIM keys, ACME, TLS), archived under `files/<name>/`. */
export interface BackupFileSet {
  name: string;
  dir: string;
}

export interface BackupRequest {
  /** The archive to write (absolute); refused when it exists. */
  file: string;
  /** A previous archive, or its `.manifest.jsonl`: only message files it lacks are archived. */
  incrementalFrom: string | null;
  files: BackupFileSet[];
  serverVersion: string;
  onProgress?(progress: BackupProgress): void;
}

export interface BackupReport {
  file: string;
  manifest: string;
  id: string;
  /** The base's id for an incremental backup. */
  base: string | null;
  schemaVersion: number;
  databaseBytes: number;
  /** Message files the snapshot refers to. */
  messageFiles: number;
  /** Of those, archived in this backup (the rest are in the base chain). */
  storedFiles: number;
  storedBytes: number;
  extraFiles: number;
  archiveBytes: number;
  durationMs: number;
}

export interface StoreBackup {
  writeBackup(request: BackupRequest): Promise<BackupReport>;
}
