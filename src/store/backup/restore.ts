// Reading a backup back (docs/architecture.md, "Backup and restore"): `mailroom backup verify`
// and `mailroom restore` are the same walk over the archive and its base chain; verify throws
// the bytes away, restore writes them into an empty data dir.
//
// Checked on the way, each failure naming the entry:
// - gzip's own CRC and every tar header checksum (archive-reader.ts);
// - every message file's SHA-256 against its name, as it streams;
// - the database and extra files against the SHA-256 and size the manifest (last entry) records,
//   and that the manifest lists exactly the entries present;
// - that the message files this archive holds are exactly those its manifest says it holds, and
//   that every file the database refers to is listed (merged in id order: bounded memory);
// - for an incremental backup, each base of the chain (given with --base or found beside the
//   archive by the name its header records) has the id the header names and holds every file
//   the manifest says it holds.
// The database copy is only put in place (renamed to mailroom.sqlite, the file that makes a data
// dir a store) once all of it passed; the caller removes everything else on failure.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { execFile } from "node:child_process";
import { mkdir, open, readdir, rename, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { TarEntry } from "./tar.js";
import { archiveEntries, describeReadError, readArchiveHeader, readEntryWhole } from "./archive-reader.js";
import { FANOUT_FOLDERS } from "../blobs/blob-directory.js";
import { fsyncDirectory } from "../blobs/durable-fs.js";
import { openSnapshotReader, snapshotBlobs } from "../sqlite/backup-snapshot.js";
import { MIGRATIONS } from "../sqlite/schema.js";
import { LineWriter } from "./create.js";
import { dumpBlobs, readDumpHeader } from "./dump-file.js";
import {
  BackupError,
  BLOBS_PREFIX,
  databaseEntryOf,
  FILE_SETS,
  FILES_PREFIX,
  HEADER_ENTRY,
  isBlobLine,
  isBlobName,
  isSafeEntryPath,
  MANIFEST_ENTRY,
  MAX_HEADER_BYTES,
  MAX_MANIFEST_LINE,
  manifestBlobs,
  parseHeader,
  readManifestFile,
  type BackupHeader,
  type BlobLine,
} from "./format.js";

/** Message files fsynced at once when `sync -f` is not available. */
const SYNC_PARALLELISM = 16;
const DATABASE_FILE = "mailroom.sqlite";
const NEWEST_SCHEMA = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);
const RESTORING_SUFFIX = ".restoring";

export interface RestoreTarget {
  /** The empty data dir; the caller holds its owner lock. */
  dataDir: string;
  /** Where each `files/<name>/` folder goes (dkim: the configured key dir); others go under the data dir. */
  fileDirs: Record<string, string>;
}

export interface ReadBackupRequest {
  file: string;
  /** Archives of the base chain named on the command line (--base); others are looked for beside `file`. */
  bases: string[];
  /** Null: verify only. */
  target: RestoreTarget | null;
  /** For the database copy (verify) and the lists compared at the end; the caller removes it. */
  scratchDir: string;
  onProgress?(progress: { phase: "messages"; done: number; total: number | null }): void;
  /**
   * Restore into another store (PostgreSQL, store/postgresql/backup.ts): each message file is
   * handed to this as it is read, verified; the database entry stays at `databasePath` of the
   * report (in scratchDir) for the caller to load. Used with target null.
   */
  blobSink?(id: string, body: AsyncGenerator<Buffer>): Promise<void>;
}

export interface ReadBackupReport {
  header: BackupHeader;
  /** The base chain, newest first (empty for a full backup). */
  chain: { id: string; file: string }[];
  messageFiles: number;
  messageBytes: number;
  databaseBytes: number;
  extraFiles: number;
  archiveBytes: number;
  durationMs: number;
  /** The database copy: in the data dir once restored, else in scratchDir. */
  databasePath: string;
}

interface ScanOutcome {
  header: BackupHeader;
  manifestPath: string;
  /** Entries other than blobs, as hashed: path -> size, sha256. */
  entries: Map<string, { size: number; sha256: string }>;
  blobsRead: number;
  blobBytes: number;
}

/** Where one archive's bytes go while it is scanned. */
interface Sinks {
  /** Sees the header before any other entry; may refuse the archive. */
  header(header: BackupHeader): void;
  database(entry: TarEntry): Promise<void>;
  file(path: string, entry: TarEntry): Promise<void>;
  /** Called for each message file in id order; consumes the entry or not (then it is only hashed). */
  blob(id: string, entry: TarEntry, body: AsyncGenerator<Buffer>): Promise<void>;
}

