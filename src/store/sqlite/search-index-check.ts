// `mailroom index check` and `mailroom index rebuild [--account A]` for the SQLite backend: the
// full-text index (schema.ts, version 9: search_index rows referred to by blobs.text_id, with
// blobs.text_head) and the header search index (version 12: header_index rows keyed by the same
// text_id) against what each message file gives when parsed again now, with the same parser
// limits and the same folding as delivery (messages.ts searchIndexEntry, insertHeaderIndexRow).
// A blob's entry is both: it is missing when either row is (or its header fields are not known,
// as for blobs indexed by migration 12), stale when either differs. The trigram index itself
// (its positional token lists, version 27) is checked against the text too, by probing phrases
// of it (indexHolds): an FTS5 table can hold a text that its index does not answer for.
//
// Both may run inside the serving process (docs/architecture.md, "One owner per data dir"): blobs
// are taken a few at a time, their files read and parsed asynchronously outside any transaction,
// and a rebuild writes each batch in one short transaction of the commit queue, re-reading the
// blob's row there so a message expunged meanwhile is skipped rather than re-indexed.
import { MimeTreeBuilder, type MimeTreeLimits, type ParsedMessage } from "../../mail/mime-tree.js";
import type { SearchIndexCheckOptions, SearchIndexCheckReport, SearchIndexProgress, SearchIndexRebuildOptions, SearchIndexRebuildReport } from "../maintenance.js";
import type { BlobId } from "../types.js";
import type { BlobDirectory } from "../blobs/blob-directory.js";
import { headerSearchEntry } from "../../mail/header-search.js";
import { insertHeaderIndexRow, searchIndexEntry } from "./messages.js";
import type { StoreContext } from "./store-context.js";
import { setImmediate as yieldToLoop } from "node:timers/promises";

/**
 * Blobs per batch. Each is a file read and a parse (up to the message size limit), so a batch is
 * kept small: the rebuild's transaction then holds the commit queue for a few index writes only.
 */
const BATCH = 20;
/** Index rowids per orphan scan step. */
const ORPHAN_BATCH = 1000;

export interface SearchIndexDependencies {
  ctx: StoreContext;
  blobs: BlobDirectory;
  mimeLimits: MimeTreeLimits;
  mutate(work: (ctx: StoreContext) => void): Promise<void>;
}

interface BlobEntry {
  id: string;
  textId: number | null;
  head: number | null;
  text: string | null;
  /** The header_index row as JSON of [subject, from, to, cc, bcc, fields] (SQLite's json_array), null without a row. */
  header: string | null;
}

interface FileEntry {
  text: string;
  head: number;
  parsed: ParsedMessage;
  /** What the header_index row must hold, as JSON.stringify writes BlobEntry.header once parsed. */
  header: string;
}

/** The entry the file gives now, or null when it cannot be read. */
async function entryFromFile(blobs: BlobDirectory, id: string, limits: MimeTreeLimits): Promise<FileEntry | null> {
  const builder = new MimeTreeBuilder(limits);
  try {
    for await (const chunk of blobs.createReadStream(id as BlobId)) builder.push(chunk as Buffer);
  } catch {
    return null;
  }
  const parsed = builder.finish();
  const h = headerSearchEntry(parsed.envelope, parsed.headerFields ?? []);
  return { ...searchIndexEntry(parsed), parsed, header: JSON.stringify([h.subject, h.from, h.to, h.cc, h.bcc, JSON.stringify(h.fields)]) };
}

function readEntries(ctx: StoreContext, ids: readonly string[]): BlobEntry[] {
  return ctx.sql.all<BlobEntry>(
    `SELECT b.id, b.text_id AS textId, b.text_head AS head, s.text,
            CASE WHEN h.text_id IS NOT NULL THEN json_array(h.subject, h.from_text, h.to_text, h.cc_text, h.bcc_text, h.fields) END AS header
       FROM json_each(?) j JOIN blobs b ON b.id = j.value LEFT JOIN search_index s ON s.rowid = b.text_id
       LEFT JOIN header_index h ON h.text_id = b.text_id`,
    JSON.stringify(ids),
  );
}

/**
 * Trigrams probed per entry at most, and their length in characters (one token each). Each probe
 * is a seek in one doclist: ~0.1-0.3 ms of CPU for a trigram most messages hold at 100,000
 * messages, where 8 phrases of 24 characters (176 tokens) took 74 ms per entry.
 */
const PROBES = 6;
const PROBE_CHARS = 3;

/**
 * Whether the trigram index answers for `text` at `textId`: evenly spaced trigrams of the text
 * (its first and last included), asked together with the rowid. A removed entry fails, and so
 * does one whose postings are of another text unless that text holds all six trigrams too: SEARCH
 * would miss the message. A text too short for a trigram holds nothing to probe. Windows with a
 * NUL are skipped (no FTS5 query holds one).
 */
