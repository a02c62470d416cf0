// The backup archive format (docs/architecture.md, "Backup and restore"): a gzip-compressed tar
// whose entries come in this order:
//
//   mailroom-backup.json   the header: format version, id, time, versions, the base it extends
//   db/mailroom.sqlite     the database snapshot, always whole (SQLite backend), or
//   db/postgresql.jsonl    the PostgreSQL backend's tables as JSON lines, read in one
//                          REPEATABLE READ transaction (store/postgresql/backup.ts)
//   files/<dir>/<name>     DKIM keys, ACME account and certificates, the self-signed TLS pair
//   blobs/<sha256>         the message files, in ascending id order; an incremental backup
//                          holds only those its base chain does not
//   manifest.jsonl         last: the header again, then one line per entry (path, size, sha256)
//                          and one per message file the snapshot refers to (id, size, which
//                          backup of the chain holds it), ascending
//
// The manifest is also written beside the archive (`<archive>.manifest.jsonl`), so an
// incremental backup can start from it without reading the whole previous archive. Lines, not
// one JSON document, so neither side holds a million entries in memory: both lists are sorted
// and compared by merging.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

export const ARCHIVE_FORMAT = "mailroom-backup";
export const ARCHIVE_VERSION = 1;
export const HEADER_ENTRY = "mailroom-backup.json";
export const DATABASE_ENTRY = "db/mailroom.sqlite";
export const POSTGRES_DATABASE_ENTRY = "db/postgresql.jsonl";
/** The database entry of an archive of this backend. */
export const databaseEntryOf = (backend: BackupHeader["backend"]): string => (backend === "postgresql" ? POSTGRES_DATABASE_ENTRY : DATABASE_ENTRY);
export const MANIFEST_ENTRY = "manifest.jsonl";
export const FILES_PREFIX = "files/";
/** The folders a backup may carry under files/: a restore writes nothing else. */
export const FILE_SETS: readonly string[] = ["dkim", "acme", "tls"];
export const BLOBS_PREFIX = "blobs/";
export const MANIFEST_SUFFIX = ".manifest.jsonl";
/** A manifest line is at most this long (a file path and two numbers). */
export const MAX_MANIFEST_LINE = 16 * 1024;
/** The header entry is read whole: it is a few hundred bytes. */
export const MAX_HEADER_BYTES = 64 * 1024;

export class BackupError extends Error {
  override readonly name = "BackupError";
}

export interface BackupHeader {
  format: typeof ARCHIVE_FORMAT;
  version: number;
  /** Random id; an incremental backup names its base by it. */
  id: string;
  created: string;
  serverVersion: string;
  /** The store's schema version at the snapshot (the backend's own migrations). */
  schemaVersion: number;
  backend: "sqlite" | "postgresql";
  /** The backup this one extends (incremental), with the archive's file name when it was made. */
  base: { id: string; file: string } | null;
}

/** A non-blob entry: the database and the extra files. */
export interface FileLine {
  path: string;
  size: number;
  sha256: string;
}

/** A message file the snapshot refers to, and which backup of the chain holds its bytes. */
export interface BlobLine {
  blob: string;
  size: number;
  in: string;
}

export type ManifestLine = FileLine | BlobLine;

const HEX64 = /^[0-9a-f]{64}$/;
const SAFE_PATH = /^[A-Za-z0-9._@+=-]+(\/[A-Za-z0-9._@+=-]+)*$/;

export function parseHeader(text: string, where: string): BackupHeader {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BackupError(`${where}: the backup header is not JSON`);
  }
  const h = value as Partial<BackupHeader>;
  if (h === null || typeof h !== "object" || h.format !== ARCHIVE_FORMAT) throw new BackupError(`${where}: not a Mailroom backup (no ${ARCHIVE_FORMAT} header)`);
  if (h.version !== ARCHIVE_VERSION) throw new BackupError(`${where}: backup format version ${String(h.version)}; this Mailroom reads version ${ARCHIVE_VERSION}`);
  if (typeof h.id !== "string" || typeof h.created !== "string" || typeof h.schemaVersion !== "number" || typeof h.serverVersion !== "string" || (h.backend !== "sqlite" && h.backend !== "postgresql")) {
    throw new BackupError(`${where}: malformed backup header`);
  }
  const base = h.base;
  if (base !== null && (typeof base !== "object" || typeof base?.id !== "string" || typeof base.file !== "string")) throw new BackupError(`${where}: malformed base in the backup header`);
  return h as BackupHeader;
}

/** Checks one manifest line (the header line is checked by parseHeader). */
export function parseManifestLine(text: string, where: string): ManifestLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BackupError(`${where}: a manifest line is not JSON`);
  }
  const line = value as Record<string, unknown>;
  if (line && typeof line.blob === "string") {
    if (!HEX64.test(line.blob) || !Number.isSafeInteger(line.size) || (line.size as number) < 0 || typeof line.in !== "string") throw new BackupError(`${where}: malformed blob line in the manifest`);
    return { blob: line.blob, size: line.size as number, in: line.in };
  }
  if (line && typeof line.path === "string") {
    if (!isSafeEntryPath(line.path) || !Number.isSafeInteger(line.size) || typeof line.sha256 !== "string" || !HEX64.test(line.sha256)) throw new BackupError(`${where}: malformed entry line in the manifest`);
    return { path: line.path, size: line.size as number, sha256: line.sha256 };
  }
  throw new BackupError(`${where}: unknown manifest line`);
}

export const isBlobLine = (line: ManifestLine): line is BlobLine => "blob" in line;

/** Relative, no "..", no odd characters: an archive can never make a restore write outside its target. */
export function isSafeEntryPath(path: string): boolean {
  return SAFE_PATH.test(path) && !path.split("/").some((part) => part === "." || part === "..");
}

export const isBlobName = (id: string): boolean => HEX64.test(id);

/**
 * A manifest read line by line from a file: the header, then the lines. Lines longer than
 * MAX_MANIFEST_LINE are refused (a damaged or hostile manifest never fills the memory).
 */
export async function* readManifestFile(path: string): AsyncGenerator<{ header: BackupHeader } | { line: ManifestLine }> {
  const input = createReadStream(path, { encoding: "utf8" });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let number = 0;
  try {
    for await (const text of lines) {
      number++;
      if (text.length > MAX_MANIFEST_LINE) throw new BackupError(`${path}: manifest line ${number} is too long`);
      if (number === 1) yield { header: parseHeader(text, path) };
      else if (text !== "") yield { line: parseManifestLine(text, `${path} line ${number}`) };
    }
  } finally {
    lines.close();
    input.destroy();
  }
  if (number === 0) throw new BackupError(`${path}: the manifest is empty`);
}

/** Ascending blob ids from a manifest, each with the backup holding it. */
export async function* manifestBlobs(path: string): AsyncGenerator<BlobLine> {
  let previous = "";
  for await (const item of readManifestFile(path)) {
    if (!("line" in item) || !isBlobLine(item.line)) continue;
    if (item.line.blob <= previous) throw new BackupError(`${path}: the manifest's message files are not in ascending order at ${item.line.blob}`);
    previous = item.line.blob;
    yield item.line;
  }
}