export async function readBackup(request: ReadBackupRequest): Promise<ReadBackupReport> {
  const started = performance.now();
  const target = request.target;
  let databasePath = target ? join(target.dataDir, DATABASE_FILE + RESTORING_SUFFIX) : join(request.scratchDir, "database.sqlite");
  let progressDone = 0;
  const progress = () => {
    progressDone++;
    if (progressDone % 100 === 0) request.onProgress?.({ phase: "messages", done: progressDone, total: null });
  };
  if (target) {
    for (const folder of ["blobs", "blobs/tmp", ...FANOUT_FOLDERS.map((f) => `blobs/${f}`)]) await mkdir(join(target.dataDir, folder), { recursive: true, mode: 0o700 });
  }
  const writeBlob = async (id: string, body: AsyncGenerator<Buffer>) => {
    if (request.blobSink) return request.blobSink(id, body);
    if (!target) {
      for await (const chunk of body) void chunk;
      return;
    }
    const path = join(target.dataDir, "blobs", id.slice(0, 2), id);
    const handle = await open(path, "wx", 0o600);
    try {
      for await (const chunk of body) await writeAll(handle, chunk);
    } finally {
      await handle.close();
    }
  };

  const top = await scanArchive(request.file, null, request.scratchDir, {
    header: (header) => {
      if (target && header.backend === "postgresql") throw new BackupError(`${request.file} is a backup of a PostgreSQL store: restore it with [store] backend = "postgresql" (into an empty database); mailroom store copy moves a database back to one machine`);
      if (header.backend === "postgresql" && !target) databasePath = join(request.scratchDir, "database.jsonl");
      // A store from a newer Mailroom would be refused when opened: refuse before writing anything.
      if (target && header.backend === "sqlite" && header.schemaVersion > NEWEST_SCHEMA) throw new BackupError(`${request.file} was made by a newer Mailroom (${header.serverVersion}, schema version ${header.schemaVersion}; this one knows up to ${NEWEST_SCHEMA}): restore it with that version or later`);
    },
    database: (entry) => writeFileFrom(entry, databasePath),
    file: async (path, entry) => {
      if (!target) {
        for await (const chunk of entry.body()) void chunk;
        return;
      }
      const [name, ...rest] = path.slice(FILES_PREFIX.length).split("/");
      const dir = target.fileDirs[name!] ?? join(target.dataDir, name!);
      const destination = join(dir, ...rest);
      await mkdir(dirname(destination), { recursive: true, mode: 0o700 });
      await writeFileFrom(entry, destination);
    },
    blob: async (id, _entry, body) => {
      await writeBlob(id, body);
      progress();
    },
  });
  if (!top.entries.has(databaseEntryOf(top.header.backend))) throw new BackupError(`${request.file}: no database in the archive`);

  if (top.header.backend === "postgresql") {
    const dump = await readDumpHeader(databasePath).catch((error: unknown) => {
      throw new BackupError(`${request.file}: the database in the archive cannot be read: ${error instanceof Error ? error.message : String(error)}`);
    });
    if (dump.schemaVersion !== top.header.schemaVersion) throw new BackupError(`${request.file}: the database has schema version ${dump.schemaVersion}, the header says ${top.header.schemaVersion}`);
    await compareBlobListWithManifest(request.file, dumpBlobs(databasePath), top.manifestPath);
  } else await checkSqliteDatabase(request.file, databasePath, top.header, top.manifestPath);

  // The base chain, newest first, each found and of the id its successor names.
  const chain: { id: string; file: string; path: string }[] = [];
  const headersOfGiven = new Map<string, string>();
  for (const path of request.bases) headersOfGiven.set((await readArchiveHeader(path)).id, path);
  for (let base = top.header.base; base !== null; ) {
    // Only a file name is taken from the header, never a path: an archive cannot make us read elsewhere.
    const beside = join(dirname(request.file), basename(base.file));
    const path = headersOfGiven.get(base.id) ?? beside;
    let header: BackupHeader;
    try {
      header = await readArchiveHeader(path);
    } catch (error) {
      throw new BackupError(
        `${request.file} is an incremental backup: its base ${base.id} (${base.file}) is needed; pass it with --base or put it beside (${error instanceof Error ? error.message : String(error)})`,
      );
    }
    if (header.id !== base.id) throw new BackupError(`${path} is backup ${header.id}, not the base ${base.id} that ${request.file} needs; pass the right one with --base`);
    if (chain.some((c) => c.id === header.id) || header.id === top.header.id) throw new BackupError(`${path}: the base chain loops`);
    chain.push({ id: header.id, file: base.file, path });
    base = header.base;
  }
  const known = new Set([top.header.id, ...chain.map((c) => c.id)]);
  let messageFiles = 0;
  let messageBytes = top.blobBytes;
  for await (const line of manifestBlobs(top.manifestPath)) {
    messageFiles++;
    if (!known.has(line.in)) throw new BackupError(`${request.file}: message file ${line.blob} is said to be in backup ${line.in}, which is not in its chain`);
  }

  // Each base gives the files the manifest says it holds: merged in id order with its entries.
  for (const base of chain) {
    const needed = neededFrom(top.manifestPath, base.id);
    let next = await needed.next();
    const missing = (line: BlobLine) => new BackupError(`${base.path} (base ${base.id}) does not hold message file ${line.blob}, which ${request.file} needs from it`);
    await scanArchive(base.path, base.id, request.scratchDir, {
      header: () => {},
      database: async (entry) => {
        for await (const chunk of entry.body()) void chunk;
      },
      file: async (_path, entry) => {
        for await (const chunk of entry.body()) void chunk;
      },
      blob: async (id, _entry, body) => {
        if (!next.done && next.value.blob < id) throw missing(next.value);
        if (!next.done && next.value.blob === id) {
          await writeBlob(id, body);
          messageBytes += next.value.size;
          next = await needed.next();
          progress();
        }
      },
    });
    if (!next.done) throw missing(next.value);
  }

  let extraFiles = 0;
  for (const path of top.entries.keys()) if (path.startsWith(FILES_PREFIX)) extraFiles++;
  const databaseBytes = top.entries.get(databaseEntryOf(top.header.backend))!.size;
  if (target) {
    // The message files are made durable all at once (one syncfs), before the database is put in place.
    await syncMessageFiles(join(target.dataDir, "blobs"));
    for (const folder of FANOUT_FOLDERS) await fsyncDirectory(join(target.dataDir, "blobs", folder));
    await fsyncDirectory(join(target.dataDir, "blobs"));
    await rename(databasePath, join(target.dataDir, DATABASE_FILE));
    await fsyncDirectory(target.dataDir);
  }
  request.onProgress?.({ phase: "messages", done: progressDone, total: progressDone });
  return {
    header: top.header,
    chain: chain.map((c) => ({ id: c.id, file: c.path })),
    messageFiles,
    messageBytes,
    databaseBytes,
    extraFiles,
    archiveBytes: (await stat(request.file)).size + (await Promise.all(chain.map((c) => stat(c.path)))).reduce((sum, s) => sum + s.size, 0),
    durationMs: Math.round(performance.now() - started),
    databasePath: target ? join(target.dataDir, DATABASE_FILE) : databasePath,
  };
}

