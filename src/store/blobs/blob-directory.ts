// Content-addressed message bodies on disk: `<root>/ab/<sha256hex>`. A body is written once,
// shared by every copy of the message (all recipients, COPY, MOVE) and never rewritten; the
// per-recipient trace prefix lives beside the row, not here.
//
// Write path: stream into `<root>/tmp/` while hashing (a whole message is never held in memory),
// fsync the file, rename it to its hash name, fsync the directory. A crash leaves at worst a temp
// file or an unreferenced blob, both found later by the collector's slow scan
// (store/sqlite/blob-collector.ts); never a referenced, torn file.
//
// Layout: ONE level of 256 fan-out folders, all created (and made durable) at open. A delivery
// therefore never creates a folder: with the former two levels (`ab/cd/`, 65 536 folders) nearly
// every message in a young store paid a mkdir and three extra directory fsyncs (up to 3.7 ms
// against ~1 ms for the blob itself). 256 folders keep each one small (a million messages is
// ~4 000 entries per folder, which ext4/xfs hashed directories handle without effort).
//
// Concurrency with garbage collection: a writer *pins* its blob id before it checks whether the
// file already exists, and the collector checks pins and references under the same per-id lock,
// so a blob being delivered again can never be deleted between "exists" and the row commit. Pins
// live in this process's memory, which is enough because only the process that owns the data
// dir (the exclusive lock of `mailroom serve`, or an admin command when no server runs) ever
// writes or removes blobs, and only the server runs the collector.
import { createHash, randomUUID } from "node:crypto";
import { close as fsClose, createReadStream, open as fsOpen, read as fsRead } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { MessageSource } from "../mail-store.js";
import { StoreError } from "../errors.js";
import type { BlobId, ByteRange } from "../types.js";
import { isNoSpaceError, makeDirectoryDurable, nodeFileLayer, unlinkIfPresent, type FileLayer, type WritableFile } from "./durable-fs.js";

const BLOB_NAME = /^[0-9a-f]{64}$/;
const TEMP_DIRECTORY = "tmp";
/** Octets per read of a blob stream (createReadStream). */
const READ_CHUNK = 256 * 1024;
/** Temp file names: `<pid of the writer>-<uuid>`. */
const TEMP_NAME = /^(\d+)-[0-9a-f-]{36}$/;
/** The 256 fan-out folder names, "00" to "ff": the first two hex digits of a blob id. */
export const FANOUT_FOLDERS: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** fsyncs in flight for one settle() call (deferred blobs, `mailroom import`). */
const SETTLE_PARALLELISM = 32;
/** Unlinks (and folder fsyncs) in flight for one removeManyIfUnreferenced call. */
const REMOVE_PARALLELISM = 8;

export const isBlobId = (name: string): name is BlobId => BLOB_NAME.test(name);

/** What removeManyIfUnreferenced did with one id. */
export type RemovalOutcome = "removed" | "absent" | "pinned" | "referenced" | "young";

export interface BlobRemoval {
  outcomes: Map<BlobId, RemovalOutcome>;
  /** What could not be unlinked or fsynced, with the error. */
  failed: { path: string; error: unknown }[];
}

/**
 * The moments where a writer and the collector can meet, named so a test can stop one side
 * there and run the other (gc-interleaving.test.ts):
 * - writer.locked: under the blob's lock, pinned, the "exists?" check done, before the rename;
 * - writer.placed: the file is in place and pinned, the lock released, the rows not yet written;
 * - collector.decided: under the lock, pins and references checked, before the unlink.
 */
export type BlobSyncPoint = "writer.locked" | "writer.placed" | "collector.decided";

