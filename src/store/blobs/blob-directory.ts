// Content-addressed message bodies on disk: `<root>/ab/<sha256hex>`. A body is written once,
// shared by every copy of the message (all recipients, COPY, MOVE) and never rewritten; the
// per-recipient trace prefix lives beside the row, not here.
//
// Write path: stream into `<root>/tmp/` while hashing (a whole message is never held in memory),
// fsync the file, rename it to its hash name, fsync the directory. A crash leaves at worst a temp
// file or an unreferenced blob, both removed by the next sweep; never a referenced, torn file.
//
// Layout: ONE level of 256 fan-out folders, all created (and made durable) at open. A delivery
// therefore never creates a folder: with the former two levels (`ab/cd/`, 65 536 folders) nearly
// every message in a young store paid a mkdir and three extra directory fsyncs (up to 3.7 ms
// against ~1 ms for the blob itself). 256 folders keep each one small (a million messages is
// ~4 000 entries per folder, which ext4/xfs hashed directories handle without effort).
//
// Concurrency with garbage collection: a writer *pins* its blob id before it checks whether the
// file already exists, and the collector checks pins and references under the same per-id lock,
// so a blob being delivered again can never be deleted between "exists" and the row commit.
import { createHash, randomUUID } from "node:crypto";
import { close as fsClose, createReadStream, open as fsOpen, read as fsRead } from "node:fs";
import { access, mkdir, open, readdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { MessageSource } from "../mail-store.js";
import { StoreError } from "../errors.js";
import type { BlobId, ByteRange } from "../types.js";
import { fsyncDirectory, makeDirectoryDurable, unlinkIfPresent } from "./durable-fs.js";

const BLOB_NAME = /^[0-9a-f]{64}$/;
const FANOUT_NAME = /^[0-9a-f]{2}$/;
const TEMP_DIRECTORY = "tmp";
/** The 256 fan-out folder names, "00" to "ff": the first two hex digits of a blob id. */
const FANOUT_FOLDERS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Unlinks (and folder fsyncs) in flight for one removeManyIfUnreferenced call. */
const REMOVE_PARALLELISM = 8;

export interface BlobRemoval {
  removed: BlobId[];
  /** What could not be unlinked or fsynced, with the error. */
  failed: { path: string; error: unknown }[];
}

// readInto uses the callback API on a bare descriptor: a fs/promises FileHandle costs more main-thread
// time to create and close than reading a 5 KB blob does (measured: FETCH 1:100 BODY[]).
const openForReading = (path: string): Promise<number> =>
  new Promise((resolve, reject) => fsOpen(path, "r", (err, fd) => (err ? reject(err) : resolve(fd))));
const readAt = (fd: number, target: Buffer, at: number, position: number): Promise<number> =>
  new Promise((resolve, reject) => fsRead(fd, target, at, target.length - at, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead))));
const closeFd = (fd: number): Promise<void> => new Promise((resolve, reject) => fsClose(fd, (err) => (err ? reject(err) : resolve())));