/** The SQLite copy opens, passes SQLite's check, has the recorded version and refers to exactly the listed files. */
async function checkSqliteDatabase(file: string, databasePath: string, header: BackupHeader, manifestPath: string): Promise<void> {
  // The database must be sound, of the version recorded, and refer to exactly the listed files.
  let reader: ReturnType<typeof openSnapshotReader>;
  try {
    reader = openSnapshotReader(databasePath);
  } catch (error) {
    throw new BackupError(`${file}: the database in the archive cannot be opened: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    const problems = reader.quickCheck();
    if (problems.length > 0) throw new BackupError(`${file}: the database in the archive fails SQLite's check: ${problems.slice(0, 3).join("; ")}`);
    if (reader.schemaVersion !== header.schemaVersion) throw new BackupError(`${file}: the database has schema version ${reader.schemaVersion}, the header says ${header.schemaVersion}`);
  } finally {
    reader.close();
  }
  await compareDatabaseWithManifest(file, databasePath, manifestPath);
}

async function* neededFrom(manifestPath: string, backupId: string): AsyncGenerator<BlobLine> {
  for await (const line of manifestBlobs(manifestPath)) if (line.in === backupId) yield line;
}

/**
 * Reads one archive through: header first, then the database, files, message files (ascending,
 * each hashed against its name) and the manifest last, which must list exactly what was read.
 */
async function scanArchive(file: string, expectId: string | null, scratchDir: string, sinks: Sinks): Promise<ScanOutcome> {
  const cursor = { current: "the start of the archive" };
  let header: BackupHeader | null = null;
  const entries = new Map<string, { size: number; sha256: string }>();
  let previousBlob = "";
  let blobsRead = 0;
  let blobBytes = 0;
  let manifestPath: string | null = null;
  const storedPath = join(scratchDir, `stored-${Math.random().toString(36).slice(2)}.txt`);
  const stored = new LineWriter(storedPath);
  try {
    for await (const entry of archiveEntries(file, cursor)) {
      if (header === null) {
        if (entry.name !== HEADER_ENTRY) throw new BackupError(`${file}: not a Mailroom backup (its first entry is ${entry.name}, not ${HEADER_ENTRY})`);
        header = parseHeader((await readEntryWhole(entry, MAX_HEADER_BYTES)).toString("utf8"), file);
        if (expectId !== null && header.id !== expectId) throw new BackupError(`${file} is backup ${header.id}, not the expected ${expectId}`);
        sinks.header(header);
        continue;
      }
      if (manifestPath !== null) throw new BackupError(`${file}: entry ${entry.name} after the manifest`);
      if (!isSafeEntryPath(entry.name)) throw new BackupError(`${file}: unsafe entry name ${JSON.stringify(entry.name)}`);
      if (entry.name.startsWith(BLOBS_PREFIX)) {
        const id = entry.name.slice(BLOBS_PREFIX.length);
        if (!isBlobName(id)) throw new BackupError(`${file}: entry ${entry.name} is not named by a SHA-256`);
        if (id <= previousBlob) throw new BackupError(`${file}: entry ${entry.name} is out of order`);
        previousBlob = id;
        const hash = createHash("sha256");
        const body = hashed(entry, hash, () => {
          if (hash.digest("hex") !== id) throw new BackupError(`${file}: entry ${entry.name} is damaged: its bytes do not have the SHA-256 its name says`);
        });
        await sinks.blob(id, entry, body);
        // A sink that did not want the bytes still gets them checked.
        for await (const chunk of body) void chunk;
        await stored.write(id);
        blobsRead++;
        blobBytes += entry.size;
        continue;
      }
      if (entry.name === MANIFEST_ENTRY) {
        manifestPath = join(scratchDir, `manifest-${header.id}-${Math.random().toString(36).slice(2)}.jsonl`);
        await writeFileFrom(entry, manifestPath);
        continue;
      }
      const fileSet = entry.name.startsWith(FILES_PREFIX) ? entry.name.slice(FILES_PREFIX.length).split("/")[0]! : null;
      const databaseEntry = databaseEntryOf(header.backend);
      if (entry.name !== databaseEntry && (fileSet === null || !FILE_SETS.includes(fileSet) || entry.name.split("/").length < 3)) throw new BackupError(`${file}: unexpected entry ${entry.name}`);
      if (entries.has(entry.name)) throw new BackupError(`${file}: entry ${entry.name} appears twice`);
      const hash = createHash("sha256");
      const checkedEntry: TarEntry = { name: entry.name, size: entry.size, body: () => hashed(entry, hash, () => {}) };
      if (entry.name === databaseEntry) await sinks.database(checkedEntry);
      else await sinks.file(entry.name, checkedEntry);
      entries.set(entry.name, { size: entry.size, sha256: hash.digest("hex") });
    }
  } catch (error) {
    // Damage met while a sink was reading an entry's bytes surfaces here, not in the reader.
    const described = describeReadError(file, error, cursor.current);
    // gzip checks its CRC only at the very end: when the manifest was read by then, it can name
    // the entry whose bytes the damage changed.
    if (header !== null && manifestPath !== null) {
      await stored.close().catch(() => {});
      const specific = await checkManifest(file, header, manifestPath, entries, storedPath).then(
        () => null,
        (found: unknown) => found,
      );
      if (specific instanceof BackupError && specific.message.startsWith(`${file}: entry `)) throw new BackupError(`${specific.message} (and ${described.message.slice(file.length + 2)})`);
    }
    throw described;
  } finally {
    await stored.close().catch(() => {});
  }
  if (header === null) throw new BackupError(`${file}: the archive is empty`);
  if (manifestPath === null) throw new BackupError(`${file}: the archive has no manifest (${MANIFEST_ENTRY}); it is truncated or not a complete backup`);
  await checkManifest(file, header, manifestPath, entries, storedPath);
  return { header, manifestPath, entries, blobsRead, blobBytes };
}

/** The manifest against what the archive held: same header, same entries and hashes, same own files. */
async function checkManifest(file: string, header: BackupHeader, manifestPath: string, entries: Map<string, { size: number; sha256: string }>, storedPath: string): Promise<void> {
  const listed = new Set<string>();
  const stored = readLines(storedPath);
  let first = true;
  for await (const item of readManifestFile(manifestPath)) {
    if ("header" in item) {
      if (!first || JSON.stringify(item.header) !== JSON.stringify(header)) throw new BackupError(`${file}: the manifest's header differs from the archive's`);
      first = false;
      continue;
    }
    const line = item.line;
    if (isBlobLine(line)) {
      if (line.in !== header.id) continue;
      const next = await stored.next();
      if (next.done || next.value !== line.blob) throw new BackupError(`${file}: the manifest lists message file ${line.blob} in this archive, but the archive does not hold it (entry ${BLOBS_PREFIX}${line.blob} missing)`);
      continue;
    }
    const found = entries.get(line.path);
    if (!found) throw new BackupError(`${file}: the manifest lists ${line.path}, which the archive does not hold`);
    if (found.size !== line.size || found.sha256 !== line.sha256) throw new BackupError(`${file}: entry ${line.path} is damaged: its SHA-256 or size differs from the manifest's`);
    listed.add(line.path);
  }
  const extra = await stored.next();
  if (!extra.done) throw new BackupError(`${file}: entry ${BLOBS_PREFIX}${extra.value} is not in the manifest`);
  for (const path of entries.keys()) if (!listed.has(path)) throw new BackupError(`${file}: entry ${path} is not in the manifest`);
}

/** Every blob id the database refers to is in the manifest with its size, and nothing else is. */
async function compareDatabaseWithManifest(file: string, databasePath: string, manifestPath: string): Promise<void> {
  await compareBlobListWithManifest(file, snapshotBlobs(databasePath), manifestPath);
}

async function compareBlobListWithManifest(file: string, referred: AsyncIterable<{ id: string; size: number }>, manifestPath: string): Promise<void> {
  const listed = manifestBlobs(manifestPath);
  for await (const row of referred) {
    const next = await listed.next();
    if (next.done || next.value.blob > row.id) throw new BackupError(`${file}: the database refers to message file ${row.id}, which the manifest does not list`);
    if (next.value.blob < row.id) throw new BackupError(`${file}: the manifest lists message file ${next.value.blob}, which the database does not refer to`);
    if (next.value.size !== row.size) throw new BackupError(`${file}: message file ${row.id} has size ${next.value.size} in the manifest, ${row.size} in the database`);
  }
  const extra = await listed.next();
  if (!extra.done) throw new BackupError(`${file}: the manifest lists message file ${extra.value.blob}, which the database does not refer to`);
}

async function* readLines(path: string): AsyncGenerator<string> {
  const input = createReadStream(path, { encoding: "utf8" });
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      if (line.length > MAX_MANIFEST_LINE) throw new BackupError(`${path}: line too long`);
      if (line !== "") yield JSON.parse(line) as string;
    }
  } finally {
    input.destroy();
  }
}