export interface BlobDirectoryOptions {
  files?: FileLayer;
  /** Awaited at each BlobSyncPoint; tests only. */
  syncPoint?: (point: BlobSyncPoint, id: BlobId) => Promise<void> | void;
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

/**
 * A blob written with writeDeferred(): its bytes are in a temp file, neither fsynced nor under
 * its name yet, until BlobDirectory.settle() makes a whole batch of them durable at once.
 */
export interface DeferredBlob extends WrittenBlob {
  /** True once settle() placed it (then it is a WrittenBlob like any, pinned until release()). */
  readonly settled: boolean;
  /** Where its bytes are now: the temp file, then its content-addressed name. */
  readonly path: string;
}

class PendingFile implements DeferredBlob {
  state: "written" | "placed" | "released" = "written";
  /** The settle() call placing it, shared by every caller that asks for it meanwhile. */
  settling: Promise<void> | null = null;

  constructor(
    private readonly directory: BlobDirectory,
    readonly id: BlobId,
    readonly size: number,
    readonly tempName: string,
    readonly tempPath: string,
    /** Whether a placed file's pin was taken (moveIntoPlace); dropped once by release(). */
    private readonly unpin: () => void,
    private readonly dropTemp: () => void,
  ) {}

  get settled(): boolean {
    return this.state === "placed";
  }

  get path(): string {
    return this.state === "placed" ? this.directory.pathOf(this.id) : this.tempPath;
  }

  release(): void {
    if (this.state === "placed") this.unpin();
    else if (this.state === "written") this.dropTemp();
    this.state = "released";
  }
}

export class BlobDirectory {
  /** Blob ids a writer holds between "file in place" and "row committed". */
  private readonly pins = new Map<BlobId, number>();
  private readonly locks = new Map<BlobId, Promise<void>>();
  /** Temp file names being written right now; the collector leaves them alone. */
  private readonly writing = new Set<string>();
  /** Backups in progress: while any runs, no blob file is removed (holdRemovals). */
  private removalHolds = 0;

  private readonly files: FileLayer;
  private readonly syncPoint: BlobDirectoryOptions["syncPoint"];
  /** Names a settle() batch renamed whose folder it has not fsynced yet (moveIntoPlace reads it). */
  private readonly unsyncedNames = new Set<BlobId>();

  private constructor(
    readonly root: string,
    options: BlobDirectoryOptions,
  ) {
    this.files = options.files ?? nodeFileLayer;
    this.syncPoint = options.syncPoint;
  }

  /**
   * Opens (creating if needed) the directory with its temp and 256 fan-out folders, durably.
   * Opening never deletes anything: what a crash left behind is the collector's business.
   */
  static async open(root: string, options: BlobDirectoryOptions = {}): Promise<BlobDirectory> {
    const files = options.files ?? nodeFileLayer;
    await makeDirectoryDurable(join(root, TEMP_DIRECTORY), files);
    const present = new Set(await files.readdir(root));
    const missing = FANOUT_FOLDERS.filter((name) => !present.has(name));
    if (missing.length > 0) {
      // Create all, fsync each new folder, then the root once for all their names.
      for (const name of missing) await files.mkdirs(join(root, name));
      for (const name of missing) await files.fsyncDirectory(join(root, name));
      await files.fsyncDirectory(root);
    }
    return new BlobDirectory(root, options);
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
      if (this.syncPoint) await this.syncPoint("writer.placed", id);
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
      await unlinkIfPresent(tempPath, this.files).catch(() => undefined);
      throw asStoreError(err);
    } finally {
      this.writing.delete(tempName);
    }
  }

  /**
   * Streams the source to a temp file WITHOUT fsync and returns its id, for settle() to make
   * durable together with others (`mailroom import`: one fsync per file, then one per fan-out
   * folder for the whole batch, where write() pays a file and a folder fsync per message, each
   * waiting for its own). Until settled it is in no mailbox, so a crash loses nothing acknowledged:
   * the temp file is the collector's (removeTemporaryIfStale), and release() removes it at once.
   */
  async writeDeferred(source: MessageSource, options: BlobWriteOptions = {}): Promise<DeferredBlob> {
    const tempName = `${process.pid}-${randomUUID()}`;
    const tempPath = join(this.root, TEMP_DIRECTORY, tempName);
    this.writing.add(tempName);
    try {
      const { id, size } = await this.writeTemporary(source, tempPath, options, false);
      const dropTemp = () => {
        this.writing.delete(tempName);
        void unlinkIfPresent(tempPath, this.files).catch(() => undefined);
      };
      return new PendingFile(this, id, size, tempName, tempPath, () => this.unpin(id), dropTemp);
    } catch (err) {
      this.writing.delete(tempName);
      await unlinkIfPresent(tempPath, this.files).catch(() => undefined);
      throw asStoreError(err);
    }
  }