/** Runs `task` over `items` with at most `limit` in flight. */
async function inParallel<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) await task(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Sees every chunk as it is written (the MIME tree builder, in the store). */
export interface ChunkInspector {
  push(chunk: Buffer): void;
}

export interface BlobWriteOptions {
  /** Refuse with StoreError TOOBIG as soon as the source passes this many octets. */
  maxBytes?: number;
  inspector?: ChunkInspector;
}

export interface WrittenBlob {
  id: BlobId;
  size: number;
  /**
   * Drops the pin taken by write(). Call it once the rows referring to the blob are committed,
   * or abandoned (then the blob is garbage unless another writer holds it).
   */
  release(): void;
}

export class BlobDirectory {
  /** Blob ids a writer holds between "file in place" and "row committed". */
  private readonly pins = new Map<BlobId, number>();
  private readonly locks = new Map<BlobId, Promise<void>>();
  /** Temp file names being written right now; a live sweep leaves them alone. */
  private readonly writing = new Set<string>();

  private constructor(readonly root: string) {}

  /** Opens (creating if needed) the directory with its temp and 256 fan-out folders, durably. */
  static async open(root: string): Promise<BlobDirectory> {
    await makeDirectoryDurable(join(root, TEMP_DIRECTORY));
    const present = new Set(await readdir(root));
    const missing = FANOUT_FOLDERS.filter((name) => !present.has(name));
    if (missing.length > 0) {
      // Create all, fsync each new folder, then the root once for all their names.
      for (const name of missing) await mkdir(join(root, name), { recursive: true });
      for (const name of missing) await fsyncDirectory(join(root, name));
      await fsyncDirectory(root);
    }
    return new BlobDirectory(root);
  }

  pathOf(id: BlobId): string {
    return join(this.folderOf(id), id);
  }

  private folderOf(id: BlobId): string {
    return join(this.root, id.slice(0, 2));
  }

  /** Streams the source to a durable blob file and returns its id, pinned until release(). */
  async write(source: MessageSource, options: BlobWriteOptions = {}): Promise<WrittenBlob> {
    const tempName = `${process.pid}-${randomUUID()}`;
    const tempPath = join(this.root, TEMP_DIRECTORY, tempName);
    this.writing.add(tempName);
    try {
      const { id, size } = await this.writeTemporary(source, tempPath, options);
      await this.moveIntoPlace(id, tempPath);
      let released = false;
      return {
        id,
        size,
        release: () => {
          if (released) return;
          released = true;
          this.unpin(id);
        },
      };
    } catch (err) {
      await unlinkIfPresent(tempPath).catch(() => undefined);
      throw asStoreError(err);
    } finally {
      this.writing.delete(tempName);
    }
  }

  private async writeTemporary(source: MessageSource, tempPath: string, options: BlobWriteOptions): Promise<{ id: BlobId; size: number }> {
    const handle = await open(tempPath, "wx");
    try {
      const hash = createHash("sha256");
      let size = 0;
      for await (const chunk of chunksOf(source)) {
        size += chunk.length;
        // Checked before the chunk is written: an oversized message is refused without
        // reading further (breaking out of the loop destroys the source stream).
        if (options.maxBytes !== undefined && size > options.maxBytes) {
          throw new StoreError("TOOBIG", `message exceeds ${options.maxBytes} octets`);
        }
        hash.update(chunk);
        options.inspector?.push(chunk);
        await writeFully(handle, chunk);
      }
      await handle.sync();
      return { id: hash.digest("hex") as BlobId, size };
    } finally {
      await handle.close();
    }
  }

  private async moveIntoPlace(id: BlobId, tempPath: string): Promise<void> {
    await this.withBlobLock(id, async () => {
      this.pin(id);
      try {
        const target = this.pathOf(id);
        if (await exists(target)) {
          // Same bytes already durable under this name: content addressing makes it ours too.
          await unlinkIfPresent(tempPath);
          return;
        }
        // The fan-out folder exists since open(); only the new name needs to be made durable.
        await rename(tempPath, target);
        await fsyncDirectory(this.folderOf(id));
      } catch (err) {
        this.unpin(id);
        throw err;
      }
    });
  }

  /**
   * Pins an existing blob (for a delivery of bytes staged earlier). Returns the release
   * function, or null when the file is gone (already garbage-collected).
   */
  async hold(id: BlobId): Promise<(() => void) | null> {
    if (!BLOB_NAME.test(id)) return null;
    return this.withBlobLock(id, async () => {
      if (!(await exists(this.pathOf(id)))) return null;
      this.pin(id);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        this.unpin(id);
      };
    });
  }

  /** A stream of the blob's bytes, or of `range` of them (end exclusive, may be Infinity; clamped by the file). */
  createReadStream(id: BlobId, range?: ByteRange): Readable {
    if (range && range.end <= range.start) return Readable.from([]);
    if (!range) return createReadStream(this.pathOf(id));
    // createReadStream's end is inclusive; an infinite end means "to the end of the file".
    return createReadStream(this.pathOf(id), Number.isFinite(range.end) ? { start: range.start, end: range.end - 1 } : { start: range.start });
  }

  /**
   * Reads the whole blob into `target` from `offset` to its end, with one open and (for a file
   * that size) one read: for small messages this is far cheaper than a stream. False when the
   * file is gone (its last row was removed meanwhile); a shorter file is corruption.
   */
  async readInto(id: BlobId, target: Buffer, offset: number): Promise<boolean> {
    if (!BLOB_NAME.test(id)) return false;
    let fd: number;
    try {
      fd = await openForReading(this.pathOf(id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
    try {
      let at = offset;
      while (at < target.length) {
        const bytesRead = await readAt(fd, target, at, at - offset);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      // Blobs are never rewritten, so a short file is damage, not a race: never send a torn message.
      if (at !== target.length) throw new StoreError("UNAVAILABLE", `blob ${id} does not have the size its row records`);
      return true;
    } finally {
      await closeFd(fd);
    }
  }

  /**
   * Deletes the blob file unless a writer holds it or `isReferenced` says a row still needs it.
   * Both are checked under the blob's lock, right before the unlink.
   */
  async removeIfUnreferenced(id: BlobId, isReferenced: (id: BlobId) => boolean): Promise<boolean> {
    if (!BLOB_NAME.test(id)) return false;
    return this.withBlobLock(id, async () => {
      if ((this.pins.get(id) ?? 0) > 0 || isReferenced(id)) return false;
      const removed = await unlinkIfPresent(this.pathOf(id));
      if (removed) await fsyncDirectory(this.folderOf(id));
      return removed;
    });
  }

  /**
   * removeIfUnreferenced for a batch (a POP3 QUIT or an EXPUNGE of many messages): each blob is
   * checked and unlinked under its own lock as there, a few at a time, and each fan-out folder
   * is fsynced once for the batch instead of once per file. Failures are returned, not thrown:
   * a blob left behind is an orphan for the next sweep, the rows being consistent already.
   */
  async removeManyIfUnreferenced(ids: Iterable<BlobId>, isReferenced: (id: BlobId) => boolean): Promise<BlobRemoval> {
    const result: BlobRemoval = { removed: [], failed: [] };
    const folders = new Set<string>();
    await inParallel([...new Set(ids)].filter((id) => BLOB_NAME.test(id)), REMOVE_PARALLELISM, async (id) => {
      try {
        const removed = await this.withBlobLock(id, async () => {
          if ((this.pins.get(id) ?? 0) > 0 || isReferenced(id)) return false;
          return unlinkIfPresent(this.pathOf(id));
        });
        if (!removed) return;
        result.removed.push(id);
        folders.add(this.folderOf(id));
      } catch (error) {
        result.failed.push({ path: this.pathOf(id), error });
      }
    });
    // After the unlinks, whatever was renamed in meanwhile: an fsync makes the folder's current
    // names durable, so a blob delivered again in between is kept either way.
    await inParallel([...folders], REMOVE_PARALLELISM, async (folder) => {
      try {
        await fsyncDirectory(folder);
      } catch (error) {
        result.failed.push({ path: folder, error });
      }
    });
    return result;
  }

  /** Every blob id present on disk (for the garbage sweep). */
  async *listBlobIds(): AsyncGenerator<BlobId> {
    for (const folder of await readdirIfPresent(this.root)) {
      if (!FANOUT_NAME.test(folder)) continue;
      for (const name of await readdirIfPresent(join(this.root, folder))) {
        if (BLOB_NAME.test(name) && name.startsWith(folder)) yield name as BlobId;
      }
    }
  }

  /** Removes temp files left by a crashed or failed writer; returns how many. */
  async removeStaleTemporaryFiles(): Promise<number> {
    let removed = 0;
    for (const name of await readdirIfPresent(join(this.root, TEMP_DIRECTORY))) {
      if (this.writing.has(name)) continue;
      if (await unlinkIfPresent(join(this.root, TEMP_DIRECTORY, name))) removed++;
    }
    return removed;
  }

  private pin(id: BlobId): void {
    this.pins.set(id, (this.pins.get(id) ?? 0) + 1);
  }

  private unpin(id: BlobId): void {
    const count = (this.pins.get(id) ?? 0) - 1;
    if (count > 0) this.pins.set(id, count);
    else this.pins.delete(id);
  }

  private async withBlobLock<T>(id: BlobId, critical: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    let unlock!: () => void;
    const mine = new Promise<void>((resolve) => (unlock = resolve));
    const tail = previous.then(() => mine);
    this.locks.set(id, tail);
    await previous;
    try {
      return await critical();
    } finally {
      unlock();
      if (this.locks.get(id) === tail) this.locks.delete(id);
    }
  }
}

/** Normalises every accepted source shape to Buffers, without collecting them. */
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

async function writeFully(handle: import("node:fs/promises").FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function readdirIfPresent(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return [];
    throw err;
  }
}

/**
 * Disk trouble (ENOSPC, EIO…: errors with a syscall) becomes UNAVAILABLE, so the client may retry
 * later (SMTP 4xx). Errors of the source itself (a dropped connection) pass through unchanged.
 */
function asStoreError(err: unknown): unknown {
  if (err instanceof StoreError) return err;
  if (err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === "string") {
    return new StoreError("UNAVAILABLE", `blob write failed: ${err.message}`, { cause: err });
  }
  return err;
}
