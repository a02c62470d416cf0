// Reading backup archives: the tar entries of a gzip file, with the errors of both layers worded
// for an operator and naming the entry being read when the damage showed; the header of an
// archive (its first entry); and the manifest of a base backup for an incremental one.
import { createReadStream, createWriteStream } from "node:fs";
import { lstat, open, unlink } from "node:fs/promises";
import { basename } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { BackupError, HEADER_ENTRY, MANIFEST_ENTRY, MANIFEST_SUFFIX, MAX_HEADER_BYTES, readManifestFile, parseHeader, type BackupHeader } from "./format.js";
import { readTar, TarFormatError, type TarEntry } from "./tar.js";

/**
 * The entries of a backup archive in order. Errors (a flipped byte caught by gzip or by a tar
 * header checksum, an archive cut short) become BackupErrors naming the file and the entry.
 */
export async function* archiveEntries(path: string, cursor: { current: string } = { current: "the start of the archive" }): AsyncGenerator<TarEntry> {
  const file = createReadStream(path);
  const gunzip = createGunzip();
  file.on("error", (error) => gunzip.destroy(error));
  file.pipe(gunzip);
  try {
    for await (const entry of readTar(gunzip)) {
      cursor.current = `entry ${entry.name}`;
      yield entry;
    }
  } catch (error) {
    throw describeReadError(path, error, cursor.current);
  } finally {
    file.destroy();
    gunzip.destroy();
  }
}

/** Words an error met while reading an archive; BackupErrors raised by our own checks pass through. */
export function describeReadError(path: string, error: unknown, where: string): Error {
  if (error instanceof BackupError) return error;
  if (error instanceof TarFormatError) return new BackupError(`${path}: ${error.message}`);
  const code = (error as NodeJS.ErrnoException)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === "Z_BUF_ERROR" || /unexpected end of file/.test(message)) return new BackupError(`${path}: the archive is truncated (it ends inside ${where})`);
  if (typeof code === "string" && code.startsWith("Z_")) return new BackupError(`${path}: the archive is damaged (gzip: ${message}) at ${where}`);
  if (code === "ENOENT") return new BackupError(`${path}: no such file`);
  return error instanceof Error ? error : new Error(message);
}

export async function readEntryWhole(entry: TarEntry, max: number): Promise<Buffer> {
  if (entry.size > max) throw new BackupError(`${entry.name} is too large (${entry.size} bytes)`);
  const parts: Buffer[] = [];
  for await (const chunk of entry.body()) parts.push(chunk);
  return Buffer.concat(parts);
}

/** The header of an archive: its first entry, read without going further. */
export async function readArchiveHeader(path: string): Promise<BackupHeader> {
  for await (const entry of archiveEntries(path)) {
    if (entry.name !== HEADER_ENTRY) break;
    const bytes = await readEntryWhole(entry, MAX_HEADER_BYTES).catch((error: unknown) => {
      throw describeReadError(path, error, `entry ${HEADER_ENTRY}`);
    });
    return parseHeader(bytes.toString("utf8"), path);
  }
  throw new BackupError(`${path}: not a Mailroom backup (its first entry is not ${HEADER_ENTRY})`);
}

async function isGzip(path: string): Promise<boolean> {
  const handle = await open(path, "r").catch((error: NodeJS.ErrnoException) => {
    throw new BackupError(error.code === "ENOENT" ? `${path}: no such file` : `cannot read ${path}: ${error.message}`);
  });
  try {
    const magic = Buffer.alloc(2);
    await handle.read(magic, 0, 2, 0);
    return magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

async function firstManifestHeader(path: string): Promise<BackupHeader> {
  for await (const item of readManifestFile(path)) {
    if ("header" in item) return item.header;
  }
  throw new BackupError(`${path}: the manifest is empty`);
}

export interface BaseManifest {
  header: BackupHeader;
  manifestPath: string;
  /** The base archive's file name, recorded in the new header so a restore can find it beside. */
  archiveName: string;
  cleanup(): Promise<void>;
}

/**
 * The manifest of the backup an incremental one extends, from `path`: its `.manifest.jsonl`, or
 * an archive (the manifest beside it when there is one and it is this archive's, else the one
 * inside it, copied to `tempPath` by reading the archive through).
 */
export async function baseManifestOf(path: string, tempPath: string): Promise<BaseManifest> {
  const none = async () => {};
  if (!(await isGzip(path))) {
    const header = await firstManifestHeader(path);
    const archiveName = basename(path.endsWith(MANIFEST_SUFFIX) ? path.slice(0, -MANIFEST_SUFFIX.length) : path);
    return { header, manifestPath: path, archiveName, cleanup: none };
  }
  const header = await readArchiveHeader(path);
  const beside = path + MANIFEST_SUFFIX;
  if (await lstat(beside).then(() => true, () => false)) {
    const besideHeader = await firstManifestHeader(beside);
    if (besideHeader.id === header.id) return { header, manifestPath: beside, archiveName: basename(path), cleanup: none };
  }
  const cursor = { current: "the start of the archive" };
  for await (const entry of archiveEntries(path, cursor)) {
    if (entry.name !== MANIFEST_ENTRY) continue;
    await pipeline(entry.body(), createWriteStream(tempPath, { flags: "wx", mode: 0o600 })).catch((error: unknown) => {
      throw describeReadError(path, error, cursor.current);
    });
    const cleanup = () => unlink(tempPath).catch(() => {});
    if ((await firstManifestHeader(tempPath)).id !== header.id) {
      await cleanup();
      throw new BackupError(`${path}: its manifest belongs to another backup`);
    }
    return { header, manifestPath: tempPath, archiveName: basename(path), cleanup };
  }
  throw new BackupError(`${path}: no ${MANIFEST_ENTRY} in the archive`);
}
