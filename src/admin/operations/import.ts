// `mailroom import --account A [--mailbox M] <path>` as an operation: the import (src/import/)
// into one account, worded for an operator. Runs in the serving process when a server is up (the
// path is read by the server, so it is made absolute by the CLI), in the command's own otherwise.
import { importMessages, type ImportProgress, type ImportReport, type ImportStore } from "../../import/importer.js";
import type { Account } from "../../store/index.js";
import { AdminError } from "./validation.js";

export interface ImportDependencies {
  store: ImportStore;
  /** Largest message imported (limits.max_message_size); larger ones are reported and skipped. */
  maxMessageBytes: number;
}

export interface ImportRequest {
  account: string;
  path: string;
  mailbox?: string | null;
  onProgress?(progress: ImportProgress): void;
}

export interface ImportResult {
  report: ImportReport;
  lines: string[];
}

export function createImportOperation(deps: ImportDependencies, requireAccount: (address: string) => Promise<Account>) {
  return async (request: ImportRequest): Promise<ImportResult> => {
    if (!request.path.startsWith("/")) throw new AdminError("invalid-argument", "the path must be absolute");
    const account = await requireAccount(request.account);
    let report: ImportReport;
    try {
      report = await importMessages({ store: deps.store, accountId: account.id, path: request.path, maxMessageBytes: deps.maxMessageBytes, ...(request.mailbox ? { mailbox: request.mailbox } : {}), ...(request.onProgress ? { onProgress: request.onProgress } : {}) });
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === "ENOENT" || code === "EACCES" || code === "ENOTDIR") throw new AdminError("not-found", `cannot read ${request.path}: ${String(code)}`);
      throw error;
    }
    const lines = report.folders.map((f) => `${f.mailbox}: ${f.imported} imported, ${f.duplicates} already there, ${f.skipped} skipped`);
    lines.push(...report.problems);
    if (report.problemCount > report.problems.length) lines.push(`(and ${report.problemCount - report.problems.length} more problems)`);
    const seconds = Math.max(report.durationMs, 1) / 1000;
    lines.push(`import (${report.kind}) into ${account.address}: done, ${(report.bytes / 1024 / 1024).toFixed(1)} MB in ${seconds.toFixed(1)} s (${(report.bytes / 1024 / 1024 / seconds).toFixed(1)} MB/s)`);
    return { report, lines };
  };
}
