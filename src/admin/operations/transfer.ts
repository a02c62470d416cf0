// `mailroom export` and `mailroom migrate` as operations (src/import/exporter.ts, migrate-imap.ts,
// migrate-pop3.ts), worded for an operator. Like import, they run inside the serving process when
// a server is up (the export directory is then written by the server, so the CLI makes it
// absolute), in the command's own otherwise.
import { exportMessages, type ExportProgress, type ExportReport, type ExportStore } from "../../import/exporter.js";
// migrate-imap.js loads imapflow (and its pino and socks): ~26 MiB that a serving process needs only
// while a migration runs, so `migrate` imports it on first use (idle RSS, issue #13).
import type { MigrateProgress, MigrateReport } from "../../import/migrate-imap.js";
import type { MigrateStore } from "../../import/migrate-target.js";
import type { Account, MigrationStateStore } from "../../store/index.js";
import { AdminError } from "./validation.js";

export interface TransferDependencies {
  store: ExportStore & MigrateStore;
  /** What migrate copied so far; without it `migrate` is unavailable. */
  migrations?: MigrationStateStore;
  /** Largest message copied (limits.max_message_size); larger ones are reported and skipped. */
  maxMessageBytes: number;
  /** Network timeout of a migration's connection steps, ms. */
  migrateTimeoutMs?: number;
  /** Aborted when the serving process stops: a running migrate ends at its next page, resumable. */
  stopSignal?: AbortSignal;
}

export interface ExportRequest {
  account: string;
  dir: string;
  format: string;
  mailbox?: string | null;
  onProgress?(progress: ExportProgress): void;
}

export interface ExportResult {
  report: ExportReport;
  lines: string[];
}

export interface MigrateRequest {
  account: string;
  from: string;
  password: string;
  insecureTls?: boolean;
  onProgress?(progress: MigrateProgress): void;
}

export interface MigrateResult {
  report: MigrateReport;
  lines: string[];
}

const rate = (bytes: number, ms: number): string => {
  const seconds = Math.max(ms, 1) / 1000;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB in ${seconds.toFixed(1)} s (${(bytes / 1024 / 1024 / seconds).toFixed(1)} MB/s)`;
};

export function createTransferOperations(deps: TransferDependencies, requireAccount: (address: string) => Promise<Account>) {
  return {
    async exportMessages(request: ExportRequest): Promise<ExportResult> {
      if (!request.dir.startsWith("/")) throw new AdminError("invalid-argument", "the directory must be absolute");
      if (request.format !== "mbox" && request.format !== "maildir") throw new AdminError("invalid-argument", "--format must be mbox or maildir");
      const account = await requireAccount(request.account);
      let report: ExportReport;
      try {
        report = await exportMessages({ store: deps.store, accountId: account.id, dir: request.dir, format: request.format, ...(request.mailbox ? { mailbox: request.mailbox } : {}), ...(request.onProgress ? { onProgress: request.onProgress } : {}) });
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === "NOMAILBOX") throw new AdminError("not-found", (error as Error).message);
        if (code === "ENOTEMPTY") throw new AdminError("conflict", (error as Error).message);
        if (code === "EACCES" || code === "ENOTDIR" || code === "EEXIST" || code === "ENOENT" || code === "EROFS") {
          // With a server running, its process (server.user once it dropped root) writes the files.
          throw new AdminError("refused", `cannot write ${request.dir}: ${(error as Error).message} (the files are written by ${process.getuid?.() === 0 ? "root" : `uid ${process.getuid?.() ?? "?"}`}, the process running the export)`);
        }
        throw error;
      }
      const lines = report.folders.map((f) => `${f.mailbox}: ${f.messages} message(s) -> ${f.path}`);
      lines.push(...report.problems);
      lines.push(`export (${request.format}) of ${account.address} into ${request.dir}: done, ${rate(report.bytes, report.durationMs)}`);
      return { report, lines };
    },

    async migrate(request: MigrateRequest): Promise<MigrateResult> {
      if (!deps.migrations) throw new AdminError("refused", "migrate is not available with this store");
      const { MigrateInterrupted, migrateImap, parseSource } = await import("../../import/migrate-imap.js");
      const { migratePop3 } = await import("../../import/migrate-pop3.js");
      let source;
      try {
        source = parseSource(request.from, request.password, request.insecureTls === true);
      } catch (error) {
        throw new AdminError("invalid-argument", (error as Error).message);
      }
      if (source.password === "") throw new AdminError("invalid-argument", "no password given for the source (standard input or --password-file)");
      const account = await requireAccount(request.account);
      const input = {
        store: deps.store,
        state: deps.migrations,
        accountId: account.id,
        source,
        maxMessageBytes: deps.maxMessageBytes,
        timeoutMs: deps.migrateTimeoutMs ?? 60_000,
        ...(deps.stopSignal ? { signal: deps.stopSignal } : {}),
        ...(request.onProgress ? { onProgress: request.onProgress } : {}),
      };
      let report: MigrateReport;
      try {
        report = source.protocol === "imaps" || source.protocol === "imap" ? await migrateImap(input) : await migratePop3(input);
      } catch (error) {
        if (error instanceof MigrateInterrupted) {
          throw new AdminError("refused", `migrate from ${source.key}: ${error.message}; what was copied is kept: run the same command again once the server is back to resume`);
        }
        // Whatever was copied before the failure is stored and recorded: running again resumes.
        throw new AdminError("refused", `migrate from ${source.key}: ${(error as Error).message} (what was copied is kept; run the command again to resume)`);
      }
      const lines = report.folders.map(
        (f) => `${f.source} -> ${f.mailbox}: source ${f.sourceCount}, here ${f.ourCount} (${f.copied} copied, ${f.present} already here, ${f.skipped} skipped, ${f.flagsSynced} flag change(s) synced)`,
      );
      lines.push(...report.problems);
      if (report.problemCount > report.problems.length) lines.push(`(and ${report.problemCount - report.problems.length} more problems)`);
      lines.push(`migrate from ${source.key} into ${account.address}: done, ${rate(report.bytes, report.durationMs)}`);
      return { report, lines };
    },
  };
}
