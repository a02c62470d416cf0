// `mailroom backup [--incremental-from B] <file>` as an operation: the store writes the archive
// (store/backup/, docs/architecture.md "Backup and restore") and this words its report. It runs
// where the store is open: inside the running server when one answers on the control socket
// (the archive path is then written by the server's user), else in the command's own process
// under the owner lock.
import { isAbsolute } from "node:path";
import type { BackupFileSet, BackupProgress, BackupReport, StoreBackup } from "../../store/index.js";
import { AdminError } from "./validation.js";

export interface BackupDependencies {
  store: StoreBackup;
  /** Folders of keys and certificates kept beside the store (dkim, acme, tls). */
  files: BackupFileSet[];
  serverVersion: string;
}

export interface BackupOperationRequest {
  /** Absolute: a running server, not the command, resolves it. */
  file: string;
  incrementalFrom: string | null;
  onProgress?(progress: BackupProgress): void;
}

export interface BackupResult {
  report: BackupReport;
  lines: string[];
}

const mib = (bytes: number): string => (bytes / (1024 * 1024)).toFixed(1);

export function createBackupOperation(deps: BackupDependencies) {
  return async function backup(request: BackupOperationRequest): Promise<BackupResult> {
    if (!isAbsolute(request.file)) throw new AdminError("invalid-argument", `the backup file must be an absolute path: ${request.file}`);
    if (request.incrementalFrom !== null && !isAbsolute(request.incrementalFrom)) throw new AdminError("invalid-argument", `--incremental-from must be an absolute path: ${request.incrementalFrom}`);
    let report: BackupReport;
    try {
      report = await deps.store.writeBackup({ file: request.file, incrementalFrom: request.incrementalFrom, files: deps.files, serverVersion: deps.serverVersion, ...(request.onProgress ? { onProgress: request.onProgress } : {}) });
    } catch (error) {
      if (error instanceof Error && error.name === "BackupError") throw new AdminError("refused", error.message);
      throw error;
    }
    const seconds = Math.max(report.durationMs, 1) / 1000;
    const kind = report.base === null ? "full" : `incremental on ${report.base}`;
    return {
      report,
      lines: [
        `backup ${report.id} (${kind}): ${report.file}`,
        `database: ${mib(report.databaseBytes)} MiB (schema version ${report.schemaVersion}); message files: ${report.messageFiles} referenced, ${report.storedFiles} archived (${mib(report.storedBytes)} MiB)${report.base === null ? "" : `, ${report.messageFiles - report.storedFiles} in the base chain`}; ${report.extraFiles} key/certificate file(s)`,
        `archive: ${mib(report.archiveBytes)} MiB in ${seconds.toFixed(1)} s (${mib((report.databaseBytes + report.storedBytes) / seconds)} MiB/s of data); manifest: ${report.manifest}`,
      ],
    };
  };
}