  /**
   * Makes deferred blobs durable under their names: every temp file fsynced (in parallel, so the
   * disk commits them together), each renamed into place (or dropped when the same bytes are
   * already there), then each fan-out folder that got a name fsynced once. Each is pinned from
   * then until its release(). Blobs settled already, or being settled by another call, are
   * awaited, not done twice. On failure none of this call's blobs counts as placed.
   */
  async settle(blobs: readonly DeferredBlob[]): Promise<void> {
    const mine: PendingFile[] = [];
    const others = new Set<Promise<void>>();
    for (const blob of blobs) {
      if (!(blob instanceof PendingFile)) throw new StoreError("INVALID", "not a deferred blob of this directory");
      if (blob.state === "released") throw new StoreError("INVALID", "deferred blob already released");
      if (blob.settling) others.add(blob.settling);
      else if (blob.state === "written") mine.push(blob);
    }
    if (mine.length > 0) {
      const settling = this.settleFiles(mine);
      for (const blob of mine) blob.settling = settling;
      others.add(settling);
    }
    await Promise.all(others);
  }

  private async settleFiles(files: readonly PendingFile[]): Promise<void> {
    const placed: PendingFile[] = [];
    try {
      await inParallel(files, SETTLE_PARALLELISM, (file) => this.files.fsyncFile(file.tempPath));
      const folders = new Set<string>();
      for (const file of files) {
        // Also when the name was there already: another settle() may have renamed it and not yet
        // fsynced its folder, and this batch's rows must not commit before that name is durable.
        await this.placeUnsynced(file.id, file.tempPath);
        folders.add(this.folderOf(file.id));
        placed.push(file);
        this.writing.delete(file.tempName);
        if (this.syncPoint) await this.syncPoint("writer.placed", file.id);
      }
      await inParallel([...folders], SETTLE_PARALLELISM, (folder) => this.files.fsyncDirectory(folder));
      // Names this batch renamed are durable now. (After a failure they stay listed: a writer of
      // the same bytes then fsyncs the folder itself.)
      for (const file of files) this.unsyncedNames.delete(file.id);
      for (const file of files) file.state = "placed";
    } catch (err) {
      // Renamed files stay (unreferenced: the collector's); their pins go, the rest stay temp files.
      for (const file of placed) this.unpin(file.id);
      for (const file of files) file.settling = null;
      throw asStoreError(err);
    }
  }

  /** moveIntoPlace without the folder fsync (settle does one per folder). */
  private async placeUnsynced(id: BlobId, tempPath: string): Promise<void> {
    return this.withBlobLock(id, async () => {
      this.pin(id);
      try {
        const present = await this.exists(this.pathOf(id));
        if (this.syncPoint) await this.syncPoint("writer.locked", id);
        if (present) await unlinkIfPresent(tempPath, this.files);
        else {
          await this.files.rename(tempPath, this.pathOf(id));
          this.unsyncedNames.add(id);
        }
      } catch (err) {
        this.unpin(id);
        throw err;
      }
    });
  }