export function indexHolds(ctx: StoreContext, textId: number, text: string): boolean {
  const chars = [...text];
  if (chars.length < 3) return true;
  const width = Math.min(PROBE_CHARS, chars.length);
  const starts = new Set<number>();
  const last = chars.length - width;
  for (let i = 0; i < PROBES; i++) starts.add(Math.round((last * i) / Math.max(1, PROBES - 1)));
  const phrases: string[] = [];
  for (const start of starts) {
    const window = chars.slice(start, start + width).join("");
    if (!window.includes("\0")) phrases.push(`"${window.replace(/"/g, '""')}"`);
  }
  if (phrases.length === 0) return true;
  return ctx.sql.get("SELECT 1 FROM search_index WHERE search_index MATCH ? AND rowid = ?", phrases.join(" AND "), textId) !== undefined;
}

/** The stored header row lacks data the file has (no row, or fields not known). */
const headerMissing = (row: BlobEntry): boolean => row.header === null || (JSON.parse(row.header) as unknown[])[5] === null;

export async function checkSearchIndex(deps: SearchIndexDependencies, options: SearchIndexCheckOptions = {}): Promise<SearchIndexCheckReport> {
  const started = Date.now();
  const { ctx } = deps;
  const progress = (phase: SearchIndexProgress["phase"], done: number, total: number | null): void => options.onProgress?.({ phase, done, total });
  const report: SearchIndexCheckReport = { blobs: 0, missing: [], stale: [], unreadable: [], orphans: [], remaining: 0, durationMs: 0 };

  const total = ctx.sql.get<{ n: number }>("SELECT count(*) AS n FROM blobs")!.n;
  progress("blobs", 0, total);
  let after = "";
  for (;;) {
    const ids = ctx.sql.all<{ id: string }>("SELECT id FROM blobs WHERE id > ? ORDER BY id LIMIT ?", after, BATCH).map((r) => r.id);
    if (ids.length === 0) break;
    after = ids[ids.length - 1]!;
    for (const id of ids) {
      const built = await entryFromFile(deps.blobs, id, deps.mimeLimits);
      // Read after the file, in one statement: a blob expunged meanwhile is simply not there.
      const [row] = readEntries(ctx, [id]);
      if (row === undefined) continue;
      report.blobs++;
      if (row.textId === null || row.text === null || headerMissing(row)) report.missing.push(id);
      else if (!indexHolds(ctx, row.textId, row.text)) report.missing.push(id);
      else if (built === null) report.unreadable.push(id);
      else if (built.text !== row.text || built.head !== row.head || built.header !== JSON.stringify(JSON.parse(row.header!))) report.stale.push(id);
    }
    progress("blobs", Math.min(report.blobs, total), total);
    await yieldToLoop();
  }
  progress("blobs", total, total);

  // Index rows that no blob refers to (the delete triggers remove them with their blob), in
  // either index: both are keyed by text_id.
  const maxRow = ctx.sql.get<{ n: number | null }>("SELECT max(n) AS n FROM (SELECT max(rowid) AS n FROM search_index UNION ALL SELECT max(text_id) FROM header_index)")!.n ?? 0;
  for (let from = 0; from < maxRow; from += ORPHAN_BATCH) {
    const rows = ctx.sql.all<{ rowid: number }>(
      `SELECT entry AS rowid FROM (SELECT s.rowid AS entry FROM search_index s WHERE s.rowid > ? AND s.rowid <= ?
                                   UNION SELECT h.text_id FROM header_index h WHERE h.text_id > ? AND h.text_id <= ?)
        WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.text_id = entry) ORDER BY entry`,
      from,
      from + ORPHAN_BATCH,
      from,
      from + ORPHAN_BATCH,
    );
    report.orphans.push(...rows.map((r) => r.rowid));
    progress("orphans", Math.min(from + ORPHAN_BATCH, maxRow), maxRow);
    await yieldToLoop();
  }
  progress("orphans", maxRow, maxRow);

  report.remaining = report.missing.length + report.stale.length + report.orphans.length;
  report.durationMs = Date.now() - started;
  ctx.log.info("store.search_index_checked", {
    blobs: report.blobs,
    missing: report.missing.length,
    stale: report.stale.length,
    unreadable: report.unreadable.length,
    orphans: report.orphans.length,
    durationMs: report.durationMs,
  });
  return report;
}

