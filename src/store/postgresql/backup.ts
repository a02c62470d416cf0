// `mailroom backup` and `mailroom restore` for the PostgreSQL backend (issue 21; docs/architecture.md,
// "Backup and restore"). The archive is the one of store/backup/ (tar + gzip, manifest, checksums,
// incremental against a base): only its database entry differs. Instead of a SQLite file it holds
// db/postgresql.jsonl, every table of the schema as JSON lines, and the message bytes go as
// blobs/<sha256> entries as they do for SQLite.
//
// Consistency: everything (the tables, the list of message files and their bytes) is read in one
// REPEATABLE READ READ ONLY transaction on one connection, so the archive is the database at one
// instant while every node keeps serving; nothing is locked, and the rows the collector deletes
// meanwhile stay visible to the snapshot (MVCC) until it ends.
//
// Generic over the schema: the tables are found in the catalog and dumped with row_to_json, then
// loaded with json_populate_recordset, so the tables later migrations add are carried without
// code here. Left out: the bytes' own tables (blob_contents, blob_chunks: the blobs/ entries carry
// them), schema_migrations (the header records the version) and what only lives while nodes run
// (staging pins, change notices, node heartbeats, maildrop leases, ACME claims and challenges).
// Tables load in foreign-key order, and the id sequences are set past the restored ids.
import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import type pg from "pg";
import { DUMP_FORMAT, dumpLines } from "../backup/dump-file.js";
import { BackupError } from "../backup/format.js";
import type { BackupSnapshot } from "../sqlite/backup-snapshot.js";
import { createBackup } from "../backup/create.js";
import type { BackupReport, BackupRequest } from "../backup/types.js";
import type { BlobId } from "../types.js";
import { CHUNK_BYTES } from "./blob-store.js";
import { one, rows, type Sql } from "./database.js";

/** Tables whose rows are not part of a backup (see the file comment). */
const SKIPPED_TABLES = new Set(["schema_migrations", "blob_contents", "blob_chunks", "blob_pins", "change_notices", "node_connections", "maildrop_leases", "acme_order_claims", "acme_http_challenges", "acme_alpn_challenges"]);
/** Rows fetched per round trip while dumping, and inserted per statement while loading. */
const ROWS_PER_FETCH = 500;
const ROWS_PER_INSERT = 500;

