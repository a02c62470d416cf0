// `mailroom restore` and `mailroom backup verify` (docs/architecture.md, "Backup and restore"),
// wired to the configuration: which folders beside the store a backup carries, where a restore
// puts them, the owner lock of the data dir being restored into, and for the PostgreSQL backend
// a restore either of a PostgreSQL backup straight into the database (its table dump and message
// files, store/postgresql/backup.ts), or of an embedded backup through a temporary embedded store
// and `store copy`, with the outbound queue and the DKIM and ACME files moved into the database.
// The other way, a PostgreSQL backup into an empty data dir: its dump is read as the source of
// `store copy` (store/backup/postgresql-dump-source.ts), no PostgreSQL server needed, and the DKIM
// keys and ACME state of its tables become the files an embedded store keeps them in.
import { existsSync, readFileSync } from "node:fs";
import { createPrivateKey } from "node:crypto";
import { mkdir, mkdtemp, open, readdir, readFile, rm, rmdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../config/index.js";
import type { Logger } from "../observability/log.js";
import type { BackupFileSet, QueueStore } from "../store/index.js";
import type { PostgresStore } from "../store/postgresql/postgresql-store.js";
import { BackupError } from "../store/backup/format.js";
import { readArchiveHeader } from "../store/backup/archive-reader.js";
import { readBackup, type ReadBackupReport } from "../store/backup/restore.js";
import { openSqliteStore } from "../store/sqlite/sqlite-store.js";
import { copyStore, copySummary, postgresModules } from "./compose.js";
import { openPostgresDumpSource, type DumpNodeState } from "../store/backup/postgresql-dump-source.js";
import type { CopyReport } from "../store/postgresql/import.js";
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
      if ((await readArchiveHeader(options.file)).backend === "postgresql") {
        const lines = await restorePostgresBackupIntoDataDir(config, log, options, onProgress, scratchDir);
        ok = true;
        return lines;
      }
      const report = await readBackup({ file: options.file, bases: options.bases, target: { dataDir, fileDirs: { dkim: dkimDir } }, scratchDir, onProgress });
      ok = true;
      return [...describe(report), `restore: ${dataDir} now holds the store of backup ${report.header.id}; start the server on it (UIDVALIDITY and UIDs are those of the backup)`];
    }
    if ((await readArchiveHeader(options.file)).backend === "postgresql") {
      const lines = await restorePostgresBackup(config, log, options, onProgress, scratchDir);
      ok = true;
      return lines;
    }
    // An embedded backup: restored beside, then copied (store copy), then its queue and keys.
    const embedded = join(dataDir, "restore-embedded");
    await mkdir(embedded, { mode: 0o700 });
    const keysDir = join(scratchDir, "keys");
    const report = await readBackup({ file: options.file, bases: options.bases, target: { dataDir: embedded, fileDirs: { dkim: join(keysDir, "dkim"), acme: join(keysDir, "acme"), tls: join(dataDir, "tls") } }, scratchDir, onProgress });
    const copied = await copyStore(config, log, { from: embedded, to: config.store.url!, passwordEnv: config.store.passwordEnv, passwordFile: config.store.passwordFile }, () => {});
    const moved = (await moveQueueAndKeys(config, log, embedded, keysDir)).map((line) => `restore: ${line}`);
    await rm(embedded, { recursive: true, force: true });
    ok = true;
    return [...describe(report), ...copied, ...moved, `restore: backup ${report.header.id} is in the PostgreSQL database`];
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

/**
 * A PostgreSQL backup into the (empty, locked) data dir of an embedded store. The archive and its
 * base chain are read through with every check (message files against their SHA-256 names, the
 * dump and manifest against their recorded hashes); the message files go to a folder in the data
 * dir (one file system with the store), then `store copy` from the dump fills the new store and
 * reads every mailbox back against a SHA-256 of its messages (UIDVALIDITY, UIDs, modseqs, flags,
 * dates, bytes). The DKIM keys and ACME account and certificates become files where this backend
 * keeps them. The outbound queue is not carried (the embedded store has no queue import): the
 * restore says how many entries the backup held.
 */