  private async writeTemporary(source: MessageSource, tempPath: string, options: BlobWriteOptions, sync = true): Promise<{ id: BlobId; size: number }> {
    const handle = await this.files.createExclusive(tempPath);
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
      if (sync) await handle.sync();
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
        const present = await this.exists(target);
        if (this.syncPoint) await this.syncPoint("writer.locked", id);
        if (present) {
          // Same bytes already under this name: content addressing makes it ours too. A settle()
          // batch renames first and fsyncs folders after the whole batch: until then the name may
          // not survive a power loss, and our rows are about to refer to it, so its folder is
          // fsynced here (whoever else placed it fsynced theirs before their rows committed).
          await unlinkIfPresent(tempPath, this.files);
          if (this.unsyncedNames.has(id)) await this.files.fsyncDirectory(this.folderOf(id));
          return;
        }
        // The fan-out folder exists since open(); only the new name needs to be made durable.
        await this.files.rename(tempPath, target);
        await this.files.fsyncDirectory(this.folderOf(id));
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
      if (!(await this.exists(this.pathOf(id)))) return null;
      this.pin(id);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        this.unpin(id);
      };
    });
  }

  /**
   * Keeps every blob file in place until the returned release is called: a backup holds this from
   * before its database snapshot until it has read the last file the snapshot refers to, so the
   * collector cannot remove a file whose row the snapshot still has (docs/architecture.md, "Backup
   * and restore"). Removals wait (reported "pinned") and happen at a later tick.
   */
  holdRemovals(): () => void {
    this.removalHolds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.removalHolds--;
    };
  }

  /** A stream of the blob's bytes, or of `range` of them (end exclusive, may be Infinity; clamped by the file). */
  createReadStream(id: BlobId, range?: ByteRange): Readable {
    if (range && range.end <= range.start) return Readable.from([]);
    // Reads of READ_CHUNK: a 25 MB message is ~100 reads through the thread pool instead of ~400
    // at fs's 64 KiB default, and the reader's one chunk of read-ahead covers a socket's drain wait
    // (FETCH BODY[], POP3 RETR; issue #13's 100 MB/s). A small file is still read in one piece.
    if (!range) return createReadStream(this.pathOf(id), { highWaterMark: READ_CHUNK });
    // createReadStream's end is inclusive; an infinite end means "to the end of the file".
    return createReadStream(this.pathOf(id), Number.isFinite(range.end) ? { start: range.start, end: range.end - 1, highWaterMark: READ_CHUNK } : { start: range.start, highWaterMark: READ_CHUNK });
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
      if (at !== target.length) throw new StoreError("DAMAGED", `blob ${id} does not have the size its row records`);
      return true;
    } finally {
      await closeFd(fd);
    }
  }

  /**
   * Deletes each blob file unless a writer holds it (pinned), `isReferenced` says a row needs it,
   * or (with minAgeMs) it was modified too recently. All three are checked under the blob's lock
   * right before its unlink, a few ids at a time; each fan-out folder is fsynced once for the
   * batch. Failures are returned, not thrown: a file left behind is found again later.
   */
  async removeManyIfUnreferenced(ids: Iterable<BlobId>, isReferenced: (id: BlobId) => boolean, options: { minAgeMs?: number; now?: number } = {}): Promise<BlobRemoval> {
    const result: BlobRemoval = { outcomes: new Map(), failed: [] };
    const folders = new Set<string>();
    await inParallel([...new Set(ids)].filter(isBlobId), REMOVE_PARALLELISM, async (id) => {
      try {
        const outcome = await this.withBlobLock(id, async (): Promise<RemovalOutcome> => {
          if ((this.pins.get(id) ?? 0) > 0 || this.removalHolds > 0) return "pinned";
          if (isReferenced(id)) return "referenced";
          if (options.minAgeMs !== undefined && options.minAgeMs > 0) {
            const found = await this.statIfPresent(this.pathOf(id));
            if (found === null) return "absent";
            if ((options.now ?? Date.now()) - found.mtimeMs < options.minAgeMs) return "young";
          }
          if (this.syncPoint) await this.syncPoint("collector.decided", id);
          return (await unlinkIfPresent(this.pathOf(id), this.files)) ? "removed" : "absent";
        });
        result.outcomes.set(id, outcome);
        if (outcome === "removed") folders.add(this.folderOf(id));
      } catch (error) {
        result.failed.push({ path: this.pathOf(id), error });
      }
    });
    // After the unlinks, whatever was renamed in meanwhile: an fsync makes the folder's current
    // names durable, so a blob delivered again in between is kept either way.
    await inParallel([...folders], REMOVE_PARALLELISM, async (folder) => {
      try {
        await this.files.fsyncDirectory(folder);
      } catch (error) {
        result.failed.push({ path: folder, error });
      }
    });
    return result;
  }

  /** The well-formed blob names of one fan-out folder ("00" to "ff"), in no particular order. */
  async listFolder(folder: string): Promise<BlobId[]> {
    const names = await this.readdirIfPresent(join(this.root, folder));
    return names.filter((name): name is BlobId => isBlobId(name) && name.startsWith(folder));
  }

  /** Size of the blob's file, or null when there is none. */
  async sizeOf(id: BlobId): Promise<number | null> {
    if (!isBlobId(id)) return null;
    return (await this.statIfPresent(this.pathOf(id)))?.size ?? null;
  }

  /** Names in the temp folder. */
  listTemporary(): Promise<string[]> {
    return this.readdirIfPresent(join(this.root, TEMP_DIRECTORY));
  }

  /**
   * Removes a temp file whose writer is certainly gone: this process's own leftovers (a name it
   * is not writing now), or another pid's when that process no longer exists. A live pid may be a
   * reused one, so its file goes only once unmodified for `staleAgeMs` (a writer touches its file
   * with every chunk, and every protocol ends a stalled upload long before).
   */
  async removeTemporaryIfStale(name: string, staleAgeMs: number, now = Date.now()): Promise<boolean> {
    const match = TEMP_NAME.exec(name);
    const path = join(this.root, TEMP_DIRECTORY, name);
    if (this.writing.has(name)) return false;
    const pid = match ? Number(match[1]) : null;
    let writerGone = pid === process.pid || (pid !== null && !processExists(pid));
    if (!writerGone) {
      const found = await this.statIfPresent(path);
      if (found === null) return false;
      writerGone = now - found.mtimeMs >= staleAgeMs;
    }
    // A writer's name is a fresh uuid, added to `writing` before its file exists, so a name seen
    // in the folder and not in `writing` can never start being written again.
    if (!writerGone) return false;
    return unlinkIfPresent(path, this.files);
  }

  private pin(id: BlobId): void {
    this.pins.set(id, (this.pins.get(id) ?? 0) + 1);
  }

  private unpin(id: BlobId): void {
    const count = (this.pins.get(id) ?? 0) - 1;
    if (count > 0) this.pins.set(id, count);
    else this.pins.delete(id);
  }

  private async exists(path: string): Promise<boolean> {
    return (await this.statIfPresent(path)) !== null;
  }

  private async statIfPresent(path: string): Promise<{ size: number; mtimeMs: number } | null> {
    try {
      return await this.files.stat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
  }

  private async readdirIfPresent(path: string): Promise<string[]> {
    try {
      return await this.files.readdir(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return [];
      throw err;
    }
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

async function writeFully(handle: WritableFile, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) offset += await handle.write(chunk, offset, chunk.length - offset);
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Disk full (ENOSPC, EDQUOT) becomes NOSPACE, other disk trouble (EIO…: errors with a syscall)
 * UNAVAILABLE, so the client may retry later (SMTP 4xx). Errors of the source itself (a dropped
 * connection) pass through unchanged.
 */
function asStoreError(err: unknown): unknown {
  if (err instanceof StoreError) return err;
  if (isNoSpaceError(err)) return new StoreError("NOSPACE", `blob write failed: ${(err as Error).message}`, { cause: err });
  if (err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === "string") {
    return new StoreError("UNAVAILABLE", `blob write failed: ${err.message}`, { cause: err });
  }
  return err;
}
