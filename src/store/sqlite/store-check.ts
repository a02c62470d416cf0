// `mailroom store check [--repair]` for the SQLite backend. Every step works in bounded batches
// and yields to the event loop between them, so it may run inside the serving process: the
// integrity check runs on its own read-only connection in a worker thread (a multi-GB database
// takes seconds), file checks are a few stats at a time, and every repair goes through the commit
// queue (database) or the blob directory's per-blob locks and pins (files), as the collector does.
//
// What --repair fixes: orphan files (no row, not pinned, older than orphanMinAgeMs) are removed;
// blob rows nothing refers to are deleted and their files queued for the collector; each
// account's used-bytes counter is recomputed; the WAL gets a passive checkpoint. What it does
// not: a row whose file is missing or of the wrong size stays (and is reported). Deleting it would
// hide the loss; the server answers IMAP NO [SERVERBUG] / POP3 -ERR [SYS/PERM] for it, never a
// dropped connection, and a file restored from a backup makes it whole again.
import { stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type { StoreCheckOptions, StoreCheckProgress, StoreCheckReport } from "../maintenance.js";
import type { BlobId } from "../types.js";
import { FANOUT_FOLDERS, type BlobDirectory } from "../blobs/blob-directory.js";
import { queueGarbage } from "./blob-collector.js";
import { UNREFERENCED_BLOB } from "./message-removal.js";
import type { StoreContext } from "./store-context.js";
import { setImmediate as yieldToLoop } from "node:timers/promises";

/** Blob rows (and file names) per batch: a few ms of work between two yields. */
const BATCH = 500;
const STAT_PARALLELISM = 8;
const DEFAULT_ORPHAN_MIN_AGE_MS = 60 * 60_000;

export interface StoreCheckDependencies {
  ctx: StoreContext;
  blobs: BlobDirectory;
  databasePath: string;
  mutate(work: (ctx: StoreContext) => void): Promise<void>;
}

export async function checkStore(deps: StoreCheckDependencies, options: StoreCheckOptions = {}): Promise<StoreCheckReport> {
  const started = Date.now();
  const { ctx, blobs } = deps;
  const progress = (phase: StoreCheckProgress["phase"], done: number, total: number | null): void => options.onProgress?.({ phase, done, total });
  const report: StoreCheckReport = {
    integrity: [],
    journalMode: "",
    walBytes: 0,
    blobRows: 0,
    blobFiles: 0,
    messages: 0,
    missingFiles: [],
    wrongSize: [],
    orphanFiles: [],
    unreferencedRows: 0,
    usage: [],
    repaired: { orphanFilesRemoved: 0, unreferencedRowsQueued: 0, usageFixed: 0, walCheckpointed: false },
    remaining: 0,
    durationMs: 0,
  };

  // 1. The database itself: integrity on a separate connection, journal mode, WAL size.
  progress("database", 0, 1);
  report.integrity = await integrityCheck(deps.databasePath);
  report.journalMode = String(ctx.sql.db.pragma("journal_mode", { simple: true }));
  report.walBytes = await stat(`${deps.databasePath}-wal`).then(
    (s) => s.size,
    () => 0,
  );
  progress("database", 1, 1);

  // 2. Every blob row has its file, of the recorded size.
  const rowTotal = ctx.sql.get<{ n: number }>("SELECT count(*) AS n FROM blobs")!.n;
  report.messages = ctx.sql.get<{ n: number }>("SELECT count(*) AS n FROM messages")!.n;
  let after = "";
  for (;;) {
    const rows = ctx.sql.all<{ id: string; size: number }>("SELECT id, size FROM blobs WHERE id > ? ORDER BY id LIMIT ?", after, BATCH);
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    const sizes = await statAll(blobs, rows.map((r) => r.id as BlobId));
    rows.forEach((row, i) => {
      const actual = sizes[i];
      if (actual === null) {
        const messages = ctx.sql.get<{ n: number }>("SELECT count(*) AS n FROM messages WHERE blob_id = ?", row.id)!.n;
        const holds = ctx.sql.get<{ n: number }>("SELECT count(*) AS n FROM blob_holds WHERE blob_id = ?", row.id)!.n;
        // A row nothing refers to needs no file: it is counted as unreferenced below.
        if (messages + holds === 0) return;
        report.missingFiles.push({ blobId: row.id, messages });
        ctx.log.error("store.check_file_missing", { blobId: row.id, messages });
      } else if (actual !== row.size) {
        report.wrongSize.push({ blobId: row.id, recorded: row.size, actual: actual! });
        ctx.log.error("store.check_file_size", { blobId: row.id, recorded: row.size, actual });
      }
    });
    report.blobRows += rows.length;
    progress("rows", report.blobRows, rowTotal);
    await yieldToLoop();
  }
  report.unreferencedRows = ctx.sql.get<{ n: number }>(`SELECT count(*) AS n FROM blobs WHERE ${UNREFERENCED_BLOB}`)!.n;

  // 3. Every file has its row.
  for (const [index, folder] of FANOUT_FOLDERS.entries()) {
    const names = await blobs.listFolder(folder);
    report.blobFiles += names.length;
    for (let at = 0; at < names.length; at += BATCH) {
      const slice = names.slice(at, at + BATCH);
      const orphans = ctx.sql
        .all<{ value: string }>("SELECT value FROM json_each(?) WHERE NOT EXISTS (SELECT 1 FROM blobs WHERE blobs.id = json_each.value)", JSON.stringify(slice))
        .map((row) => row.value);
      report.orphanFiles.push(...orphans);
      await yieldToLoop();
    }
    progress("files", index + 1, FANOUT_FOLDERS.length);
  }

  // 4. Usage counters against the sum of each account's messages.
  report.usage = usageMismatches(ctx);
  progress("usage", 1, 1);

  if (options.repair) await repair(deps, report, options, progress);

  const unrepairedOrphans = report.orphanFiles.length - report.repaired.orphanFilesRemoved;
  const unrepairedRows = report.unreferencedRows - report.repaired.unreferencedRowsQueued;
  const unrepairedUsage = report.usage.length - report.repaired.usageFixed;
  report.remaining = report.integrity.length + report.missingFiles.length + report.wrongSize.length + unrepairedOrphans + unrepairedRows + unrepairedUsage + (report.journalMode === "wal" ? 0 : 1);
  report.durationMs = Date.now() - started;
  ctx.log.info("store.checked", {
    repair: options.repair === true,
    remaining: report.remaining,
    missingFiles: report.missingFiles.length,
    wrongSize: report.wrongSize.length,
    orphanFiles: report.orphanFiles.length,
    unreferencedRows: report.unreferencedRows,
    usage: report.usage.length,
    durationMs: report.durationMs,
  });
  return report;
}

async function repair(deps: StoreCheckDependencies, report: StoreCheckReport, options: StoreCheckOptions, progress: (phase: "repair", done: number, total: number | null) => void): Promise<void> {
  const { ctx, blobs } = deps;
  const isReferenced = (id: BlobId): boolean => ctx.sql.get("SELECT 1 FROM blobs WHERE id = ?", id) !== undefined;
  const orphanMinAgeMs = options.orphanMinAgeMs ?? DEFAULT_ORPHAN_MIN_AGE_MS;
  for (let at = 0; at < report.orphanFiles.length; at += BATCH) {
    const slice = report.orphanFiles.slice(at, at + BATCH) as BlobId[];
    const removal = await blobs.removeManyIfUnreferenced(slice, isReferenced, { minAgeMs: orphanMinAgeMs });
    for (const [id, outcome] of removal.outcomes) {
      if (outcome === "removed" || outcome === "absent" || outcome === "referenced") report.repaired.orphanFilesRemoved++;
      if (outcome === "removed") ctx.log.info("store.orphan_blob_removed", { blobId: id });
    }
    for (const failure of removal.failed) ctx.log.warn("store.blob_remove_failed", { path: failure.path, error: failure.error });
    progress("repair", at + slice.length, report.orphanFiles.length);
    await yieldToLoop();
  }
  if (report.unreferencedRows > 0) {
    // In batches, each one transaction with its garbage entries; the collector removes the files.
    for (;;) {
      let queued = 0;
      await deps.mutate((c) => {
        const rows = c.sql.all<{ id: string }>(`DELETE FROM blobs WHERE id IN (SELECT id FROM blobs WHERE ${UNREFERENCED_BLOB} LIMIT ?) RETURNING id`, BATCH);
        queueGarbage(c, rows.map((row) => row.id as BlobId));
        queued = rows.length;
      });
      report.repaired.unreferencedRowsQueued += queued;
      if (queued < BATCH) break;
      await yieldToLoop();
    }
  }
  if (report.usage.length > 0) {
    // Recomputed inside one transaction of the commit queue, so a delivery cannot slip in between.
    await deps.mutate((c) => {
      for (const mismatch of usageMismatches(c)) {
        c.sql.run("UPDATE accounts SET used_bytes = ?, used_messages = ? WHERE address = ?", mismatch.actual, mismatch.actualMessages, mismatch.address);
        c.log.info("store.usage_recomputed", mismatch);
      }
    });
    report.repaired.usageFixed = report.usage.length;
  }
  // PASSIVE: copies what it can without waiting for readers or blocking writers.
  ctx.sql.db.pragma("wal_checkpoint(PASSIVE)");
  report.repaired.walCheckpointed = true;
}

function usageMismatches(ctx: StoreContext): { address: string; recorded: number; actual: number; recordedMessages: number; actualMessages: number }[] {
  return ctx.sql.all<{ address: string; recorded: number; actual: number; recordedMessages: number; actualMessages: number }>(
    `SELECT a.address, a.used_bytes AS recorded, a.used_messages AS recordedMessages,
            coalesce((SELECT sum(m.size) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.account_id = a.id), 0) AS actual,
            (SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.account_id = a.id) AS actualMessages
       FROM accounts a`,
  ).filter((row) => row.recorded !== row.actual || row.recordedMessages !== row.actualMessages);
}

async function statAll(blobs: BlobDirectory, ids: BlobId[]): Promise<(number | null)[]> {
  const sizes: (number | null)[] = new Array<number | null>(ids.length).fill(null);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < ids.length; i = next++) sizes[i] = await blobs.sizeOf(ids[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(STAT_PARALLELISM, ids.length) }, worker));
  return sizes;
}

// Runs as CommonJS in a worker thread: its own read-only connection, so the serving thread's
// event loop is not blocked while SQLite reads every page.
const INTEGRITY_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.module);
const db = new Database(workerData.path, { readonly: true, fileMustExist: true });
try {
  parentPort.postMessage(db.pragma("integrity_check").map((row) => row.integrity_check));
} finally {
  db.close();
}
`;

/** PRAGMA integrity_check's findings; [] when the database is "ok". */
function integrityCheck(path: string): Promise<string[]> {
  const module = createRequire(import.meta.url).resolve("better-sqlite3");
  return new Promise((resolve) => {
    const worker = new Worker(INTEGRITY_WORKER, { eval: true, workerData: { module, path } });
    let answered = false;
    worker.once("message", (lines: string[]) => {
      answered = true;
      resolve(lines.length === 1 && lines[0] === "ok" ? [] : lines);
    });
    worker.once("error", (error) => {
      answered = true;
      resolve([`integrity check could not run: ${error.message}`]);
    });
    worker.once("exit", (code) => {
      if (!answered) resolve([`integrity check ended without an answer (exit ${code})`]);
    });
  });
}
