// Message bytes in PostgreSQL (docs/architecture.md, "PostgreSQL backend"): each unique message
// once, named by its SHA-256 and shared by every recipient and copy, cut into 256 KiB bytea
// chunks so that neither a write nor a read ever holds a whole 25 MB message in memory.
//
// The BlobStore interface is what the mail store needs of any byte store: write a stream
// durably and pinned, read it (or a range of it) as a stream, know its size, let go of a pin.
// Pins and references live in PostgreSQL whatever holds the bytes, so an object store (S3) can
// implement the same interface later with only the bytes moved out.
//
// Concurrency without a lock of our own, across any number of nodes: blob_pins and blobs refer to
// blob_contents(hash) by foreign key, so deleting bytes that another transaction just pinned or
// referenced fails (23503) instead of succeeding; such a delete is done inside a savepoint and its
// failure simply means "still in use".
import { createHash, randomUUID } from "node:crypto";
import type pg from "pg";
import { StoreError } from "../errors.js";
import type { MessageSource } from "../mail-store.js";
import type { BlobId, ByteRange } from "../types.js";
import { one, rows, type Sql, transaction } from "./database.js";

/** Octets per stored chunk (a new upload's; each content row records its own). */
export const CHUNK_BYTES = 256 * 1024;
/** Chunks fetched per query while streaming: at most 1 MiB in memory per reader. */
const CHUNKS_PER_READ = 4;

export interface ChunkInspector {
  push(chunk: Buffer): void;
}

export interface WrittenContent {
  id: BlobId;
  size: number;
  /** The pin that keeps the bytes until a delivery references them or release() drops it. */
  pin: string;
}

export interface BlobStore {
  /**
   * Stores the bytes, committed and pinned; durable no later than the first synchronous commit that
   * refers to them (a delivery, an enqueue). Refuses TOOBIG past maxBytes before reading further.
   */
  write(source: MessageSource, options?: { maxBytes?: number; inspector?: ChunkInspector }): Promise<WrittenContent>;
  /** Drops a pin; the bytes go too when nothing else pins or references them. */
  release(pin: string): Promise<void>;
  /** The bytes (or a range), in chunks; fails with BlobMissingError when they are gone or short. */
  read(id: BlobId, range?: ByteRange): AsyncGenerator<Buffer>;
  /** Stored size of each existing blob (absent: missing). */
  sizes(ids: readonly BlobId[]): Promise<Map<BlobId, number>>;
  /** Complete blobs stored. */
  count(): Promise<number>;
}

/** The bytes of a blob are missing or shorter than recorded: the store decides DAMAGED or NONEXISTENT. */
export class BlobMissingError extends Error {
  constructor(readonly reason: "missing" | "short") {
    super(reason === "missing" ? "blob missing" : "blob shorter than recorded");
  }
}

async function* chunksOf(source: MessageSource): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(source)) {
    yield source;
    return;
  }
  for await (const chunk of source as AsyncIterable<Buffer | Uint8Array | string>) {
    if (typeof chunk === "string") yield Buffer.from(chunk, "utf8");
    else if (Buffer.isBuffer(chunk)) yield chunk;
    else yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}

const isFkViolation = (err: unknown): boolean => (err as { code?: unknown })?.code === "23503";
const isUniqueViolation = (err: unknown): boolean => (err as { code?: unknown })?.code === "23505";

/**
 * Deletes the bytes of these blobs when no pin and no blobs row refers to them, inside the
 * caller's transaction. A concurrent pin or reference makes the delete fail on its foreign key:
 * that blob is kept (savepoint rolled back), the others still go.
 */
export async function dropUnreferencedContents(client: Sql, hashes: readonly string[]): Promise<number> {
  if (hashes.length === 0) return 0;
  const sql = `DELETE FROM blob_contents c WHERE c.hash = ANY($1::text[])
                 AND NOT EXISTS (SELECT 1 FROM blob_pins p WHERE p.hash = c.hash)
                 AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.id = c.hash)`;
  await client.query("SAVEPOINT drop_contents");
  try {
    const result = await client.query(sql, [hashes]);
    await client.query("RELEASE SAVEPOINT drop_contents");
    return result.rowCount ?? 0;
  } catch (err) {
    await client.query("ROLLBACK TO SAVEPOINT drop_contents");
    await client.query("RELEASE SAVEPOINT drop_contents");
    if (!isFkViolation(err) || hashes.length === 1) {
      if (isFkViolation(err)) return 0;
      throw err;
    }
  }
  let dropped = 0;
  for (const hash of hashes) dropped += await dropUnreferencedContents(client, [hash]);
  return dropped;
}

