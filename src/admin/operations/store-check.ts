// `mailroom store check [--repair]` as an operation: runs the store's own check (StoreMaintenance)
// and words its report for an operator. The verdict is `clean`: no problem left after the check
// and, when asked, the repair. Built to run inside the serving process as well (the store's check
// works in batches that yield), which is where the CLI's routing runs it while a server is up.
import type { StoreCheckOptions, StoreCheckReport, StoreMaintenance } from "../../store/index.js";

export interface StoreCheckResult {
  report: StoreCheckReport;
  /** The report, one finding per line. */
  lines: string[];
  clean: boolean;
}

/** At most this many blob ids are listed per kind of finding; the count is always given. */
const LISTED = 20;

export function createStoreCheckOperation(maintenance: StoreMaintenance) {
  return async function checkStore(options: StoreCheckOptions = {}): Promise<StoreCheckResult> {
    const report = await maintenance.checkStore(options);
    return { report, lines: describeReport(report, options.repair === true), clean: report.remaining === 0 };
  };
}

export function describeReport(report: StoreCheckReport, repaired: boolean): string[] {
  const lines: string[] = [];
  const listed = (ids: readonly string[]): string => ids.slice(0, LISTED).join(" ") + (ids.length > LISTED ? ` (and ${ids.length - LISTED} more)` : "");
  lines.push(`database: ${report.integrity.length === 0 ? "integrity ok" : `${report.integrity.length} integrity problem(s)`}, journal ${report.journalMode}, ${report.walBytes} octets of WAL${repaired && report.repaired.walCheckpointed ? " (checkpointed)" : ""}`);
  for (const problem of report.integrity.slice(0, LISTED)) lines.push(`  integrity: ${problem}`);
  if (report.journalMode !== "wal") lines.push("  journal mode is not WAL: the store's durability rests on WAL with synchronous=FULL");
  lines.push(`messages: ${report.messages}, blob rows: ${report.blobRows}, blob files: ${report.blobFiles}`);
  if (report.missingFiles.length > 0) {
    const messages = report.missingFiles.reduce((sum, m) => sum + m.messages, 0);
    lines.push(`missing files: ${report.missingFiles.length} (${messages} message(s) answer SERVERBUG until the file is restored from a backup): ${listed(report.missingFiles.map((m) => m.blobId))}`);
  }
  if (report.wrongSize.length > 0) lines.push(`files of the wrong size: ${report.wrongSize.length}: ${listed(report.wrongSize.map((m) => `${m.blobId} (${m.actual} of ${m.recorded} octets)`))}`);
  if (report.orphanFiles.length > 0) {
    const fixed = repaired ? `, ${report.repaired.orphanFilesRemoved} removed` : " (--repair removes them)";
    lines.push(`files without a row: ${report.orphanFiles.length}${fixed}: ${listed(report.orphanFiles)}`);
  }
  if (report.unreferencedRows > 0) lines.push(`blob rows nothing refers to: ${report.unreferencedRows}${repaired ? `, ${report.repaired.unreferencedRowsQueued} deleted` : " (--repair deletes them)"}`);
  for (const mismatch of report.usage) {
    const count = mismatch.recordedMessages !== undefined && mismatch.recordedMessages !== mismatch.actualMessages ? `; message counter ${mismatch.recordedMessages}, messages ${mismatch.actualMessages}` : "";
    lines.push(`usage of ${mismatch.address}: counter ${mismatch.recorded}, messages ${mismatch.actual}${count}${repaired ? " (recomputed)" : " (--repair recomputes it)"}`);
  }
  lines.push(report.remaining === 0 ? `store check: clean (${report.durationMs} ms)` : `store check: ${report.remaining} problem(s) remain (${report.durationMs} ms)`);
  return lines;
}