export async function rebuildSearchIndex(deps: SearchIndexDependencies, options: SearchIndexRebuildOptions = {}): Promise<SearchIndexRebuildReport> {
  const started = Date.now();
  const { ctx } = deps;
  const progress = (phase: SearchIndexProgress["phase"], done: number, total: number | null): void => options.onProgress?.({ phase, done, total });
  const report: SearchIndexRebuildReport = { rebuilt: 0, unreadable: [], orphansRemoved: 0, durationMs: 0 };
  const account = options.accountId;
  // The account's blobs: those its messages refer to (a blob shared with another account is
  // rebuilt too, which is harmless: its entry depends on the file only).
  const scope =
    account === undefined
      ? { count: "SELECT count(*) AS n FROM blobs", page: "SELECT id FROM blobs WHERE id > ? ORDER BY id LIMIT ?", args: [] as number[] }
      : {
          count: "SELECT count(DISTINCT m.blob_id) AS n FROM messages m JOIN mailboxes x ON x.id = m.mailbox_id WHERE x.account_id = ?",
          page: `SELECT DISTINCT m.blob_id AS id FROM messages m JOIN mailboxes x ON x.id = m.mailbox_id
                  WHERE x.account_id = ? AND m.blob_id > ? ORDER BY m.blob_id LIMIT ?`,
          args: [account as number],
        };
  const total = ctx.sql.get<{ n: number }>(scope.count, ...scope.args)!.n;
  progress("blobs", 0, total);
  let after = "";
  let done = 0;
  let rebuildAll = false;
  for (;;) {
    const ids = ctx.sql.all<{ id: string }>(scope.page, ...scope.args, after, BATCH).map((r) => r.id);
    if (ids.length === 0) break;
    after = ids[ids.length - 1]!;
    const built = new Map<string, FileEntry>();
    for (const id of ids) {
      const entry = await entryFromFile(deps.blobs, id, deps.mimeLimits);
      if (entry === null) report.unreadable.push(id);
      else built.set(id, entry);
    }
    await deps.mutate((c) => {
      for (const row of readEntries(c, [...built.keys()])) {
        const entry = built.get(row.id)!;
        if (row.textId !== null) {
          // The index not holding what the content says: FTS5 deletes by the content's tokens,
          // so the row's delete leaves the postings it really has. The rows are written as
          // usual, and the index is rebuilt from all content once this pass is done.
          if (row.text !== null && !indexHolds(c, row.textId, row.text)) rebuildAll = true;
          // Same rowid: nothing else refers to it (blobs_text is unique), and the entry stays put.
          if (row.text !== null) c.sql.run("DELETE FROM search_index WHERE rowid = ?", row.textId);
          c.sql.run("INSERT INTO search_index (rowid, text) VALUES (?, ?)", row.textId, entry.text);
          c.sql.run("UPDATE blobs SET text_head = ? WHERE id = ?", entry.head, row.id);
          insertHeaderIndexRow(c, row.textId, entry.parsed);
        } else {
          const indexed = c.sql.run("INSERT INTO search_index (text) VALUES (?)", entry.text);
          c.sql.run("UPDATE blobs SET text_id = ?, text_head = ? WHERE id = ?", indexed.lastInsertRowid, entry.head, row.id);
          insertHeaderIndexRow(c, Number(indexed.lastInsertRowid), entry.parsed);
        }
        report.rebuilt++;
      }
    });
    done += ids.length;
    progress("blobs", Math.min(done, total), total);
    await yieldToLoop();
  }
  progress("blobs", total, total);
  if (rebuildAll) {
    // FTS5's own rebuild: the index dropped and written again from every row's content (now all
    // correct). One statement over the whole table, which holds the commit queue for its length
    // (seconds per 10,000 messages); only a damaged index gets here.
    await deps.mutate((c) => c.sql.run("INSERT INTO search_index (search_index) VALUES ('rebuild')"));
    ctx.log.warn("store.search_index_fts_rebuilt", {});
  }

  if (account === undefined) {
    // Orphan rows go only in a full rebuild: an account's scope does not say whose they were.
    const maxRow = ctx.sql.get<{ n: number | null }>("SELECT max(n) AS n FROM (SELECT max(rowid) AS n FROM search_index UNION ALL SELECT max(text_id) FROM header_index)")!.n ?? 0;
    for (let from = 0; from < maxRow; from += ORPHAN_BATCH) {
      await deps.mutate((c) => {
        const removed = c.sql.run(
          "DELETE FROM search_index WHERE rowid > ? AND rowid <= ? AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.text_id = search_index.rowid)",
          from,
          from + ORPHAN_BATCH,
        );
        const headers = c.sql.run(
          "DELETE FROM header_index WHERE text_id > ? AND text_id <= ? AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.text_id = header_index.text_id)",
          from,
          from + ORPHAN_BATCH,
        );
        report.orphansRemoved += Number(removed.changes) + Number(headers.changes);
      });
      progress("orphans", Math.min(from + ORPHAN_BATCH, maxRow), maxRow);
      await yieldToLoop();
    }
    progress("orphans", maxRow, maxRow);
  }

  for (const id of report.unreadable) ctx.log.error("store.search_index_unreadable", { blobId: id });
  report.durationMs = Date.now() - started;
  ctx.log.info("store.search_index_rebuilt", { account: account ?? null, rebuilt: report.rebuilt, unreadable: report.unreadable.length, orphansRemoved: report.orphansRemoved, durationMs: report.durationMs });
  return report;
}
