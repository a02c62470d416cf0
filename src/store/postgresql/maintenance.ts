// `mailroom store check [--repair]`, `mailroom index check` and `mailroom index rebuild` for the
// PostgreSQL backend. The database itself guarantees what SQLite's integrity check looks for
// (page structure; foreign keys are enforced), so the check is about what references cannot
// express: a blob whose chunks do not add up to its size, bytes nothing refers to (an upload a
// crashed node left), blob rows nothing refers to, and usage counters. All of it is batched reads
// and short transactions, safe while any number of nodes serve.
import { setImmediate as yieldToLoop } from "node:timers/promises";
import type pg from "pg";
import { MimeTreeBuilder, type MimeTreeLimits } from "../../mail/mime-tree.js";
import type { SearchIndexCheckOptions, SearchIndexCheckReport, SearchIndexRebuildOptions, SearchIndexRebuildReport, StoreCheckOptions, StoreCheckReport } from "../maintenance.js";
import type { BlobId } from "../types.js";
import { type BlobStore, dropUnreferencedContents } from "./blob-store.js";
import { one, rows, transaction } from "./database.js";
import { dropUnreferencedBlobs, searchEntry } from "./postgresql-store.js";

const BATCH = 500;
const INDEX_BATCH = 20;

export async function checkStore(pool: pg.Pool, clock: () => Date, options: StoreCheckOptions): Promise<StoreCheckReport> {
  const started = Date.now();
  const progress = options.onProgress ?? (() => undefined);
  const orphanMinAgeMs = options.orphanMinAgeMs ?? 3600_000;
  const report: StoreCheckReport = {
    integrity: [],
    journalMode: "postgresql",
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
  progress({ phase: "database", done: 0, total: null });
  report.blobRows = (await one<{ n: number }>(pool, "SELECT count(*)::bigint AS n FROM blobs"))!.n;
  report.blobFiles = (await one<{ n: number }>(pool, "SELECT count(*)::bigint AS n FROM blob_contents WHERE hash IS NOT NULL"))!.n;
  report.messages = (await one<{ n: number }>(pool, "SELECT count(*)::bigint AS n FROM messages"))!.n;

  // Rows against bytes, in id order, a batch per query.
  let after = "";
  let done = 0;
  for (;;) {
    const batch = await rows<{ id: string; size: number; stored: number | null; messages: number }>(
      pool,
      `SELECT b.id, b.size,
              (SELECT sum(octet_length(k.data)) FROM blob_chunks k WHERE k.content_id = c.id)::bigint AS stored,
              (SELECT count(*) FROM messages m WHERE m.blob_id = b.id)::bigint AS messages
         FROM blobs b LEFT JOIN blob_contents c ON c.hash = b.id WHERE b.id > $1 ORDER BY b.id LIMIT $2`,
      [after, BATCH],
    );
    if (batch.length === 0) break;
    after = batch[batch.length - 1]!.id;
    for (const row of batch) {
      const stored = row.stored ?? 0;
      if (row.size > 0 && row.stored === null) report.missingFiles.push({ blobId: row.id, messages: row.messages });
      else if (stored !== row.size) report.wrongSize.push({ blobId: row.id, recorded: row.size, actual: stored });
    }
    done += batch.length;
    progress({ phase: "rows", done, total: report.blobRows });
    await yieldToLoop();
  }

  // Bytes no row and no pin refers to: an upload or a staging a crashed node left behind.
  progress({ phase: "files", done: 0, total: null });
  const cutoff = clock().getTime() - orphanMinAgeMs;
  const orphans = await rows<{ id: number; hash: string | null; young: boolean }>(
    pool,
    `SELECT c.id, c.hash, c.created_at > $1 AS young FROM blob_contents c
      WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.id = c.hash) AND NOT EXISTS (SELECT 1 FROM blob_pins p WHERE p.hash = c.hash)`,
    [cutoff],
  );
  report.orphanFiles = orphans.map((o) => o.hash ?? `upload:${o.id}`);
  const unreferenced = await rows<{ id: string }>(
    pool,
    `SELECT b.id FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob_id = b.id)
        AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.blob_id = b.id)`,
  );
  report.unreferencedRows = unreferenced.length;

  progress({ phase: "usage", done: 0, total: null });
  const usage = await rows<{ id: number; address: string; recorded: number; actual: number; recorded_messages: number; actual_messages: number }>(
    pool,
    `SELECT a.id, a.address, a.used_bytes AS recorded, a.used_messages AS recorded_messages,
            coalesce((SELECT sum(m.size) FROM messages m JOIN mailboxes x ON x.id = m.mailbox_id WHERE x.account_id = a.id), 0)::bigint AS actual,
            (SELECT count(*) FROM messages m JOIN mailboxes x ON x.id = m.mailbox_id WHERE x.account_id = a.id)::bigint AS actual_messages
       FROM accounts a ORDER BY a.address_key`,
  );
  const wrongUsage = usage.filter((u) => u.recorded !== u.actual || u.recorded_messages !== u.actual_messages);
  report.usage = wrongUsage.map((u) => ({ address: u.address, recorded: u.recorded, actual: u.actual, recordedMessages: u.recorded_messages, actualMessages: u.actual_messages }));

  if (options.repair) {
    progress({ phase: "repair", done: 0, total: null });
    const old = orphans.filter((o) => !o.young);
    await transaction(pool, async (client) => {
      const uploads = old.filter((o) => o.hash === null).map((o) => o.id);
      if (uploads.length > 0) report.repaired.orphanFilesRemoved += (await client.query("DELETE FROM blob_contents WHERE id = ANY($1::bigint[]) AND hash IS NULL", [uploads])).rowCount ?? 0;
      report.repaired.orphanFilesRemoved += await dropUnreferencedContents(client, old.filter((o) => o.hash !== null).map((o) => o.hash!));
      await dropUnreferencedBlobs(client, unreferenced.map((u) => u.id));
      report.repaired.unreferencedRowsQueued = unreferenced.length;
    });
    for (const wrong of wrongUsage) {
      // Recomputed under the account row lock, in the statement that writes it.
      await pool.query(
        `UPDATE accounts a SET used_bytes = coalesce((SELECT sum(m.size) FROM messages m JOIN mailboxes x ON x.id = m.mailbox_id WHERE x.account_id = a.id), 0),
                               used_messages = (SELECT count(*) FROM messages m JOIN mailboxes x ON x.id = m.mailbox_id WHERE x.account_id = a.id) WHERE a.id = $1`,
        [wrong.id],
      );
      report.repaired.usageFixed++;
    }
    const young = orphans.filter((o) => o.young).length;
    report.remaining = report.missingFiles.length + report.wrongSize.length + young;
  } else {
    report.remaining = report.missingFiles.length + report.wrongSize.length + report.orphanFiles.length + report.unreferencedRows + report.usage.length;
  }
  report.durationMs = Date.now() - started;
  return report;
}

/** The entry the stored bytes give now, or null when they cannot be read. */
async function entryFromBytes(blobs: BlobStore, id: string, limits: MimeTreeLimits): Promise<{ text: string; head: number } | null> {
  const builder = new MimeTreeBuilder(limits);
  try {
    for await (const chunk of blobs.read(id as BlobId)) builder.push(chunk);
  } catch {
    return null;
  }
  return searchEntry(builder.finish());
}

export async function checkSearchIndex(pool: pg.Pool, blobs: BlobStore, limits: MimeTreeLimits, options: SearchIndexCheckOptions): Promise<SearchIndexCheckReport> {
  const started = Date.now();
  const report: SearchIndexCheckReport = { blobs: 0, missing: [], stale: [], unreadable: [], orphans: [], remaining: 0, durationMs: 0 };
  const total = (await one<{ n: number }>(pool, "SELECT count(*)::bigint AS n FROM blobs"))!.n;
  options.onProgress?.({ phase: "blobs", done: 0, total });
  let after = "";
  for (;;) {
    const ids = (await rows<{ id: string }>(pool, "SELECT id FROM blobs WHERE id > $1 ORDER BY id LIMIT $2", [after, INDEX_BATCH])).map((r) => r.id);
    if (ids.length === 0) break;
    after = ids[ids.length - 1]!;
    for (const id of ids) {
      const built = await entryFromBytes(blobs, id, limits);
      const row = await one<{ search_text: string; text_head: number }>(pool, "SELECT search_text, text_head FROM blobs WHERE id = $1", [id]);
      if (!row) continue;
      report.blobs++;
      if (built === null) report.unreadable.push(id);
      else if (built.text !== row.search_text || built.head !== row.text_head) report.stale.push(id);
    }
    options.onProgress?.({ phase: "blobs", done: report.blobs, total });
  }
  // The text lives in the blob's own row: there is no separate index row to be missing or orphaned.
  report.remaining = report.missing.length + report.stale.length;
  report.durationMs = Date.now() - started;
  return report;
}

export async function rebuildSearchIndex(pool: pg.Pool, blobs: BlobStore, limits: MimeTreeLimits, options: SearchIndexRebuildOptions): Promise<SearchIndexRebuildReport> {
  const started = Date.now();
  const report: SearchIndexRebuildReport = { rebuilt: 0, unreadable: [], orphansRemoved: 0, durationMs: 0 };
  const accountFilter = (n: number): string =>
    options.accountId === undefined ? "" : `AND EXISTS (SELECT 1 FROM messages m JOIN mailboxes x ON x.id = m.mailbox_id WHERE m.blob_id = b.id AND x.account_id = $${n})`;
  const account = options.accountId === undefined ? [] : [options.accountId];
  const total = (await one<{ n: number }>(pool, `SELECT count(*)::bigint AS n FROM blobs b WHERE true ${accountFilter(1)}`, account))!.n;
  options.onProgress?.({ phase: "blobs", done: 0, total });
  let after = "";
  let done = 0;
  for (;;) {
    const ids = (await rows<{ id: string }>(pool, `SELECT b.id FROM blobs b WHERE b.id > $1 ${accountFilter(3)} ORDER BY b.id LIMIT $2`, [after, INDEX_BATCH, ...account])).map((r) => r.id);
    if (ids.length === 0) break;
    after = ids[ids.length - 1]!;
    for (const id of ids) {
      const built = await entryFromBytes(blobs, id, limits);
      if (built === null) {
        report.unreadable.push(id);
        continue;
      }
      const updated = await pool.query("UPDATE blobs SET search_text = $1, text_head = $2 WHERE id = $3", [built.text, built.head, id]);
      report.rebuilt += updated.rowCount ?? 0;
    }
    done += ids.length;
    options.onProgress?.({ phase: "blobs", done, total });
    await yieldToLoop();
  }
  report.durationMs = Date.now() - started;
  return report;
}