interface TableInfo {
  name: string;
  columns: string[];
  orderBy: string;
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** The tables to dump, parents before children (foreign keys), with their columns and key order. */
export async function dumpTables(db: Sql): Promise<TableInfo[]> {
  const tables = (await rows<{ name: string }>(db, "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename COLLATE \"C\"")).map((r) => r.name).filter((name) => !SKIPPED_TABLES.has(name));
  const edges = await rows<{ child: string; parent: string }>(
    db,
    `SELECT c.relname AS child, p.relname AS parent FROM pg_constraint k
       JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE k.contype = 'f' AND n.nspname = current_schema()`,
  );
  const parents = new Map<string, Set<string>>(tables.map((t) => [t, new Set<string>()]));
  for (const edge of edges) if (edge.child !== edge.parent && parents.has(edge.child) && parents.has(edge.parent)) parents.get(edge.child)!.add(edge.parent);
  const ordered: string[] = [];
  const placed = new Set<string>();
  while (ordered.length < tables.length) {
    const ready = tables.filter((t) => !placed.has(t) && [...parents.get(t)!].every((p) => placed.has(p)));
    if (ready.length === 0) throw new BackupError(`the foreign keys between ${tables.filter((t) => !placed.has(t)).join(", ")} form a cycle; cannot order the dump`);
    for (const t of ready) {
      placed.add(t);
      ordered.push(t);
    }
  }
  const result: TableInfo[] = [];
  for (const name of ordered) {
    const columns = await rows<{ name: string; type: string }>(
      db,
      `SELECT column_name AS name, data_type AS type FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER' ORDER BY ordinal_position`,
      [name],
    );
    const key = await rows<{ name: string; type: string }>(
      db,
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type FROM pg_index i
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`,
      [quoteIdent(name)],
    );
    // Text keys in byte order ("C"): the blobs table must list ids as the manifest sorts them.
    const orderBy = key.map((k) => `${quoteIdent(k.name)}${k.type === "text" ? ' COLLATE "C"' : ""}`).join(", ");
    result.push({ name, columns: columns.map((c) => c.name), orderBy });
  }
  return result;
}

/** An open snapshot transaction: the dump is written, the message files are read from it. */
export interface PostgresSnapshot extends BackupSnapshot {
  readonly backend: "postgresql";
}

/**
 * Opens the REPEATABLE READ transaction, writes every table to `destination` (JSON lines) and
 * returns the snapshot the archive reads its message files from; release() ends the transaction.
 */
export async function takePostgresSnapshot(pool: pg.Pool, destination: string, onProgress: (done: number, total: number) => void = () => undefined): Promise<PostgresSnapshot> {
  const client = await pool.connect();
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    client.query("COMMIT").then(
      () => client.release(),
      (error: Error) => client.release(error),
    );
  };
  client.on("error", () => undefined);
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    // A long dump must not be cut by the pool's statement timeout, and may hold its snapshot as long as it needs.
    await client.query("SET LOCAL statement_timeout = 0");
    await client.query("SET LOCAL idle_in_transaction_session_timeout = 0");
    const schemaVersion = (await one<{ v: number | null }>(client, "SELECT max(version) AS v FROM schema_migrations"))?.v ?? 0;
    const tables = await dumpTables(client);
    const out = createWriteStream(destination, { flags: "wx", mode: 0o600 });
    let failure: Error | null = null;
    out.on("error", (error) => (failure ??= error));
    const write = async (line: string): Promise<void> => {
      if (failure) throw failure;
      if (!out.write(line + "\n")) await new Promise<void>((resolve, reject) => (out.once("drain", resolve), out.once("error", reject)));
    };
    try {
      await write(JSON.stringify({ format: DUMP_FORMAT, schemaVersion, tables: tables.map((t) => t.name) }));
      for (const [index, table] of tables.entries()) {
        await write(JSON.stringify({ table: table.name, columns: table.columns }));
        const select = `SELECT row_to_json(x)::text AS j FROM (SELECT ${table.columns.map(quoteIdent).join(", ")} FROM ${quoteIdent(table.name)}${table.orderBy ? ` ORDER BY ${table.orderBy}` : ""}) AS x`;
        await client.query(`DECLARE dump_rows NO SCROLL CURSOR FOR ${select}`);
        for (;;) {
          const page = await client.query<{ j: string }>(`FETCH ${ROWS_PER_FETCH} FROM dump_rows`);
          for (const row of page.rows) await write(`{"row":${row.j}}`);
          if (page.rows.length < ROWS_PER_FETCH) break;
        }
        await client.query("CLOSE dump_rows");
        onProgress(index + 1, tables.length);
      }
    } finally {
      await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
    }
    if (failure) throw failure;
    return {
      backend: "postgresql",
      databasePath: destination,
      schemaVersion,
      async *blobs() {
        let after = "";
        for (;;) {
          const page = await rows<{ id: string; size: number }>(client, `SELECT id, size FROM blobs WHERE id COLLATE "C" > $1 ORDER BY id COLLATE "C" LIMIT 1000`, [after]);
          for (const row of page) yield { id: row.id as BlobId, size: Number(row.size) };
          if (page.length < 1000) return;
          after = page[page.length - 1]!.id;
        }
      },
      async blobSize(id) {
        const row = await one<{ size: number; stored: number | null }>(client, "SELECT c.size, (SELECT sum(length(data)) FROM blob_chunks WHERE content_id = c.id) AS stored FROM blob_contents c WHERE c.hash = $1", [id]);
        if (row === undefined || Number(row.stored ?? 0) !== Number(row.size)) return row === undefined ? null : Number(row.stored ?? 0);
        return Number(row.size);
      },
      openBlob(id) {
        return Readable.from(chunksOf(client, id), { objectMode: false });
      },
      release,
    };
  } catch (error) {
    release();
    throw error;
  }
}

async function* chunksOf(db: Sql, id: BlobId): AsyncGenerator<Buffer> {
  const content = await one<{ id: number }>(db, "SELECT id FROM blob_contents WHERE hash = $1", [id]);
  if (content === undefined) throw new BackupError(`message file ${id} is missing from the database`);
  let after = -1;
  for (;;) {
    const page = await rows<{ seq: number; data: Buffer }>(db, "SELECT seq, data FROM blob_chunks WHERE content_id = $1 AND seq > $2 ORDER BY seq LIMIT 4", [content.id, after]);
    for (const chunk of page) yield chunk.data;
    if (page.length < 4) return;
    after = page[page.length - 1]!.seq;
  }
}

/** Stores one message file's bytes as the blob store does (blob_contents + 256 KiB chunks), unless present. */
export async function restoreBlob(pool: pg.Pool, id: string, body: AsyncIterable<Buffer>): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const existing = await one(client, "SELECT 1 FROM blob_contents WHERE hash = $1", [id]);
    if (existing !== undefined) {
      for await (const chunk of body) void chunk;
      await client.query("COMMIT");
      return;
    }
    const contentId = (await one<{ id: number }>(client, "INSERT INTO blob_contents (hash, size, chunk_size, created_at) VALUES ($1, 0, $2, $3) RETURNING id", [id, CHUNK_BYTES, Date.now()]))!.id;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let seq = 0;
    let size = 0;
    const flush = async (all: boolean): Promise<void> => {
      let joined = Buffer.concat(pending, pendingBytes);
      while (joined.length >= CHUNK_BYTES || (all && joined.length > 0)) {
        const piece = joined.subarray(0, CHUNK_BYTES);
        await client.query("INSERT INTO blob_chunks (content_id, seq, data) VALUES ($1, $2, $3)", [contentId, seq++, piece]);
        joined = joined.subarray(piece.length);
      }
      pending = joined.length > 0 ? [joined] : [];
      pendingBytes = joined.length;
    };
    for await (const chunk of body) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      size += chunk.length;
      if (pendingBytes >= CHUNK_BYTES) await flush(false);
    }
    await flush(true);
    await client.query("UPDATE blob_contents SET size = $1 WHERE id = $2", [size, contentId]);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Loads a dump into the (empty, migrated to the dump's schema version) database, in one
 * transaction: every table in the dump's order, then each id sequence set past the largest id.
 * Returns the rows loaded per table.
 */
export async function loadDump(pool: pg.Pool, path: string): Promise<Map<string, number>> {
  const client = await pool.connect();
  const loaded = new Map<string, number>();
  try {
    await client.query("BEGIN");
    await client.query("SET LOCAL statement_timeout = 0");
    const known = new Set((await rows<{ name: string }>(client, "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()")).map((r) => r.name));
    let table: { name: string; columns: string[] } | null = null;
    let batch: Record<string, unknown>[] = [];
    const insert = async (): Promise<void> => {
      if (table === null || batch.length === 0) return;
      const list = table.columns.map(quoteIdent).join(", ");
      await client.query(`INSERT INTO ${quoteIdent(table.name)} (${list}) OVERRIDING SYSTEM VALUE SELECT ${list} FROM json_populate_recordset(NULL::${quoteIdent(table.name)}, $1::json)`, [JSON.stringify(batch)]);
      loaded.set(table.name, (loaded.get(table.name) ?? 0) + batch.length);
      batch = [];
    };
    let first = true;
    for await (const line of dumpLines(path)) {
      if (first) {
        if (!("format" in line) || line.format !== DUMP_FORMAT) throw new BackupError(`the database entry is not a ${DUMP_FORMAT} file`);
        first = false;
        continue;
      }
      if ("table" in line) {
        await insert();
        if (typeof line.table !== "string" || !known.has(line.table) || SKIPPED_TABLES.has(line.table)) throw new BackupError(`the dump holds table ${JSON.stringify(line.table)}, which this database does not have`);
        if (!Array.isArray(line.columns) || line.columns.some((c) => typeof c !== "string")) throw new BackupError(`the dump's column list of ${line.table} is malformed`);
        table = { name: line.table, columns: line.columns };
        loaded.set(table.name, 0);
      } else if ("row" in line) {
        if (table === null) throw new BackupError("the dump has a row before any table");
        batch.push(line.row);
        if (batch.length >= ROWS_PER_INSERT) await insert();
      }
    }
    await insert();
    // Every serial or identity column: its sequence continues after the restored ids.
    const sequences = await rows<{ tab: string; col: string; seq: string }>(
      client,
      `SELECT c.table_name AS tab, c.column_name AS col, pg_get_serial_sequence(quote_ident(c.table_name), c.column_name) AS seq
         FROM information_schema.columns c
        WHERE c.table_schema = current_schema() AND pg_get_serial_sequence(quote_ident(c.table_name), c.column_name) IS NOT NULL`,
    );
    for (const s of sequences) {
      await client.query(`SELECT setval($1, greatest((SELECT max(${quoteIdent(s.col)}) FROM ${quoteIdent(s.tab)}), 1), (SELECT max(${quoteIdent(s.col)}) FROM ${quoteIdent(s.tab)}) IS NOT NULL)`, [s.seq]);
    }
    await client.query("COMMIT");
    return loaded;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Message contents stored by restoreBlob that no table refers to (a restore that failed after the bytes): removed. */
export async function removeUnreferencedBlobs(pool: pg.Pool): Promise<number> {
  return (await pool.query("DELETE FROM blob_contents c WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.id = c.hash) AND NOT EXISTS (SELECT 1 FROM blob_pins p WHERE p.hash = c.hash)")).rowCount ?? 0;
}

/**
 * `mailroom backup` of a PostgreSQL store. The files beside a node's store are not carried: on
 * this backend DKIM keys and ACME state are tables (store/node-state-store.ts), in the dump.
 */
export function writePostgresBackup(pool: pg.Pool, request: BackupRequest): Promise<BackupReport> {
  return createBackup((destination, onProgress) => takePostgresSnapshot(pool, destination, onProgress), { ...request, files: [] });
}