async function* hashed(entry: TarEntry, hash: ReturnType<typeof createHash>, atEnd: () => void): AsyncGenerator<Buffer> {
  for await (const chunk of entry.body()) {
    hash.update(chunk);
    yield chunk;
  }
  atEnd();
}

async function writeFileFrom(entry: TarEntry, path: string): Promise<void> {
  const handle = await open(path, "wx", 0o600);
  try {
    for await (const chunk of entry.body()) await writeAll(handle, chunk);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeAll(handle: Awaited<ReturnType<typeof open>>, chunk: Buffer): Promise<void> {
  for (let at = 0; at < chunk.length; ) at += (await handle.write(chunk, at, chunk.length - at)).bytesWritten;
}

/**
 * Makes every restored message file durable. One `sync -f` (syncfs(2) on the data dir's file
 * system) flushes them all at once: fsync per file costs a disk flush each (restore ran at 5 MiB/s
 * on a few thousand messages that way; bench/backup.ts). Where `sync -f` is missing or fails,
 * each file is fsynced, SYNC_PARALLELISM at a time.
 */
async function syncMessageFiles(blobsDir: string): Promise<void> {
  const synced = await new Promise<boolean>((resolve) => execFile("sync", ["-f", blobsDir], { timeout: 10 * 60_000 }, (error) => resolve(error === null)));
  if (synced) return;
  for (const folder of FANOUT_FOLDERS) {
    const names = await readdir(join(blobsDir, folder));
    for (let i = 0; i < names.length; i += SYNC_PARALLELISM) {
      await Promise.all(
        names.slice(i, i + SYNC_PARALLELISM).map(async (name) => {
          const handle = await open(join(blobsDir, folder, name), "r");
          try {
            await handle.sync();
          } finally {
            await handle.close();
          }
        }),
      );
    }
  }
}
