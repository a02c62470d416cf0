// Writing a backup archive (format.ts) from a consistent snapshot (sqlite/backup-snapshot.ts).
// Everything streams: the database copy and each message file go through the tar writer and gzip
// a chunk at a time, the manifest is written to a temp file line by line and appended at the end,
// and an incremental backup compares the snapshot's ascending blob ids with its base manifest's by
// merging the two lists. Memory stays bounded whatever the size of the store.
//
// The archive is written as `<file>.partial`, fsynced, then renamed: a `<file>` that exists is a
// complete backup. Each message file is hashed as it is archived and must match its name (its
// SHA-256): a damaged file fails the backup instead of being archived.
import { createHash, randomUUID } from "node:crypto";
import { constants as fsConstants, createReadStream, createWriteStream, type Dirent, type WriteStream } from "node:fs";
import { access, lstat, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip, constants as zlib } from "node:zlib";
import type { Readable } from "node:stream";
import type { BackupSnapshot } from "../sqlite/backup-snapshot.js";
import { fsyncDirectory } from "../blobs/durable-fs.js";
import type { BlobId } from "../types.js";
import {
  ARCHIVE_FORMAT,
  ARCHIVE_VERSION,
  BackupError,
  BLOBS_PREFIX,
  databaseEntryOf,
  FILES_PREFIX,
  HEADER_ENTRY,
  isSafeEntryPath,
  MANIFEST_ENTRY,
  MANIFEST_SUFFIX,
  manifestBlobs,
  type BackupHeader,
  type BlobLine,
  type ManifestLine,
} from "./format.js";
import { TarWriter } from "./tar.js";
import type { BackupReport, BackupRequest } from "./types.js";
import { baseManifestOf } from "./archive-reader.js";

/**
 * gzip level 1: on mail text and base64 it compresses at ~80 MiB/s to 16% of the size, against
 * ~32 MiB/s (15%) at level 3 and ~21 MiB/s (12%) at the default 6 (node:zlib, one core of the
 * lab machine); a backup is written often and restored rarely, and the rate is what limits it.
 */
const GZIP_LEVEL = 1;
/** A file under a `files/` folder larger than this is not a key or a certificate: refused. */
const MAX_EXTRA_FILE_BYTES = 16 * 1024 * 1024;

export interface SnapshotTaker {
  (destination: string, onProgress: (copied: number, total: number) => void): Promise<BackupSnapshot & { backend?: "postgresql" }>;
}