export class PgBlobStore implements BlobStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly clock: () => Date,
  ) {}

  async write(source: MessageSource, options: { maxBytes?: number; inspector?: ChunkInspector } = {}): Promise<WrittenContent> {
    const hash = createHash("sha256");
    let size = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let uploadId: number | null = null;
    let seq = 0;
    try {
      for await (const chunk of chunksOf(source)) {
        size += chunk.length;
        // Checked before the chunk is stored: an oversized message is refused without reading further.
        if (options.maxBytes !== undefined && size > options.maxBytes) throw new StoreError("TOOBIG", `message exceeds ${options.maxBytes} octets`);
        hash.update(chunk);
        options.inspector?.push(chunk);
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes < CHUNK_BYTES) continue;
        // A message larger than one chunk is uploaded as it arrives, one committed row per chunk,
        // under an upload row without a hash; the final transaction names it.
        let whole = Buffer.concat(pending, pendingBytes);
        while (whole.length >= CHUNK_BYTES) {
          if (uploadId === null) {
            uploadId = (await one<{ id: number }>(this.pool, "INSERT INTO blob_contents (hash, size, chunk_size, created_at) VALUES (NULL, 0, $1, $2) RETURNING id", [CHUNK_BYTES, this.clock().getTime()]))!.id;
          }
          const chunk = whole.subarray(0, CHUNK_BYTES);
          const at = seq++;
          await transaction(this.pool, (client) => client.query("INSERT INTO blob_chunks (content_id, seq, data) VALUES ($1, $2, $3)", [uploadId, at, chunk]), { asyncCommit: true });
          whole = whole.subarray(CHUNK_BYTES);
        }
        pending = whole.length > 0 ? [Buffer.from(whole)] : [];
        pendingBytes = whole.length;
      }
      const id = hash.digest("hex") as BlobId;
      return await this.finish(id, size, uploadId, seq, Buffer.concat(pending, pendingBytes));
    } catch (err) {
      if (uploadId !== null) await this.pool.query("DELETE FROM blob_contents WHERE id = $1 AND hash IS NULL", [uploadId]).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Names the upload (or stores a small message whole) and pins it, in one transaction. Its
   * COMMIT does not wait for the WAL flush (database.ts, asyncCommit): staged bytes matter only
   * once a delivery or an enqueue refers to them, and that transaction's synchronous COMMIT
   * flushes the WAL up to itself, these records included. A crash before that loses only bytes
   * no client was told about. The same bytes already stored make this upload redundant: it is
   * dropped and the existing blob pinned instead.
   */
  private async finish(id: BlobId, size: number, uploadId: number | null, seq: number, tail: Buffer): Promise<WrittenContent> {
    const pin = randomUUID();
    const now = this.clock().getTime();
    for (let attempt = 1; ; attempt++) {
      try {
        await transaction(this.pool, async (client) => {
          const existing = await one<{ id: number }>(client, "SELECT id FROM blob_contents WHERE hash = $1", [id]);
          if (existing) {
            if (uploadId !== null) await client.query("DELETE FROM blob_contents WHERE id = $1", [uploadId]);
          } else {
            let contentId = uploadId;
            if (contentId === null) {
              contentId = (await one<{ id: number }>(client, "INSERT INTO blob_contents (hash, size, chunk_size, created_at) VALUES ($1, $2, $3, $4) RETURNING id", [id, size, CHUNK_BYTES, now]))!.id;
            } else {
              await client.query("UPDATE blob_contents SET hash = $1, size = $2 WHERE id = $3", [id, size, contentId]);
            }
            if (tail.length > 0) await client.query("INSERT INTO blob_chunks (content_id, seq, data) VALUES ($1, $2, $3)", [contentId, seq, tail]);
          }
          await client.query("INSERT INTO blob_pins (pin, hash, created_at) VALUES ($1, $2, $3)", [pin, id, now]);
        }, { asyncCommit: true });
        return { id, size, pin };
      } catch (err) {
        // Another writer named the same bytes first (unique), or removed the copy we found
        // (foreign key): run again, which takes the other branch.
        if ((isUniqueViolation(err) || isFkViolation(err)) && attempt < 4) continue;
        throw err;
      }
    }
  }

  async release(pin: string): Promise<void> {
    await transaction(
      this.pool,
      async (client) => {
        const dropped = await one<{ hash: string }>(client, "DELETE FROM blob_pins WHERE pin = $1 RETURNING hash", [pin]);
        if (dropped) await dropUnreferencedContents(client, [dropped.hash]);
      },
      // Losing a release in a crash leaves a pin the collector expires: nothing to wait for.
      { asyncCommit: true },
    );
  }

  async *read(id: BlobId, range?: ByteRange): AsyncGenerator<Buffer> {
    const content = await one<{ id: number; size: number; chunk_size: number }>(this.pool, "SELECT id, size, chunk_size FROM blob_contents WHERE hash = $1", [id]);
    if (!content) throw new BlobMissingError("missing");
    const start = Math.max(0, range?.start ?? 0);
    const end = Math.min(content.size, range ? Math.max(start, range.end) : content.size);
    if (start >= end) return;
    const first = Math.floor(start / content.chunk_size);
    const last = Math.floor((end - 1) / content.chunk_size);
    for (let from = first; from <= last; from += CHUNKS_PER_READ) {
      const to = Math.min(last, from + CHUNKS_PER_READ - 1);
      const chunks = await rows<{ seq: number; data: Buffer }>(this.pool, "SELECT seq, data FROM blob_chunks WHERE content_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq", [content.id, from, to]);
      if (chunks.length !== to - from + 1) throw new BlobMissingError(chunks.length === 0 && from === first ? "missing" : "short");
      for (const chunk of chunks) {
        const offset = chunk.seq * content.chunk_size;
        const piece = chunk.data.subarray(Math.max(0, start - offset), Math.min(chunk.data.length, end - offset));
        if (chunk.data.length < Math.min(content.chunk_size, content.size - offset)) throw new BlobMissingError("short");
        if (piece.length > 0) yield piece;
      }
    }
  }

  async sizes(ids: readonly BlobId[]): Promise<Map<BlobId, number>> {
    const found = new Map<BlobId, number>();
    if (ids.length === 0) return found;
    // octet_length of a stored bytea reads its header only, not the (possibly compressed) bytes.
    const list = await rows<{ hash: string; stored: number }>(
      this.pool,
      `SELECT c.hash, (SELECT coalesce(sum(octet_length(k.data)), 0) FROM blob_chunks k WHERE k.content_id = c.id)::bigint AS stored
         FROM blob_contents c WHERE c.hash = ANY($1::text[])`,
      [[...new Set(ids)]],
    );
    for (const row of list) found.set(row.hash as BlobId, row.stored);
    return found;
  }

  async count(): Promise<number> {
    return (await one<{ n: number }>(this.pool, "SELECT count(*)::bigint AS n FROM blob_contents WHERE hash IS NOT NULL"))!.n;
  }

  /**
   * What a crashed node leaves: uploads never named, pins never released (older than maxAgeMs),
   * and bytes nothing pins or references any more. Safe on any number of nodes at once.
   */
  async collect(maxAgeMs: number): Promise<{ uploads: number; pins: number; contents: number }> {
    const cutoff = this.clock().getTime() - maxAgeMs;
    const uploads = (await this.pool.query("DELETE FROM blob_contents WHERE hash IS NULL AND created_at < $1", [cutoff])).rowCount ?? 0;
    const pins = (await this.pool.query("DELETE FROM blob_pins WHERE created_at < $1", [cutoff])).rowCount ?? 0;
    // Oversized change notices (change-feed.ts) are read within seconds of their commit.
    await this.pool.query("DELETE FROM change_notices WHERE created_at < $1", [this.clock().getTime() - 10 * 60_000]);
    const candidates = await rows<{ hash: string }>(
      this.pool,
      `SELECT c.hash FROM blob_contents c WHERE c.hash IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM blob_pins p WHERE p.hash = c.hash)
          AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.id = c.hash) LIMIT 1000`,
    );
    let contents = 0;
    if (candidates.length > 0) contents = await transaction(this.pool, (client) => dropUnreferencedContents(client, candidates.map((c) => c.hash)));
    return { uploads, pins, contents };
  }
}
