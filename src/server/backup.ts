// `mailroom restore` and `mailroom backup verify` (docs/architecture.md, "Backup and restore"),
// wired to the configuration: which folders beside the store a backup carries, where a restore
// puts them, the owner lock of the data dir being restored into, and for the PostgreSQL backend
// a restore through a temporary embedded store and `store copy`.
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, rmdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../config/index.js";
import type { Logger } from "../observability/log.js";
import type { BackupFileSet } from "../store/index.js";
import { BackupError } from "../store/backup/format.js";
import { readBackup, type ReadBackupReport } from "../store/backup/restore.js";
import { copyStore } from "./compose.js";
import { acquireOwnerLock } from "./owner-lock.js";

const OWNER_LOCK_FILE = "mailroom.lock";

const dkimDirOf = (config: Config): string => config.outbound.dkimKeyDir ?? join(config.server.dataDir, "dkim");

/** The folders of keys and certificates a backup carries beside the store. */
export function backupFileSets(config: Config): BackupFileSet[] {
  return [
    { name: "dkim", dir: dkimDirOf(config) },
    { name: "acme", dir: join(config.server.dataDir, "acme") },
    { name: "tls", dir: join(config.server.dataDir, "tls") },
  ];
}

let version: string | null = null;
/** Mailroom's version (package.json), recorded in every backup header. */
export function serverVersion(): string {
  if (version !== null) return version;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++, dir = dirname(dir)) {
    const candidate = join(dir, "package.json");
    if (!existsSync(candidate)) continue;
    const parsed = JSON.parse(readFileSync(candidate, "utf8")) as { name?: string; version?: string };
    if (parsed.name === "mailroom" && typeof parsed.version === "string") return (version = parsed.version);
  }
  return (version = "unknown");
}

export interface ReadBackupOptions {
  file: string;
  bases: string[];
}

type Progress = (progress: { phase: "messages"; done: number; total: number | null }) => void;

/** `mailroom backup verify`: the archive and its base chain read through, every check, nothing written but scratch files. */
export async function verifyBackup(options: ReadBackupOptions, onProgress: Progress): Promise<string[]> {
  const scratchDir = await mkdtemp(join(tmpdir(), "mailroom-verify-"));
  try {
    const report = await readBackup({ file: options.file, bases: options.bases, target: null, scratchDir, onProgress });
    return [...describe(report), `backup verify: ${options.file} is complete and every checksum matches`];
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
  }
}

function describe(report: ReadBackupReport): string[] {
  const h = report.header;
  const mb = (report.databaseBytes + report.messageBytes) / (1024 * 1024);
  const seconds = Math.max(report.durationMs, 1) / 1000;
  return [
    `backup ${h.id} of ${h.created} (Mailroom ${h.serverVersion}, schema version ${h.schemaVersion})${h.base ? `, incremental on ${h.base.id}` : ", full"}`,
    ...report.chain.map((c) => `  base ${c.id}: ${c.file}`),
    `${report.messageFiles} message file(s), ${(report.messageBytes / (1024 * 1024)).toFixed(1)} MiB; database ${(report.databaseBytes / (1024 * 1024)).toFixed(1)} MiB; ${report.extraFiles} key/certificate file(s); ${mb.toFixed(1)} MiB in ${seconds.toFixed(1)} s (${(mb / seconds).toFixed(1)} MiB/s)`,
  ];
}

/** What is in a directory, or null when it does not exist. */
async function entriesOf(dir: string): Promise<string[] | null> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/**
 * `mailroom restore <file> [--base B]`: into the configured data dir, which must be empty (or not
 * exist), under its owner lock; with `[store] backend = "postgresql"`, into the configured (empty)
 * database through a temporary embedded store. On any failure everything written is removed.
 */
export async function restoreBackup(config: Config, log: Logger, options: ReadBackupOptions, onProgress: Progress): Promise<string[]> {
  const dataDir = config.server.dataDir;
  const dkimDir = dkimDirOf(config);
  const present = await entriesOf(dataDir);
  if (present !== null && present.length > 0) {
    throw new BackupError(`restore needs an empty data dir, and ${dataDir} is not (it holds ${present.slice(0, 5).join(", ")}${present.length > 5 ? ", ..." : ""}); restore into a new one with --data-dir`);
  }
  const dkimOutside = !dkimDir.startsWith(dataDir + "/");
  const dkimPresent = dkimOutside ? await entriesOf(dkimDir) : null;
  if (dkimPresent !== null && dkimPresent.length > 0) throw new BackupError(`restore needs an empty DKIM key folder (outbound.dkim_key_dir), and ${dkimDir} is not`);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const lock = acquireOwnerLock(dataDir, "restore");
  const scratchDir = await mkdtemp(join(tmpdir(), "mailroom-restore-"));
  let ok = false;
  try {
    if (config.store.backend === "sqlite") {
      const report = await readBackup({ file: options.file, bases: options.bases, target: { dataDir, fileDirs: { dkim: dkimDir } }, scratchDir, onProgress });
      ok = true;
      return [...describe(report), `restore: ${dataDir} now holds the store of backup ${report.header.id}; start the server on it (UIDVALIDITY and UIDs are those of the backup)`];
    }
    // PostgreSQL: the backup is an embedded store; it is restored beside, then copied (store copy).
    const embedded = join(dataDir, "restore-embedded");
    await mkdir(embedded, { mode: 0o700 });
    const report = await readBackup({ file: options.file, bases: options.bases, target: { dataDir: embedded, fileDirs: { dkim: dkimDir, acme: join(dataDir, "acme"), tls: join(dataDir, "tls") } }, scratchDir, onProgress });
    const copied = await copyStore(config, log, { from: embedded, to: config.store.url!, passwordEnv: config.store.passwordEnv, passwordFile: config.store.passwordFile }, () => {});
    await rm(embedded, { recursive: true, force: true });
    ok = true;
    return [...describe(report), ...copied, `restore: backup ${report.header.id} is in the PostgreSQL database (outbound queue entries are not copied by store copy: see docs/architecture.md)`];
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
    if (!ok) {
      // Nothing half-restored may look like a store: everything written goes, the lock file last.
      for (const name of (await entriesOf(dataDir)) ?? []) if (name !== OWNER_LOCK_FILE) await rm(join(dataDir, name), { recursive: true, force: true });
      if (dkimOutside) for (const name of (await entriesOf(dkimDir)) ?? []) await rm(join(dkimDir, name), { recursive: true, force: true });
    }
    lock.release();
    if (!ok) {
      await rm(join(dataDir, OWNER_LOCK_FILE), { force: true });
      if (present === null) await rmdir(dataDir).catch(() => {});
    }
  }
}
