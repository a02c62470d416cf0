// `mailroom index check` and `mailroom index rebuild [--account A]` as operations: run the store's
// own index maintenance (StoreMaintenance, sqlite/search-index-check.ts) and word the report for
// an operator. Safe inside the serving process, where the CLI's routing runs them while a server
// is up: the store works in small batches that yield to the event loop.
import type { AccountId, SearchIndexCheckOptions, SearchIndexCheckReport, SearchIndexProgress, SearchIndexRebuildReport, StoreMaintenance } from "../../store/index.js";

export interface IndexCheckResult {
  report: SearchIndexCheckReport;
  lines: string[];
  clean: boolean;
}

export interface IndexRebuildResult {
  report: SearchIndexRebuildReport;
  lines: string[];
}

export interface IndexRebuildRequest {
  /** Only the blobs of this user's messages. */
  account?: string;
  onProgress?(progress: SearchIndexProgress): void;
}

/** At most this many ids are listed per kind of finding; the count is always given. */
const LISTED = 20;
const listed = (ids: readonly (string | number)[]): string => ids.slice(0, LISTED).join(" ") + (ids.length > LISTED ? ` (and ${ids.length - LISTED} more)` : "");

export function createIndexOperations(maintenance: StoreMaintenance, resolveAccount: (address: string) => Promise<{ id: AccountId; address: string }>) {
  return {
    async checkIndex(options: SearchIndexCheckOptions = {}): Promise<IndexCheckResult> {
      const report = await maintenance.checkSearchIndex(options);
      const lines = [`blobs: ${report.blobs}`];
      if (report.missing.length > 0) lines.push(`without an index entry: ${report.missing.length}: ${listed(report.missing)}`);
      if (report.stale.length > 0) lines.push(`entry differs from the message file: ${report.stale.length}: ${listed(report.stale)}`);
      if (report.orphans.length > 0) lines.push(`index rows without a blob: ${report.orphans.length}: ${listed(report.orphans)}`);
      if (report.unreadable.length > 0) lines.push(`message files that could not be read (see mailroom store check): ${report.unreadable.length}: ${listed(report.unreadable)}`);
      lines.push(report.remaining === 0 ? `index check: clean (${report.durationMs} ms)` : `index check: ${report.remaining} problem(s); mailroom index rebuild fixes them (${report.durationMs} ms)`);
      return { report, lines, clean: report.remaining === 0 };
    },
    async rebuildIndex(request: IndexRebuildRequest = {}): Promise<IndexRebuildResult> {
      const account = request.account === undefined ? undefined : await resolveAccount(request.account);
      const report = await maintenance.rebuildSearchIndex({ accountId: account?.id, onProgress: request.onProgress });
      const lines = [`rebuilt: ${report.rebuilt} index entr${report.rebuilt === 1 ? "y" : "ies"}${account ? ` of ${account.address}'s messages` : ""}`];
      if (account === undefined) lines.push(`index rows without a blob removed: ${report.orphansRemoved}`);
      if (report.unreadable.length > 0) lines.push(`message files that could not be read, entries left as they were (see mailroom store check): ${report.unreadable.length}: ${listed(report.unreadable)}`);
      lines.push(`index rebuild: done (${report.durationMs} ms)`);
      return { report, lines };
    },
  };
}