async function restorePostgresBackupIntoDataDir(config: Config, log: Logger, options: ReadBackupOptions, onProgress: Progress, scratchDir: string): Promise<string[]> {
  const dataDir = config.server.dataDir;
  const { PG_MIGRATIONS, copyStore: copyFromSource } = await postgresModules();
  const header = await readArchiveHeader(options.file);
  const newest = PG_MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);
  if (header.schemaVersion > newest) throw new BackupError(`${options.file} was made by a newer Mailroom (${header.serverVersion}, PostgreSQL schema version ${header.schemaVersion}; this one knows up to ${newest}): restore it with that version or later`);
  const blobDir = join(dataDir, "restore-messages");
  await mkdir(blobDir, { mode: 0o700 });
  const report = await readBackup({
    file: options.file,
    bases: options.bases,
    target: null,
    scratchDir,
    onProgress,
    blobSink: async (id, body) => {
      const handle = await open(join(blobDir, id), "wx", 0o600);
      try {
        for await (const chunk of body) for (let at = 0; at < chunk.length; ) at += (await handle.write(chunk, at, chunk.length - at)).bytesWritten;
      } finally {
        await handle.close();
      }
    },
  });
  const source = await openPostgresDumpSource(report.databasePath, blobDir);
  const mimeLimits = { maxDepth: config.limits.mimeMaxDepth, maxParts: config.limits.mimeMaxParts };
  const target = await openSqliteStore({ dataDir, log, mimeLimits });
  let copied: CopyReport;
  try {
    copied = await copyFromSource(source, target, () => {});
  } finally {
    await target.close();
  }
  const files = await writeNodeStateFiles(source.nodeState, dkimDirOf(config), join(dataDir, "acme"));
  await rm(blobDir, { recursive: true, force: true });
  const queued = source.nodeState.queueEntries;
  return [
    ...describe(report),
    ...copied.verified.map((line) => `verified ${line}`),
    `restore: ${copySummary(copied)}`,
    `restore: ${files}`,
    ...(queued > 0 ? [`restore: the backup's ${queued} outbound queue entr${queued === 1 ? "y was" : "ies were"} not restored (an embedded store takes no queue import); deliver them from a PostgreSQL restore of this backup`] : []),
    // Each table whose rows stay behind, so nothing is dropped without a word.
    ...source.notCarried.map((t) => `restore: not carried into the embedded store: ${t.table}, ${t.rows} row(s) (${t.what})`),
    `restore: ${dataDir} now holds the store of PostgreSQL backup ${report.header.id}; start the server on it (UIDVALIDITY and UIDs are those of the backup)`,
  ];
}

const DOMAIN_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
const DKIM_SELECTOR = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/**
 * DKIM keys and ACME state of a PostgreSQL dump, written as mail-auth/dkim-keys.ts and net/acme.ts
 * keep them for an embedded store: <dkim>/<domain>/<selector>.pem with active.json (Ed25519 first,
 * as they sign), <acme>/account.key and <acme>/certificates/<name>.crt|.key. Names come from the
 * archive, so each must be a plain DNS name or selector before it names a file. Returns a summary.
 */
async function writeNodeStateFiles(state: DumpNodeState, dkimDir: string, acmeDir: string): Promise<string> {
  const write = async (path: string, content: string, mode: number): Promise<void> => {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const handle = await open(path, "wx", mode);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
  };
  const byDomain = new Map<string, DumpNodeState["dkimKeys"]>();
  for (const key of state.dkimKeys) {
    if (!DOMAIN_NAME.test(key.domain) || !DKIM_SELECTOR.test(key.selector)) throw new BackupError(`the backup holds a DKIM key with a malformed domain or selector (${JSON.stringify(key.domain)}, ${JSON.stringify(key.selector)})`);
    byDomain.set(key.domain, [...(byDomain.get(key.domain) ?? []), key]);
  }
  for (const [domain, keys] of byDomain) {
    for (const key of keys) await write(join(dkimDir, domain, `${key.selector}.pem`), key.privateKeyPem, 0o600);
    const active = keys.filter((k) => k.active).sort((a, b) => (a.algorithm === b.algorithm ? (a.selector < b.selector ? -1 : 1) : a.algorithm === "ed25519-sha256" ? -1 : 1));
    await write(join(dkimDir, domain, "active.json"), JSON.stringify(active.map(({ selector, algorithm }) => ({ selector, algorithm })), null, 2) + "\n", 0o600);
  }
  if (state.acmeAccountKey !== null) await write(join(acmeDir, "account.key"), state.acmeAccountKey, 0o600);
  for (const certificate of state.acmeCertificates) {
    if (!DOMAIN_NAME.test(certificate.name)) throw new BackupError(`the backup holds an ACME certificate with a malformed name ${JSON.stringify(certificate.name)}`);
    await write(join(acmeDir, "certificates", `${certificate.name}.key`), certificate.keyPem, 0o600);
    await write(join(acmeDir, "certificates", `${certificate.name}.crt`), certificate.certPem, 0o644);
  }
  return `${state.dkimKeys.length} DKIM key(s) of ${byDomain.size} domain(s) and ${state.acmeCertificates.length} ACME certificate(s) written as files`;
}