export async function createBackup(takeSnapshot: SnapshotTaker, request: BackupRequest): Promise<BackupReport> {
  const started = performance.now();
  const file = request.file;
  if (await exists(file)) throw new BackupError(`${file} already exists; a backup never overwrites one (choose a new name)`);
  await access(dirname(file), fsConstants.W_OK).catch((error: NodeJS.ErrnoException) => {
    // Inside a running server the archive is written by the server's user, not the command's.
    const who = typeof process.getuid === "function" ? ` (this process runs as uid ${process.getuid()})` : "";
    throw new BackupError(error.code === "ENOENT" ? `cannot write ${file}: its folder ${dirname(file)} does not exist` : `cannot write into ${dirname(file)}${who}: ${error.message}`);
  });
  const id = randomUUID();
  const partial = `${file}.partial`;
  const snapshotPath = `${file}.snapshot-${process.pid}.sqlite`;
  const manifestTemp = `${file}.manifest-${process.pid}.tmp`;
  const temporary = [partial, snapshotPath, `${snapshotPath}-journal`, manifestTemp];
  let cleanupBase: (() => Promise<void>) | null = null;
  let snapshot: (BackupSnapshot & { backend?: "postgresql" }) | null = null;
  try {
    const base = request.incrementalFrom === null ? null : await baseManifestOf(request.incrementalFrom, `${file}.base-${process.pid}.tmp`);
    cleanupBase = base?.cleanup ?? null;
    snapshot = await takeSnapshot(snapshotPath, (done, total) => request.onProgress?.({ phase: "database", done, total }));
    const header: BackupHeader = {
      format: ARCHIVE_FORMAT,
      version: ARCHIVE_VERSION,
      id,
      created: new Date().toISOString(),
      serverVersion: request.serverVersion,
      schemaVersion: snapshot.schemaVersion,
      backend: snapshot.backend ?? "sqlite",
      base: base ? { id: base.header.id, file: base.archiveName } : null,
    };

    const output = createWriteStream(partial, { flags: "wx", mode: 0o600 });
    const gzip = createGzip({ level: GZIP_LEVEL, chunkSize: 64 * 1024, strategy: zlib.Z_DEFAULT_STRATEGY });
    const written = pipeline(gzip, output);
    // A failure of the file side must not go unhandled while the tar side is still writing.
    written.catch(() => {});
    const tar = new TarWriter(gzip);
    const manifest = new LineWriter(manifestTemp);
    let databaseBytes = 0;
    let storedFiles = 0;
    let storedBytes = 0;
    let extraFiles = 0;
    let messageFiles = 0;
    try {
      const headerBytes = Buffer.from(JSON.stringify(header));
      await tar.addFile(HEADER_ENTRY, headerBytes.length, [headerBytes]);
      await manifest.write(header);

      databaseBytes = (await stat(snapshotPath)).size;
      await manifest.write(await addHashed(tar, databaseEntryOf(header.backend), databaseBytes, createReadStream(snapshotPath)));

      for (const set of request.files) {
        for (const found of await filesUnder(set.dir)) {
          const path = `${FILES_PREFIX}${set.name}/${found.relative}`;
          if (!isSafeEntryPath(path)) throw new BackupError(`cannot archive ${join(set.dir, found.relative)}: unusual characters in its name`);
          if (found.size > MAX_EXTRA_FILE_BYTES) throw new BackupError(`${join(set.dir, found.relative)} is larger than ${MAX_EXTRA_FILE_BYTES} bytes; not a key or certificate`);
          await manifest.write(await addHashed(tar, path, found.size, createReadStream(join(set.dir, found.relative))));
          extraFiles++;
        }
      }

      const baseBlobs = base ? manifestBlobs(base.manifestPath)[Symbol.asyncIterator]() : null;
      let inBase: BlobLine | null = baseBlobs ? ((await baseBlobs.next()).value ?? null) : null;
      let done = 0;
      for await (const blob of snapshot.blobs()) {
        while (baseBlobs && inBase !== null && inBase.blob < blob.id) inBase = (await baseBlobs.next()).value ?? null;
        if (inBase !== null && inBase.blob === blob.id && inBase.size === blob.size) {
          await manifest.write({ blob: blob.id, size: blob.size, in: inBase.in });
        } else {
          await archiveBlob(tar, snapshot, blob.id, blob.size);
          await manifest.write({ blob: blob.id, size: blob.size, in: id });
          storedFiles++;
          storedBytes += blob.size;
        }
        done++;
        // No total up front: a count(*) of a million rows would hold the serving event loop.
        if (done % 100 === 0) request.onProgress?.({ phase: "messages", done, total: null });
      }
      messageFiles = done;
      request.onProgress?.({ phase: "messages", done, total: done });
      // Every file the snapshot refers to is in the archive or the base: the collector may go on.
      snapshot.release();
      await baseBlobs?.return?.(undefined);

      await manifest.close();
      const manifestSize = (await stat(manifestTemp)).size;
      await tar.addFile(MANIFEST_ENTRY, manifestSize, createReadStream(manifestTemp));
      await tar.finish();
      gzip.end();
      await written;
    } catch (error) {
      gzip.destroy();
      output.destroy();
      manifest.destroy();
      throw error;
    }
    await fsyncFile(partial);
    const archiveBytes = (await stat(partial)).size;
    await rename(partial, file);
    const manifestFile = file + MANIFEST_SUFFIX;
    await rename(manifestTemp, manifestFile);
    await fsyncFile(manifestFile);
    await fsyncDirectory(dirname(file));
    return {
      file,
      manifest: manifestFile,
      id,
      base: base?.header.id ?? null,
      schemaVersion: snapshot.schemaVersion,
      databaseBytes,
      messageFiles,
      storedFiles,
      storedBytes,
      extraFiles,
      archiveBytes,
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    snapshot?.release();
    await cleanupBase?.();
    for (const path of temporary) await unlink(path).catch(() => {});
  }
}

/** Archives one entry, hashing it on the way; returns its manifest line. */
async function addHashed(tar: TarWriter, path: string, size: number, source: Readable): Promise<ManifestLine> {
  const hash = createHash("sha256");
  await tar.addFile(path, size, hashing(source, hash));
  return { path, size, sha256: hash.digest("hex") };
}

async function* hashing(source: Readable, hash: ReturnType<typeof createHash>): AsyncGenerator<Buffer> {
  for await (const chunk of source as AsyncIterable<Buffer>) {
    hash.update(chunk);
    yield chunk;
  }
}

async function archiveBlob(tar: TarWriter, snapshot: BackupSnapshot, id: BlobId, size: number): Promise<void> {
  const actual = await snapshot.blobSize(id);
  if (actual === null) throw new BackupError(`message file ${id} is missing from the store (mailroom store check lists what is damaged)`);
  if (actual !== size) throw new BackupError(`message file ${id} has ${actual} bytes, its row records ${size} (mailroom store check lists what is damaged)`);
  const hash = createHash("sha256");
  const checked = async function* (): AsyncGenerator<Buffer> {
    yield* hashing(snapshot.openBlob(id), hash);
    if (hash.digest("hex") !== id) throw new BackupError(`message file ${id} does not hold the bytes its name (SHA-256) says: it is damaged (restore it from an older backup)`);
  };
  await tar.addFile(`${BLOBS_PREFIX}${id}`, size, checked());
}

/** Regular files under `dir` (recursively), with paths relative to it; none when it does not exist. */
async function filesUnder(dir: string): Promise<{ relative: string; size: number }[]> {
  const found: { relative: string; size: number }[] = [];
  const walk = async (at: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(at, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) found.push({ relative: relative(dir, path).split("\\").join("/"), size: (await lstat(path)).size });
    }
  };
  await walk(dir);
  return found;
}

/** JSON lines to a file, waiting for the stream when it is full. */
export class LineWriter {
  private readonly stream: WriteStream;
  private failure: Error | null = null;

  constructor(path: string) {
    this.stream = createWriteStream(path, { flags: "wx", mode: 0o600 });
    this.stream.on("error", (error) => (this.failure ??= error));
  }

  async write(value: unknown): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.stream.write(JSON.stringify(value) + "\n")) return;
    await new Promise<void>((resolve, reject) => {
      this.stream.once("drain", resolve);
      this.stream.once("error", reject);
    });
  }

  private closing: Promise<void> | null = null;

  /** Ends the file; calling it again waits for the same end. */
  async close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve, reject) => this.stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
    await this.closing;
    if (this.failure) throw this.failure;
  }

  destroy(): void {
    this.stream.destroy();
  }
}

export async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