/**
 * A PostgreSQL backup into the configured database, which must be empty: migrated up to the
 * backup's schema version, the message files stored as they are read and verified, the table
 * dump loaded in one transaction, then migrated to this version. Counts are checked after the
 * load (every table's rows, every message file's size). On failure nothing that was loaded stays.
 */
async function restorePostgresBackup(config: Config, log: Logger, options: ReadBackupOptions, onProgress: Progress, scratchDir: string): Promise<string[]> {
  const { createPool, migratePostgres, PG_MIGRATIONS, redactUrl, restoreBlob, loadDump, removeUnreferencedBlobs, toStoreError } = await postgresModules();
  const header = await readArchiveHeader(options.file);
  const newest = PG_MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);
  if (header.schemaVersion > newest) throw new BackupError(`${options.file} was made by a newer Mailroom (${header.serverVersion}, PostgreSQL schema version ${header.schemaVersion}; this one knows up to ${newest}): restore it with that version or later`);
  const where = redactUrl(config.store.url!);
  const pool = createPool({ url: config.store.url!, passwordEnv: config.store.passwordEnv, passwordFile: config.store.passwordFile, maxConnections: 4, statementTimeoutMs: 0 }, log);
  let loaded = false;
  try {
    const hasSchema = (await pool.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t")).rows[0]?.t ?? null;
    const current = hasSchema === null ? 0 : ((await pool.query<{ v: number | null }>("SELECT max(version) AS v FROM schema_migrations")).rows[0]?.v ?? 0);
    if (current > header.schemaVersion) throw new BackupError(`restore needs an empty database at schema version ${header.schemaVersion} or below, and ${where} is at ${current}: create a new database for the restore`);
    if (current > 0) {
      const used = (await pool.query("SELECT 1 FROM domains UNION ALL SELECT 1 FROM accounts UNION ALL SELECT 1 FROM blob_contents LIMIT 1")).rowCount ?? 0;
      if (used > 0) throw new BackupError(`restore needs an empty database, and ${where} holds domains, accounts or messages`);
    }
    // The tables as the backup's Mailroom had them; the rest of the migrations run after the load.
    await migratePostgres(pool, () => new Date(), PG_MIGRATIONS.filter((m) => m.version <= header.schemaVersion));
    let stored = 0;
    const report = await readBackup({
      file: options.file,
      bases: options.bases,
      target: null,
      scratchDir,
      onProgress,
      blobSink: async (id, body) => {
        await restoreBlob(pool, id, body);
        stored++;
      },
    });
    const rowsLoaded = await loadDump(pool, report.databasePath);
    loaded = true;
    const migrated = await migratePostgres(pool, () => new Date());
    // Read back: every table holds the rows loaded into it, every message file its recorded size.
    for (const [table, count] of rowsLoaded) {
      const found = Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM "${table.replace(/"/g, '""')}"`)).rows[0]!.n);
      if (found !== count) throw new BackupError(`after the load, table ${table} holds ${found} rows; the backup has ${count}`);
    }
    const short = (await pool.query("SELECT b.id FROM blobs b JOIN blob_contents c ON c.hash = b.id WHERE c.size <> b.size OR c.size <> coalesce((SELECT sum(length(data)) FROM blob_chunks k WHERE k.content_id = c.id), 0) LIMIT 1")).rows[0] as { id: string } | undefined;
    if (short) throw new BackupError(`after the load, message file ${short.id} does not have its recorded size`);
    const missing = (await pool.query("SELECT b.id FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM blob_contents c WHERE c.hash = b.id) LIMIT 1")).rows[0] as { id: string } | undefined;
    if (missing) throw new BackupError(`after the load, message file ${missing.id} is missing`);
    const total = [...rowsLoaded.values()].reduce((a, b) => a + b, 0);
    return [
      ...describe(report),
      `restore: ${total} row(s) in ${rowsLoaded.size} table(s) and ${stored} message file(s) loaded into ${where}; counts and sizes read back match${migrated.applied.length > 0 ? `; migrated from schema ${migrated.from} to ${migrated.to}` : ""}`,
      `restore: backup ${report.header.id} is in the PostgreSQL database; start the nodes on it (UIDVALIDITY and UIDs are those of the backup)`,
    ];
  } catch (error) {
    // The dump loads in one transaction; message files stored before a failure are removed.
    if (!loaded) await removeUnreferencedBlobs(pool).catch(() => undefined);
    throw error instanceof BackupError ? error : toStoreError(error);
  } finally {
    await pool.end();
  }
}

/**
 * After an embedded backup was copied into PostgreSQL: its outbound queue (entries still to
 * deliver, with their recipients' states and dates) and its DKIM keys and ACME account and
 * certificates, which the PostgreSQL backend keeps in the database (store/node-state-store.ts).
 */
async function moveQueueAndKeys(config: Config, log: Logger, embeddedDir: string, keysDir: string): Promise<string[]> {
  const { openPostgresStore } = await postgresModules();
  const mimeLimits = { maxDepth: config.limits.mimeMaxDepth, maxParts: config.limits.mimeMaxParts };
  const source = await openSqliteStore({ dataDir: embeddedDir, log, mimeLimits });
  try {
    const target = await openPostgresStore({ url: config.store.url!, passwordEnv: config.store.passwordEnv, passwordFile: config.store.passwordFile, log, mimeLimits, migrate: false });
    try {
      return [await copyQueueAndKeys(source, target, keysDir)];
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/**
 * An embedded store's outbound queue and its key files (`<keysDir>/dkim`, `<keysDir>/acme`, as
 * mail-auth/dkim-keys.ts and net/acme.ts write them) into a PostgreSQL store, where that backend
 * keeps them (restore of an embedded backup, and `store copy` into PostgreSQL). Returns a summary.
 */
export async function copyQueueAndKeys(source: Pick<QueueStore, "listQueue" | "openQueued">, target: PostgresStore, keysDir: string): Promise<string> {
  const { PostgresNodeState } = await postgresModules();
  let entries = 0;
  let keys = 0;
  let certificates = 0;
  for (const entry of await source.listQueue(10_000_000)) {
    const staged = await target.stageMessage(source.openQueued(entry));
    await target.importQueued(entry, staged);
    entries++;
  }
  const state = new PostgresNodeState(target.pool);
  // <domain>/<selector>.pem and active.json: old keys first, then the active set.
  for (const domain of (await entriesOf(join(keysDir, "dkim"))) ?? []) {
    const dir = join(keysDir, "dkim", domain);
    const active = JSON.parse(await readFile(join(dir, "active.json"), "utf8").catch(() => "[]")) as { selector: string }[];
    const all = [];
    for (const name of ((await entriesOf(dir)) ?? []).filter((n) => n.endsWith(".pem"))) {
      const pem = await readFile(join(dir, name), "utf8");
      let type: string | undefined;
      try {
        type = createPrivateKey(pem).asymmetricKeyType;
      } catch (error) {
        throw new BackupError(`DKIM key ${join(dir, name)} is not a private key: ${error instanceof Error ? error.message : String(error)}`);
      }
      all.push({ selector: name.slice(0, -4), algorithm: type === "ed25519" ? ("ed25519-sha256" as const) : ("rsa-sha256" as const), privateKeyPem: pem });
    }
    const isActive = (selector: string) => active.some((a) => a.selector === selector);
    const old = all.filter((k) => !isActive(k.selector));
    if (old.length > 0) await state.saveDkimKeys(domain, old);
    const current = all.filter((k) => isActive(k.selector));
    if (current.length > 0) await state.saveDkimKeys(domain, current);
    keys += all.length;
  }
  // account.key and certificates/<name>.crt + .key.
  const accountKey = await readFile(join(keysDir, "acme", "account.key"), "utf8").catch(() => null);
  if (accountKey !== null) await state.saveAcmeAccountKey(accountKey);
  const certDir = join(keysDir, "acme", "certificates");
  for (const name of ((await entriesOf(certDir)) ?? []).filter((n) => n.endsWith(".crt"))) {
    const certPem = await readFile(join(certDir, name), "utf8");
    const keyPem = await readFile(join(certDir, `${name.slice(0, -4)}.key`), "utf8").catch(() => null);
    if (keyPem === null) continue;
    await state.saveAcmeCertificate(name.slice(0, -4), certPem, keyPem);
    certificates++;
  }
  return `${entries} outbound queue entr${entries === 1 ? "y" : "ies"}, ${keys} DKIM key(s) and ${certificates} ACME certificate(s) moved into the database`;
}
