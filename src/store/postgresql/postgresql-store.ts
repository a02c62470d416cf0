// The PostgreSQL backend: MailStore, AccountStore, QueueStore, SieveStore and StoreMaintenance over
// one database that any number of Mailroom nodes share (docs/architecture.md, "PostgreSQL
// backend"). Everything lives in the database, message bytes included (blob-store.ts).
//
// Every mutation is one transaction on a pooled connection, committed with synchronous_commit on
// before the caller is resolved, and published on the ChangeFeed after COMMIT. A mutation of a
// mailbox first locks the mailbox row (UPDATE ... RETURNING of uid_next / highest_modseq, or
// SELECT ... FOR UPDATE), so writers of one mailbox are ordered by that lock on every node: UIDs
// and modseqs become visible in the order they were taken. Locks are taken mailboxes first, then
// accounts; a deadlock PostgreSQL still detects is retried (database.ts).
import { addUsage, quotaSql, type QuotaPolicy, UNLIMITED_QUOTA, type UsageDelta } from "../quota.js";
import { Readable } from "node:stream";
import type pg from "pg";
import { foldCase } from "../../mail/case-fold.js";
import { fuzzyGrams, fuzzyMinOverlap, mergeFuzzy } from "../../mail/fuzzy-match.js";
import { parseHeaderBlock } from "../../mail/header-fields.js";
import { headerSearchEntry, searchableField } from "../../mail/header-search.js";
import { encodeImapItems } from "../imap-items.js";
import { newEmailId, newThreadId, previewOf, threadKeys } from "../object-ids.js";
import type { Envelope } from "../../mail/envelope.js";
import { MimeTreeBuilder, type MimeTreeLimits, type ParsedMessage } from "../../mail/mime-tree.js";
import { SentOctetCounter, sentOctets } from "../../mail/sent-octets.js";
import { decodeStructure, encodeStructure } from "../../mail/stored-structure.js";
import { silentLogger, type Logger } from "../../observability/log.js";
import type { AccountAuthState, AppPassword, AuthStateStore, NewAppPassword } from "../auth-store.js";
import { authColumnValue, checkNewAppPassword, toAccountAuth, toAppPassword } from "../sqlite/auth-state.js";
import type { AccountStore, NewAccount, QuotaLimits } from "../account-store.js";
import { InProcessChangeFeed } from "../change-feed.js";
import type { AccountChange, ChangeBatch, ChangeFeed, MailboxChangesSince } from "../changes.js";
import { StoreError } from "../errors.js";
import type * as api from "../mail-store.js";
import type { SearchIndexCheckOptions, SearchIndexCheckReport, SearchIndexRebuildOptions, SearchIndexRebuildReport, StoreCheckOptions, StoreCheckReport, StoreMaintenance } from "../maintenance.js";
import type { EnqueueRequest, QueuedMessage, QueuePageQuery, QueueStore, RecipientResult, RecordAttemptOptions } from "../queue-store.js";
import type { SieveDuplicateEntry, SieveScript, SieveScriptInfo, SieveStore } from "../sieve-store.js";
import type { MaildropLeaseStore } from "../maildrop-leases.js";
import type { Account, AccountId, Alias, BlobId, ByteRange, Domain, DomainId, Flag, Mailbox, MailboxId, MailboxStatus, MessageSummary, ModSeq, Pop3Policy, SpecialUse, StoredMessage, Uid, UidValidity } from "../types.js";
import { DEFAULT_MAILBOXES, HIERARCHY_DELIMITER, SPECIAL_USES } from "../types.js";
// Backend-neutral rules kept beside the SQLite backend for now (they say so themselves).
import { normaliseDomain, parseAddress } from "../sqlite/addresses.js";
import { checkCount, checkDate, checkEnqueueRequest, checkKeptUids, checkMaxBytes, checkUid32, checkPrefix, checkResults, failedStream } from "../sqlite/checks.js";
import { applyFlagUpdate, hasFlag, normaliseFlags, sameFlags } from "../sqlite/flag-rules.js";
import { INBOX, isWithin, normaliseMailboxName, parentNames } from "../sqlite/mailbox-names.js";
import { BlobMissingError, dropUnreferencedContents, PgBlobStore } from "./blob-store.js";
import { connectionConfig, createPool, one, type PostgresConnectionOptions, rows, type Sql, toStoreError, transaction } from "./database.js";
import * as maintenance from "./maintenance.js";
import * as queue from "./queue.js";
import * as spam from "./spam.js";
import * as tlsReports from "./tls-reports.js";
import * as tlsRptSessions from "./tls-rpt-sessions.js";
import type { TlsRptSessionStore, TlsSessionCount } from "../tls-rpt-session-store.js";
import * as webAuth from "./web-auth.js";
import * as adminHistory from "./admin-history.js";
import type { AdminHistoryStore, DeliveryRecord, DeliveryRecordQuery, MinuteCounts } from "../admin-history-store.js";
import type { AdminUser, ApiToken, CredentialOwner, NewWebAuthnCredential, WebAuthnCredential, WebAuthStore, WebSession } from "../web-auth-store.js";
import type { StoredTlsReport, TlsReport, TlsReportStore } from "../tls-report-store.js";
import * as abuse from "./abuse-state.js";
import type { SharedAbuseStateStore, ThrottleSnapshot } from "../abuse-state-store.js";
import type { GreylistCheck, GreylistDecision, GreylistStore } from "../greylist-store.js";
import type { MigratedMessage, MigrationFolderState, MigrationStateStore } from "../migration-store.js";
import * as migrationState from "./migration-state.js";
import * as metadata from "./metadata.js";
import type { MetadataChange, MetadataEntry, MetadataLimits, MetadataWriteResult } from "../metadata-store.js";
import type { SpamClass, SpamTokenCounts, SpamTokenStore } from "../spam-store.js";
import { ACCOUNT_COLUMNS, type AccountRow, type DomainRow, MAILBOX_COLUMNS, type MailboxRow, type MessageRow, SUMMARY_COLUMNS, toAccount, toAliases, toDomain, toMailbox, toMessageSummary, uidArray } from "./rows.js";
import { migratePostgres } from "./schema.js";
import * as acl from "./acl.js";
import type { AclEntry, SharedMailbox } from "../acl-store.js";
import { PostgresChangeFeed } from "./change-feed.js";
import { PgStagedMessage } from "./staged-message.js";

export interface PostgresStoreOptions extends PostgresConnectionOptions {
  log?: Logger;
  clock?: () => Date;
  changeFeed?: ChangeFeed;
  mimeLimits?: MimeTreeLimits;
  /** Run the migrations at open (default true); `mailroom store migrate` runs them explicitly. */
  migrate?: boolean;
  /** Quota defaults from config [quota] (store/quota.ts); absent: unlimited. */
  quota?: QuotaPolicy;
}

export const DEFAULT_POP3_POLICY: Pop3Policy = { mode: "keep", markSeen: true, loginDelaySeconds: null, expireDays: null };
/** Messages per page of the scan that answers search strings too short for trigrams. */
export const TEXT_SCAN_PAGE = 500;
/** Staged-but-never-delivered bytes and unfinished uploads older than this are a crashed node's: collected. */
const STALE_UPLOAD_MS = 24 * 3600_000;

export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const log = options.log ?? silentLogger;
  const clock = options.clock ?? (() => new Date());
  const pool = createPool(options, log);
  try {
    if (options.migrate !== false) await migratePostgres(pool, clock);
    else await pool.query("SELECT 1");
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw toStoreError(err);
  }
  // Other nodes' changes reach this node's sessions through LISTEN (change-feed.ts), unless the
  // caller brings its own feed (a single process that wants only in-process events).
  const feed = options.changeFeed ?? new PostgresChangeFeed(connectionConfig(options), pool, log);
  if (feed instanceof PostgresChangeFeed) await feed.start();
  return new PostgresStore(pool, { ...options, log, clock, changeFeed: feed });
}

/** One mutation's change events, grouped per account in the order they happened; published after COMMIT. */
class UnitOfWork {
  private readonly byAccount = new Map<AccountId, AccountChange[]>();
  add(accountId: AccountId, change: AccountChange): void {
    let list = this.byAccount.get(accountId);
    if (!list) this.byAccount.set(accountId, (list = []));
    list.push(change);
  }
  batches(): ChangeBatch[] {
    return [...this.byAccount].map(([accountId, changes]) => ({ accountId, changes }));
  }
}

interface PlannedCopy {
  mailboxId: MailboxId;
  flags: Flag[];
  prefix: Buffer;
  /** A UID kept from another server (StagedAppend.uid): at least UIDNEXT. */
  uid?: Uid;
}

function checkQuotaValue(quotaBytes: unknown): number | null {
  if (quotaBytes === null || quotaBytes === undefined) return null;
  if (typeof quotaBytes !== "number" || !Number.isSafeInteger(quotaBytes) || quotaBytes < 0) throw new StoreError("INVALID", "quota must be a non-negative integer or null");
  return quotaBytes;
}

const AUTH_COLUMNS: Record<keyof AccountAuthState, string> = {
  scramSalt: "scram_salt",
  scramIterations: "scram_iterations",
  scramKeys: "scram_keys",
  scramHashTag: "scram_hash_tag",
  appPasswordsOnly: "app_passwords_only",
  totp: "totp",
  lockoutNoticeAt: "lockout_notice_at",
};
const APP_PASSWORD_COLUMNS = "id, account_id, name, protocols, secret_hash, scram_keys, created_at, last_used_at, last_used_address";

/** PostgreSQL gives booleans and bigints (as strings); the shared mapping wants SQLite's numbers. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function normaliseAuthRow(row: any): any {
  if (!row) return undefined;
  return { ...row, app_passwords_only: row.app_passwords_only ? 1 : 0 };
}

function checkPasswordHash(hash: unknown): string {
  if (typeof hash !== "string") throw new StoreError("INVALID", "password hash must be a string");
  return hash;
}

function mergePop3Policy(base: Pop3Policy, change: Partial<Pop3Policy> = {}): Pop3Policy {
  const policy = { ...base, ...change };
  const optionalCount = (n: unknown) => n === null || (typeof n === "number" && Number.isSafeInteger(n) && n >= 0 && n <= 2_147_483_647);
  if ((policy.mode !== "keep" && policy.mode !== "delete-after-retrieve") || typeof policy.markSeen !== "boolean" || !optionalCount(policy.loginDelaySeconds) || !optionalCount(policy.expireDays)) {
    throw new StoreError("INVALID", "invalid POP3 policy");
  }
  return policy;
}

function checkSpecialUse(specialUse: unknown): SpecialUse | null {
  if (specialUse === undefined || specialUse === null) return null;
  if (!SPECIAL_USES.includes(specialUse as SpecialUse)) throw new StoreError("INVALID", `unknown special-use ${JSON.stringify(specialUse)}`);
  return specialUse as SpecialUse;
}

/**
 * What the search index holds for a parsed message: the folded text and how many of its
 * characters (code points, as PostgreSQL's substr counts) come from the top-level header.
 * PostgreSQL text cannot hold NUL; no IMAP search string can contain one either.
 */
export function searchEntry(parsed: Pick<ParsedMessage, "searchText" | "searchTextHeadLength">): { text: string; head: number } {
  const raw = parsed.searchText.replace(/\0/g, " ");
  const headLength = Math.min(parsed.searchTextHeadLength ?? raw.length, raw.length);
  const head = foldCase(raw.slice(0, headLength));
  return { text: head + foldCase(raw.slice(headLength)), head: [...head].length };
}

const likePattern = (needle: string): string => `%${needle.replace(/[\\%_]/g, "\\$&")}%`;

/** The database's clock in epoch ms: every node compares lease times against this one clock. */
const DB_NOW_MS = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

export class PostgresStore implements api.MailStore, AccountStore, QueueStore, SieveStore, StoreMaintenance, MaildropLeaseStore, SpamTokenStore, GreylistStore, TlsReportStore, TlsRptSessionStore, WebAuthStore, AdminHistoryStore, SharedAbuseStateStore, MigrationStateStore, AuthStateStore {
  readonly changes: ChangeFeed;
  readonly blobs: PgBlobStore;
  private readonly log: Logger;
  private readonly clock: () => Date;
  private readonly mimeLimits: MimeTreeLimits;
  private readonly quota: QuotaPolicy;
  private readonly inflight = new Set<Promise<unknown>>();
  private closing = false;
  private closed: Promise<void> | null = null;
  private collectorTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly pool: pg.Pool,
    options: PostgresStoreOptions & { log: Logger; clock: () => Date },
  ) {
    this.log = options.log;
    this.clock = options.clock;
    this.changes = options.changeFeed ?? new InProcessChangeFeed();
    this.mimeLimits = options.mimeLimits ?? {};
    this.quota = options.quota ?? UNLIMITED_QUOTA;
    this.blobs = new PgBlobStore(pool, this.clock);
  }

  // Plumbing ----------------------------------------------------------------------------------

  private track<T>(run: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new StoreError("UNAVAILABLE", "store is closed"));
    const promise = (async () => {
      try {
        return await run();
      } catch (err) {
        throw toStoreError(err);
      }
    })();
    this.inflight.add(promise);
    const forget = () => this.inflight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  private read<T>(query: (db: Sql) => Promise<T>): Promise<T> {
    return this.track(() => query(this.pool));
  }

  /** A consistent view over several statements (SELECT needs its parts to agree). */
  private snapshot<T>(query: (db: Sql) => Promise<T>): Promise<T> {
    return this.track(() => transaction(this.pool, query, { isolation: "repeatable read", readOnly: true }));
  }

  /**
   * One transaction, its events published after COMMIT in commit order. Commit order is what the
   * row locks make it: a transaction takes its ticket right before COMMIT, with its locks held,
   * so of two that touch one mailbox the second cannot take its ticket before the first has
   * committed. COMMIT replies arrive on different connections in any order; events wait for every
   * lower ticket to settle, and the mutation resolves once its own are published.
   */
  private async mutate<T>(body: (db: pg.PoolClient, unit: UnitOfWork) => Promise<T>): Promise<T> {
    let unit = new UnitOfWork();
    let ticket = -1;
    const feed = this.changes instanceof PostgresChangeFeed ? this.changes : null;
    let notice: Awaited<ReturnType<PostgresChangeFeed["notify"]>> = null;
    let result: T;
    try {
      result = await transaction(
        this.pool,
        async (client) => {
          unit = new UnitOfWork(); // a retried transaction starts with no events
          notice?.cancel();
          notice = null;
          const value = await body(client, unit);
          const batches = unit.batches();
          // Sent to every node (this one too) at COMMIT, in commit order.
          if (feed && batches.length > 0) notice = await feed.notify(client, batches);
          return value;
        },
        {
          beforeCommit: () => {
            ticket = this.nextTicket++;
          },
          commitFailed: () => void this.settle(ticket, []),
        },
      );
    } catch (err) {
      (notice as { cancel(): void } | null)?.cancel();
      throw err;
    }
    // Other nodes publish it when the notification reaches them. This node publishes its own events
    // itself, in ticket order, once its COMMIT has returned: only then is the change visible to every
    // new snapshot; a notification can reach the listener a moment earlier, and a subscriber that
    // reads the store from inside its callback would not yet see what it was told about.
    if (notice) await (notice as { seen: Promise<boolean> }).seen;
    await this.settle(ticket, unit.batches());
    return result;
  }

  private nextTicket = 0;
  private nextToPublish = 0;
  private readonly settled = new Map<number, { batches: ChangeBatch[]; published: () => void }>();

  private settle(ticket: number, batches: ChangeBatch[]): Promise<void> {
    return new Promise((published) => {
      this.settled.set(ticket, { batches, published });
      for (let next = this.settled.get(this.nextToPublish); next; next = this.settled.get(this.nextToPublish)) {
        this.settled.delete(this.nextToPublish++);
        for (const batch of next.batches) this.changes.publish(batch);
        next.published();
      }
    });
  }

  private write<T>(body: (db: pg.PoolClient, unit: UnitOfWork) => Promise<T>): Promise<T> {
    return this.track(() => this.mutate(body));
  }

  /**
   * Periodic clean-up of what crashed nodes leave (blob-store.ts collect). Only serving processes
   * run it; every node may, at once.
   */
  startCollector(intervalMs = 10 * 60_000): void {
    if (this.closing || this.collectorTimer) return;
    const tick = () => {
      void this.track(() => this.blobs.collect(STALE_UPLOAD_MS)).then(
        (r) => {
          if (r.uploads + r.pins + r.contents > 0) this.log.info("store.blob_collect", r);
        },
        (err) => this.log.warn("store.blob_collect_failed", { error: (err as Error).message }),
      );
    };
    this.collectorTimer = setInterval(tick, intervalMs);
    this.collectorTimer.unref();
    tick();
  }

  /** Removes leftovers now (tests: "nothing left behind"), with no minimum age. */
  collectGarbage(): Promise<{ uploads: number; pins: number; contents: number }> {
    return this.track(() => this.blobs.collect(0));
  }

  async close(): Promise<void> {
    if (this.closed) return this.closed;
    this.closing = true;
    if (this.collectorTimer) clearInterval(this.collectorTimer);
    this.closed = (async () => {
      await Promise.allSettled([...this.inflight]);
      if (this.changes instanceof PostgresChangeFeed) await this.changes.stop();
      await this.pool.end();
    })();
    return this.closed;
  }

  // AccountStore: domains and aliases -------------------------------------------------------------

  addDomain(rawName: string): Promise<Domain> {
    return this.write(async (db) => {
      const name = normaliseDomain(rawName);
      const row = await one<DomainRow>(db, "INSERT INTO domains (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id, name, created_at", [name, this.clock().getTime()]);
      if (!row) throw new StoreError("ALREADYEXISTS", `domain ${name} already exists`);
      return toDomain(row);
    });
  }

  listDomains(): Promise<Domain[]> {
    return this.read(async (db) => (await rows<DomainRow>(db, "SELECT id, name, created_at FROM domains ORDER BY name")).map(toDomain));
  }

  private async requireDomainId(db: Sql, name: string): Promise<DomainId> {
    const row = await one<{ id: number }>(db, "SELECT id FROM domains WHERE name = $1", [name]);
    if (!row) throw new StoreError("NONEXISTENT", `${name} is not a local domain`);
    return row.id as DomainId;
  }

  deleteDomain(rawName: string): Promise<void> {
    return this.write(async (db) => {
      const name = normaliseDomain(rawName);
      // FOR UPDATE: an account being created in the domain meanwhile waits, then finds it gone.
      const row = await one<{ id: number }>(db, "SELECT id FROM domains WHERE name = $1 FOR UPDATE", [name]);
      if (!row) throw new StoreError("NONEXISTENT", `${name} is not a local domain`);
      const inUse = await one(db, "SELECT 1 FROM accounts WHERE domain_id = $1 UNION ALL SELECT 1 FROM aliases WHERE domain_id = $1 LIMIT 1", [row.id]);
      if (inUse) throw new StoreError("HASACCOUNTS", `domain ${name} still has accounts or aliases`);
      await db.query("DELETE FROM domains WHERE id = $1", [row.id]);
    });
  }

  isLocalDomain(rawName: string): Promise<boolean> {
    return this.read(async (db) => {
      let name: string;
      try {
        name = normaliseDomain(rawName);
      } catch {
        return false;
      }
      return (await one(db, "SELECT 1 FROM domains WHERE name = $1", [name])) !== undefined;
    });
  }

  addAlias(rawAddress: string, targets: string[]): Promise<Alias> {
    return this.write(async (db) => {
      const alias = parseAddress(rawAddress, { allowCatchAll: true });
      const domainId = await this.requireDomainId(db, alias.domain);
      if (!Array.isArray(targets) || targets.length === 0) throw new StoreError("INVALID", "an alias needs at least one target");
      const parsed = targets.map((t) => parseAddress(t));
      // Serialises concurrent additions to one alias (positions), on any node.
      await db.query("SELECT pg_advisory_xact_lock(hashtextextended('alias:' || $1, 0))", [alias.key]);
      const existing = await one<{ address: string; position: number }>(db, "SELECT min(address) AS address, max(position) AS position FROM aliases WHERE address_key = $1 HAVING count(*) > 0", [alias.key]);
      let position = existing?.position ?? 0;
      for (const target of parsed) {
        await db.query(
          "INSERT INTO aliases (address_key, address, domain_id, target, target_key, position) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
          [alias.key, existing?.address ?? alias.address, domainId, target.address, target.key, ++position],
        );
      }
      return (await this.findAliasIn(db, alias.key))!;
    });
  }

  deleteAlias(rawAddress: string, targets?: string[]): Promise<void> {
    return this.write(async (db) => {
      const alias = parseAddress(rawAddress, { allowCatchAll: true });
      if (!(await one(db, "SELECT 1 FROM aliases WHERE address_key = $1", [alias.key]))) throw new StoreError("NONEXISTENT", `no alias ${alias.address}`);
      if (targets === undefined) {
        await db.query("DELETE FROM aliases WHERE address_key = $1", [alias.key]);
        return;
      }
      const keys = targets.map((t) => parseAddress(t).key);
      await db.query("DELETE FROM aliases WHERE address_key = $1 AND target_key = ANY($2::text[])", [alias.key, keys]);
    });
  }

  listAliases(rawDomain?: string): Promise<Alias[]> {
    return this.read(async (db) => {
      const list =
        rawDomain === undefined
          ? await rows<{ address: string; target: string }>(db, "SELECT address, target FROM aliases ORDER BY address_key, position")
          : await rows<{ address: string; target: string }>(db, "SELECT a.address, a.target FROM aliases a JOIN domains d ON d.id = a.domain_id WHERE d.name = $1 ORDER BY a.address_key, a.position", [normaliseDomain(rawDomain)]);
      return toAliases(list);
    });
  }

  findAlias(rawAddress: string): Promise<Alias | null> {
    return this.read(async (db) => {
      let key: string;
      try {
        key = parseAddress(rawAddress, { allowCatchAll: true }).key;
      } catch {
        return null;
      }
      return this.findAliasIn(db, key);
    });
  }

  private async findAliasIn(db: Sql, key: string): Promise<Alias | null> {
    const list = await rows<{ address: string; target: string }>(db, "SELECT address, target FROM aliases WHERE address_key = $1 ORDER BY position", [key]);
    return toAliases(list)[0] ?? null;
  }

  // AccountStore: accounts -----------------------------------------------------------------------

  private async accountById(db: Sql, id: AccountId): Promise<Account | null> {
    if (!Number.isSafeInteger(id)) return null;
    const row = await one<AccountRow>(db, `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`, [id]);
    return row ? toAccount(row, this.quota) : null;
  }

  private async accountByAddress(db: Sql, rawAddress: string): Promise<Account | null> {
    let key: string;
    try {
      key = parseAddress(rawAddress).key;
    } catch {
      return null;
    }
    const row = await one<AccountRow>(db, `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE address_key = $1`, [key]);
    return row ? toAccount(row, this.quota) : null;
  }

  private async requireAccount(db: Sql, rawAddress: string): Promise<Account> {
    const account = await this.accountByAddress(db, rawAddress);
    if (!account) throw new StoreError("NONEXISTENT", `no account ${String(rawAddress)}`);
    return account;
  }

  getAccount(id: AccountId): Promise<Account | null> {
    return this.read((db) => this.accountById(db, id));
  }
  findAccountByAddress(address: string): Promise<Account | null> {
    return this.read((db) => this.accountByAddress(db, address));
  }

  listAccounts(rawDomain?: string): Promise<Account[]> {
    return this.read(async (db) => {
      const list =
        rawDomain === undefined
          ? await rows<AccountRow>(db, `SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY address_key`)
          : await rows<AccountRow>(db, `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE domain_id = (SELECT id FROM domains WHERE name = $1) ORDER BY address_key`, [normaliseDomain(rawDomain)]);
      return list.map((row) => toAccount(row, this.quota));
    });
  }

  /** As SQLite's (store/sqlite/accounts.ts listAccountsPage): LIKE with its wildcards escaped. */
  listAccountsPage(query: { domain?: string; search?: string; offset: number; limit: number }): Promise<{ total: number; items: Account[] }> {
    return this.read(async (db) => {
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (query.domain !== undefined) {
        params.push(normaliseDomain(query.domain));
        where.push(`domain_id = (SELECT id FROM domains WHERE name = $${params.length})`);
      }
      if (query.search !== undefined && query.search !== "") {
        params.push(`%${query.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
        where.push(`address_key LIKE $${params.length} ESCAPE '\\'`);
      }
      const filter = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
      const total = Number((await rows<{ n: string }>(db, `SELECT count(*) AS n FROM accounts ${filter}`, params))[0]!.n);
      const list = await rows<AccountRow>(db, `SELECT ${ACCOUNT_COLUMNS} FROM accounts ${filter} ORDER BY address_key LIMIT $${params.length + 1} OFFSET $${params.length + 2}`, [...params, query.limit, query.offset]);
      return { total, items: list.map((row) => toAccount(row, this.quota)) };
    });
  }

  createAccount(account: NewAccount): Promise<Account> {
    return this.write(async (db, unit) => {
      const address = parseAddress(account?.address);
      const passwordHash = checkPasswordHash(account.passwordHash);
      const quota = checkQuotaValue(account.quotaBytes);
      const pop3 = mergePop3Policy(DEFAULT_POP3_POLICY, account.pop3);
      // FOR SHARE: the domain cannot be deleted under the new account.
      const domain = await one<{ id: number }>(db, "SELECT id FROM domains WHERE name = $1 FOR SHARE", [address.domain]);
      if (!domain) throw new StoreError("NONEXISTENT", `${address.domain} is not a local domain`);
      const row = await one<{ id: number }>(
        db,
        `INSERT INTO accounts (domain_id, address, address_key, password_hash, quota_bytes, pop3_mode, pop3_mark_seen, pop3_login_delay, pop3_expire_days, created_at, quota_messages)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (address_key) DO NOTHING RETURNING id`,
        [domain.id, address.address, address.key, passwordHash, quota, pop3.mode, pop3.markSeen, pop3.loginDelaySeconds, pop3.expireDays, this.clock().getTime(), checkQuotaValue(account.quotaMessages)],
      );
      if (!row) throw new StoreError("ALREADYEXISTS", `account ${address.address} already exists`);
      const id = row.id as AccountId;
      for (const mailbox of DEFAULT_MAILBOXES) await this.createMailboxIn(db, unit, id, mailbox.name, { specialUse: mailbox.specialUse, subscribed: true });
      return (await this.accountById(db, id))!;
    });
  }

  setPasswordHash(address: string, passwordHash: string): Promise<void> {
    return this.write(async (db) => {
      const account = await this.requireAccount(db, address);
      await db.query("UPDATE accounts SET password_hash = $1 WHERE id = $2", [checkPasswordHash(passwordHash), account.id]);
    });
  }

  // --- AuthStateStore (store/auth-store.ts; the row mapping is shared with SQLite's auth-state.ts) ---
  getAccountAuth(accountId: AccountId): Promise<AccountAuthState> {
    return this.read(async (db) => toAccountAuth(normaliseAuthRow((await db.query("SELECT * FROM account_auth WHERE account_id = $1", [accountId])).rows[0])));
  }

  updateAccountAuth(accountId: AccountId, change: Partial<AccountAuthState>, expectTotp?: string | null): Promise<boolean> {
    return this.write(async (db) => {
      if ((await db.query("SELECT 1 FROM accounts WHERE id = $1", [accountId])).rowCount === 0) throw new StoreError("NONEXISTENT", `no account ${accountId}`);
      await db.query("INSERT INTO account_auth (account_id) VALUES ($1) ON CONFLICT DO NOTHING", [accountId]);
      const current = (await db.query<{ totp: string | null }>("SELECT totp FROM account_auth WHERE account_id = $1 FOR UPDATE", [accountId])).rows[0];
      if (expectTotp !== undefined && (current?.totp ?? null) !== expectTotp) return false;
      for (const [key, value] of Object.entries(change) as [keyof AccountAuthState, unknown][]) {
        const column = AUTH_COLUMNS[key];
        if (column === undefined) continue;
        const stored = key === "appPasswordsOnly" ? Boolean(value) : authColumnValue(key, value);
        await db.query(`UPDATE account_auth SET ${column} = $1 WHERE account_id = $2`, [stored, accountId]);
      }
      return true;
    });
  }

  ensureScramParams(accountId: AccountId, salt: string, iterations: number): Promise<{ salt: string; iterations: number }> {
    return this.write(async (db) => {
      if ((await db.query("SELECT 1 FROM accounts WHERE id = $1", [accountId])).rowCount === 0) throw new StoreError("NONEXISTENT", `no account ${accountId}`);
      await db.query("INSERT INTO account_auth (account_id) VALUES ($1) ON CONFLICT DO NOTHING", [accountId]);
      await db.query("UPDATE account_auth SET scram_salt = $1, scram_iterations = $2 WHERE account_id = $3 AND scram_salt IS NULL", [salt, authColumnValue("scramIterations", iterations), accountId]);
      const row = (await db.query<{ scram_salt: string; scram_iterations: number }>("SELECT scram_salt, scram_iterations FROM account_auth WHERE account_id = $1", [accountId])).rows[0]!;
      return { salt: row.scram_salt, iterations: Number(row.scram_iterations) };
    });
  }

  addAppPassword(accountId: AccountId, input: NewAppPassword): Promise<AppPassword> {
    return this.write(async (db) => {
      checkNewAppPassword(input);
      if ((await db.query("SELECT 1 FROM accounts WHERE id = $1", [accountId])).rowCount === 0) throw new StoreError("NONEXISTENT", `no account ${accountId}`);
      const row = (
        await db.query(
          `INSERT INTO app_passwords (account_id, name, protocols, secret_hash, scram_keys, created_at) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (account_id, name) DO NOTHING RETURNING ${APP_PASSWORD_COLUMNS}`,
          [accountId, input.name, input.protocols.join(","), input.secretHash, input.scramKeys, (input.createdAt ?? this.clock()).getTime()],
        )
      ).rows[0];
      if (!row) throw new StoreError("ALREADYEXISTS", `an app password named ${input.name} exists`);
      return toAppPassword(row);
    });
  }

  listAppPasswords(accountId: AccountId): Promise<AppPassword[]> {
    return this.read(async (db) => (await db.query(`SELECT ${APP_PASSWORD_COLUMNS} FROM app_passwords WHERE account_id = $1 ORDER BY name COLLATE "C"`, [accountId])).rows.map(toAppPassword));
  }

  deleteAppPassword(accountId: AccountId, name: string): Promise<AppPassword | null> {
    return this.write(async (db) => {
      const row = (await db.query(`DELETE FROM app_passwords WHERE account_id = $1 AND name = $2 RETURNING ${APP_PASSWORD_COLUMNS}`, [accountId, name])).rows[0];
      return row ? toAppPassword(row) : null;
    });
  }

  findAppPasswordBySecret(secretHash: string): Promise<AppPassword | null> {
    return this.read(async (db) => {
      const row = (await db.query(`SELECT ${APP_PASSWORD_COLUMNS} FROM app_passwords WHERE secret_hash = $1`, [secretHash])).rows[0];
      return row ? toAppPassword(row) : null;
    });
  }

  noteAppPasswordUse(id: number, at: Date, address: string): Promise<void> {
    return this.write(async (db) => {
      await db.query("UPDATE app_passwords SET last_used_at = $1, last_used_address = $2 WHERE id = $3", [at.getTime(), address.slice(0, 100), id]);
    });
  }

  scramIterationCounts(): Promise<{ iterations: number; accounts: number }[]> {
    return this.read(async (db) =>
      (await db.query<{ iterations: number; accounts: string }>("SELECT scram_iterations AS iterations, count(*) AS accounts FROM account_auth WHERE scram_salt IS NOT NULL AND scram_iterations IS NOT NULL GROUP BY scram_iterations ORDER BY accounts DESC, iterations")).rows.map((r) => ({ iterations: Number(r.iterations), accounts: Number(r.accounts) })),
    );
  }

  setQuota(address: string, quotaBytes: number | null): Promise<void> {
    return this.write(async (db) => {
      const account = await this.requireAccount(db, address);
      await db.query("UPDATE accounts SET quota_bytes = $1 WHERE id = $2", [checkQuotaValue(quotaBytes), account.id]);
      await this.rearmQuotaWarning(db, account.id);
    });
  }

  setQuotaLimits(address: string, limits: QuotaLimits): Promise<Account> {
    return this.write(async (db) => {
      const account = await this.requireAccount(db, address);
      if (limits.storageBytes !== undefined) await db.query("UPDATE accounts SET quota_bytes = $1 WHERE id = $2", [checkQuotaValue(limits.storageBytes), account.id]);
      if (limits.messages !== undefined) await db.query("UPDATE accounts SET quota_messages = $1 WHERE id = $2", [checkQuotaValue(limits.messages), account.id]);
      await this.rearmQuotaWarning(db, account.id);
      return (await this.accountById(db, account.id))!;
    });
  }

  claimQuotaWarning(accountId: AccountId): Promise<Account | null> {
    return this.write(async (db) => {
      const claimed = await db.query(`UPDATE accounts SET quota_warned = true WHERE id = $1 AND NOT quota_warned AND ${quotaSql(this.quota).atWarning}`, [accountId]);
      return (claimed.rowCount ?? 0) > 0 ? this.accountById(db, accountId) : null;
    });
  }

  /** As SQLite's accounts.ts rearmQuotaWarning: below the threshold again, the next crossing warns again. */
  private async rearmQuotaWarning(db: Sql, accountId: AccountId): Promise<void> {
    await db.query(`UPDATE accounts SET quota_warned = false WHERE id = $1 AND quota_warned AND NOT ${quotaSql(this.quota).atWarning}`, [accountId]);
  }

  setPop3Policy(address: string, change: Partial<Pop3Policy>): Promise<Account> {
    return this.write(async (db) => {
      const account = await this.requireAccount(db, address);
      const pop3 = mergePop3Policy(account.pop3, change);
      await db.query("UPDATE accounts SET pop3_mode = $1, pop3_mark_seen = $2, pop3_login_delay = $3, pop3_expire_days = $4 WHERE id = $5", [pop3.mode, pop3.markSeen, pop3.loginDelaySeconds, pop3.expireDays, account.id]);
      return (await this.accountById(db, account.id))!;
    });
  }

  deleteAccount(address: string): Promise<void> {
    return this.write(async (db, unit) => {
      const account = await this.requireAccount(db, address);
      const list = (await this.mailboxesOf(db, account.id)).sort((a, b) => a.id - b.id);
      // Mailbox rows locked in id order, as every other writer takes them.
      await db.query("SELECT 1 FROM mailboxes WHERE account_id = $1 ORDER BY id FOR UPDATE", [account.id]);
      for (const mailbox of list.sort((a, b) => b.name.length - a.name.length)) await this.removeMailbox(db, unit, mailbox);
      await db.query("DELETE FROM subscriptions WHERE account_id = $1", [account.id]);
      await db.query("DELETE FROM aliases WHERE target_key = $1", [account.address.toLowerCase()]);
      await db.query("DELETE FROM accounts WHERE id = $1", [account.id]);
    });
  }

  // Mailboxes ------------------------------------------------------------------------------------

  private async mailboxesOf(db: Sql, accountId: AccountId): Promise<Mailbox[]> {
    return (await rows<MailboxRow>(db, `SELECT ${MAILBOX_COLUMNS} FROM mailboxes m WHERE m.account_id = $1 ORDER BY m.id`, [accountId])).map(toMailbox);
  }

  private async mailboxByName(db: Sql, accountId: AccountId, name: string): Promise<Mailbox | null> {
    const row = await one<MailboxRow>(db, `SELECT ${MAILBOX_COLUMNS} FROM mailboxes m WHERE m.account_id = $1 AND m.name = $2`, [accountId, name]);
    return row ? toMailbox(row) : null;
  }

  private async mailboxById(db: Sql, mailboxId: MailboxId, forUpdate = false): Promise<Mailbox | null> {
    if (!Number.isSafeInteger(mailboxId)) return null;
    const row = await one<MailboxRow>(db, `SELECT ${MAILBOX_COLUMNS} FROM mailboxes m WHERE m.id = $1${forUpdate ? " FOR UPDATE OF m" : ""}`, [mailboxId]);
    return row ? toMailbox(row) : null;
  }

  private async requireMailbox(db: Sql, mailboxId: MailboxId, forUpdate = false): Promise<Mailbox> {
    const mailbox = await this.mailboxById(db, mailboxId, forUpdate);
    if (!mailbox) throw new StoreError("NONEXISTENT", "no such mailbox");
    return mailbox;
  }

  private async requireAccountId(db: Sql, accountId: AccountId): Promise<void> {
    if (!Number.isSafeInteger(accountId) || !(await one(db, "SELECT 1 FROM accounts WHERE id = $1", [accountId]))) throw new StoreError("NONEXISTENT", "no such account");
  }

  /**
   * A UIDVALIDITY never handed out before in this database: the current time in seconds, or one
   * more than the last one. One statement on the counter row, so two nodes never get the same.
   */
  private async nextUidValidity(db: Sql): Promise<UidValidity> {
    const seconds = Math.floor(this.clock().getTime() / 1000);
    const row = await one<{ value: number }>(
      db,
      `INSERT INTO store_counters (name, value) VALUES ('uid_validity', $1)
       ON CONFLICT (name) DO UPDATE SET value = greatest(excluded.value, store_counters.value + 1) RETURNING value`,
      [seconds],
    );
    return (row!.value % 0x100000000 || 1) as UidValidity;
  }

  private async insertMailbox(db: Sql, unit: UnitOfWork, accountId: AccountId, name: string, specialUse: SpecialUse | null, kept?: number): Promise<MailboxId> {
    const uidValidity = kept ?? (await this.nextUidValidity(db));
    const row = await one<{ id: number }>(db, "INSERT INTO mailboxes (account_id, name, special_use, uid_validity) VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, name) DO NOTHING RETURNING id", [accountId, name, specialUse, uidValidity]);
    if (!row) throw new StoreError("ALREADYEXISTS", `mailbox ${name} already exists`);
    const mailboxId = row.id as MailboxId;
    unit.add(accountId, { kind: "mailbox-created", mailboxId, name });
    return mailboxId;
  }

  private async createParents(db: Sql, unit: UnitOfWork, accountId: AccountId, name: string): Promise<void> {
    for (const parent of parentNames(name)) {
      if (!(await this.mailboxByName(db, accountId, parent))) await this.insertMailbox(db, unit, accountId, parent, null);
    }
  }

  private async createMailboxIn(db: Sql, unit: UnitOfWork, accountId: AccountId, rawName: string, options: api.CreateMailboxOptions = {}): Promise<Mailbox> {
    const name = normaliseMailboxName(rawName);
    const specialUse = checkSpecialUse(options.specialUse);
    const kept = options.uidValidity === undefined ? undefined : checkUid32(options.uidValidity, "UIDVALIDITY");
    await this.requireAccountId(db, accountId);
    if (await this.mailboxByName(db, accountId, name)) throw new StoreError("ALREADYEXISTS", `mailbox ${name} already exists`);
    await this.createParents(db, unit, accountId, name);
    const mailboxId = await this.insertMailbox(db, unit, accountId, name, specialUse, kept);
    if (options.subscribed) await this.setSubscribedIn(db, unit, accountId, name, true);
    return this.requireMailbox(db, mailboxId);
  }

  private async setSubscribedIn(db: Sql, unit: UnitOfWork, accountId: AccountId, rawName: string, subscribed: boolean): Promise<void> {
    const name = normaliseMailboxName(rawName);
    await this.requireAccountId(db, accountId);
    const result = subscribed
      ? await db.query("INSERT INTO subscriptions (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING", [accountId, name])
      : await db.query("DELETE FROM subscriptions WHERE account_id = $1 AND name = $2", [accountId, name]);
    if ((result.rowCount ?? 0) > 0) unit.add(accountId, { kind: "subscription", name, subscribed });
  }

  listMailboxes(accountId: AccountId): Promise<Mailbox[]> {
    return this.read((db) => this.mailboxesOf(db, accountId));
  }

  getMailbox(accountId: AccountId, name: string): Promise<Mailbox | null> {
    return this.read(async (db) => {
      let normalised: string;
      try {
        normalised = normaliseMailboxName(name);
      } catch {
        return null;
      }
      if (!Number.isSafeInteger(accountId)) return null;
      return this.mailboxByName(db, accountId, normalised);
    });
  }

  getMailboxById(mailboxId: MailboxId): Promise<Mailbox | null> {
    return this.read((db) => this.mailboxById(db, mailboxId));
  }

  createMailbox(accountId: AccountId, name: string, options?: api.CreateMailboxOptions): Promise<Mailbox> {
    return this.write((db, unit) => this.createMailboxIn(db, unit, accountId, name, options));
  }

  adoptUidValidity(mailboxId: MailboxId, uidValidity: UidValidity): Promise<Mailbox> {
    return this.write(async (db) => {
      const value = checkUid32(uidValidity, "UIDVALIDITY");
      await this.requireMailbox(db, mailboxId, true);
      const changed = await db.query("UPDATE mailboxes SET uid_validity = $1 WHERE id = $2 AND uid_next = 1", [value, mailboxId]);
      if ((changed.rowCount ?? 0) === 0) throw new StoreError("CANNOT", "the mailbox has held messages: its UIDVALIDITY stays");
      return this.requireMailbox(db, mailboxId);
    });
  }

  renameMailbox(accountId: AccountId, rawOld: string, rawNew: string): Promise<void> {
    return this.write(async (db, unit) => {
      const oldName = normaliseMailboxName(rawOld);
      const newName = normaliseMailboxName(rawNew);
      // The account's mailbox rows, locked in id order: a rename moves a whole subtree.
      await db.query("SELECT 1 FROM mailboxes WHERE account_id = $1 ORDER BY id FOR UPDATE", [accountId]);
      const source = await this.mailboxByName(db, accountId, oldName);
      if (!source) throw new StoreError("NONEXISTENT", `no mailbox ${oldName}`);
      if (await this.mailboxByName(db, accountId, newName)) throw new StoreError("ALREADYEXISTS", `mailbox ${newName} already exists`);
      if (oldName === INBOX) return this.renameInbox(db, unit, source, newName);
      if (isWithin(newName, oldName)) throw new StoreError("CANNOT", "cannot rename a mailbox into itself");
      await this.createParents(db, unit, accountId, newName);
      const moving = (await this.mailboxesOf(db, accountId)).filter((mailbox) => isWithin(mailbox.name, oldName));
      for (const mailbox of moving) {
        const renamed = newName + mailbox.name.slice(oldName.length);
        if (await this.mailboxByName(db, accountId, renamed)) throw new StoreError("ALREADYEXISTS", `mailbox ${renamed} already exists`);
        await db.query("UPDATE mailboxes SET name = $1 WHERE id = $2", [renamed, mailbox.id]);
        unit.add(accountId, { kind: "mailbox-renamed", mailboxId: mailbox.id, oldName: mailbox.name, name: renamed });
        // Dovecot's behaviour: a subscribed mailbox stays subscribed under its new name.
        if (mailbox.subscribed) {
          await this.setSubscribedIn(db, unit, accountId, mailbox.name, false);
          await this.setSubscribedIn(db, unit, accountId, renamed, true);
        }
      }
    });
  }

  /** RFC 9051 §6.3.6: INBOX's messages move to a new mailbox (keeping their UIDs); INBOX stays, empty. */
  private async renameInbox(db: Sql, unit: UnitOfWork, inbox: Mailbox, newName: string): Promise<void> {
    await this.createParents(db, unit, inbox.accountId, newName);
    const targetId = await this.insertMailbox(db, unit, inbox.accountId, newName, null);
    const uids = (await rows<{ uid: number }>(db, "SELECT uid FROM messages WHERE mailbox_id = $1 ORDER BY uid", [inbox.id])).map((r) => r.uid as Uid);
    await db.query("UPDATE messages SET mailbox_id = $1 WHERE mailbox_id = $2", [targetId, inbox.id]);
    await db.query(
      `UPDATE mailboxes SET uid_next = $1, highest_modseq = greatest(highest_modseq, (SELECT coalesce(max(modseq), 1) FROM messages WHERE mailbox_id = $2)) WHERE id = $2`,
      [inbox.uidNext, targetId],
    );
    if (uids.length === 0) return;
    const modseq = await this.nextModSeq(db, inbox.id);
    await this.logExpunged(db, inbox.id, uids, modseq);
    for (const uid of uids) unit.add(inbox.accountId, { kind: "expunged", mailboxId: inbox.id, uid, modseq });
  }

  deleteMailbox(accountId: AccountId, rawName: string): Promise<void> {
    return this.write(async (db, unit) => {
      const name = normaliseMailboxName(rawName);
      if (name === INBOX) throw new StoreError("CANNOT", "INBOX cannot be deleted");
      const found = await this.mailboxByName(db, accountId, name);
      if (!found) throw new StoreError("NONEXISTENT", `no mailbox ${name}`);
      const mailbox = await this.requireMailbox(db, found.id, true);
      const child = await one(db, "SELECT 1 FROM mailboxes WHERE account_id = $1 AND left(name, $2) = $3 LIMIT 1", [accountId, name.length + 1, name + HIERARCHY_DELIMITER]);
      if (child) throw new StoreError("HASCHILDREN", `mailbox ${name} has children`);
      await this.removeMailbox(db, unit, mailbox);
    });
  }

  /** Deletes a mailbox with its messages and change log (subscriptions stay, RFC 9051 §6.3.9). */
  private async removeMailbox(db: Sql, unit: UnitOfWork, mailbox: Mailbox): Promise<void> {
    const removed = await rows<RemovedRow>(db, "DELETE FROM messages WHERE mailbox_id = $1 RETURNING uid, size, blob_id", [mailbox.id]);
    await db.query("DELETE FROM changes WHERE mailbox_id = $1", [mailbox.id]);
    await this.releaseRows(db, mailbox.accountId, removed);
    await db.query("DELETE FROM mailboxes WHERE id = $1", [mailbox.id]);
    unit.add(mailbox.accountId, { kind: "mailbox-deleted", mailboxId: mailbox.id, name: mailbox.name });
  }

  setSubscribed(accountId: AccountId, name: string, subscribed: boolean): Promise<void> {
    return this.write((db, unit) => this.setSubscribedIn(db, unit, accountId, name, subscribed));
  }

  listSubscriptions(accountId: AccountId): Promise<string[]> {
    return this.read(async (db) => (await rows<{ name: string }>(db, "SELECT name FROM subscriptions WHERE account_id = $1 ORDER BY name", [accountId])).map((r) => r.name));
  }

  mailboxStatus(mailboxId: MailboxId): Promise<MailboxStatus> {
    return this.snapshot(async (db) => {
      const mailbox = await this.requireMailbox(db, mailboxId);
      const { deleted_size: deletedSize, ...counts } = (await one<{ messages: number; unseen: number; deleted: number; size: number; deleted_size: number }>(
        db,
        "SELECT count(*)::bigint AS messages, count(*) FILTER (WHERE NOT seen)::bigint AS unseen, count(*) FILTER (WHERE deleted)::bigint AS deleted, coalesce(sum(size), 0)::bigint AS size, coalesce(sum(size) FILTER (WHERE deleted), 0)::bigint AS deleted_size FROM messages WHERE mailbox_id = $1",
        [mailboxId],
      ))!;
      return { ...counts, deletedSize, uidNext: mailbox.uidNext, uidValidity: mailbox.uidValidity, highestModSeq: mailbox.highestModSeq };
    });
  }

  // Counters and change log ------------------------------------------------------------------------

  private async nextModSeq(db: Sql, mailboxId: MailboxId): Promise<ModSeq> {
    const row = await one<{ highest_modseq: number }>(db, "UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = $1 RETURNING highest_modseq", [mailboxId]);
    if (!row) throw new StoreError("NONEXISTENT", "mailbox no longer exists");
    return row.highest_modseq as ModSeq;
  }

  private async reserveUids(db: Sql, mailboxId: MailboxId, count: number): Promise<Uid> {
    const row = await one<{ uid_next: number }>(db, "UPDATE mailboxes SET uid_next = uid_next + $1 WHERE id = $2 RETURNING uid_next", [count, mailboxId]);
    if (!row) throw new StoreError("NONEXISTENT", "mailbox no longer exists");
    // RFC 9051 §2.3.1.1: UIDs are 32-bit; past that the mailbox needs a new UIDVALIDITY.
    if (row.uid_next - 1 > 0xffffffff) throw new StoreError("CANNOT", "mailbox UID space exhausted");
    return (row.uid_next - count) as Uid;
  }

  private async logAdded(db: Sql, mailboxId: MailboxId, uids: readonly Uid[], modseq: ModSeq): Promise<void> {
    if (uids.length === 0) return;
    await db.query("INSERT INTO changes (mailbox_id, modseq, kind, uid) SELECT $1, $2, 'added', u FROM unnest($3::bigint[]) AS u", [mailboxId, modseq, uids]);
  }

  /** New flags of many messages at one modseq; each message's older flag rows are superseded and pruned. */
  private async logFlags(db: Sql, mailboxId: MailboxId, modseq: ModSeq, changed: readonly { uid: Uid; flags: Flag[] }[]): Promise<void> {
    if (changed.length === 0) return;
    const uids = changed.map((c) => c.uid);
    await db.query("DELETE FROM changes WHERE mailbox_id = $1 AND kind = 'flags' AND uid = ANY($2::bigint[])", [mailboxId, uids]);
    await db.query(
      "INSERT INTO changes (mailbox_id, modseq, kind, uid, flags) SELECT $1, $2, 'flags', c.uid, ARRAY(SELECT json_array_elements_text(c.flags)) FROM json_to_recordset($3::json) AS c(uid bigint, flags json)",
      [mailboxId, modseq, JSON.stringify(changed)],
    );
  }

  /** Leaves only a tombstone per expunged message (RFC 7162 §3.2.10 VANISHED (EARLIER)). */
  private async logExpunged(db: Sql, mailboxId: MailboxId, uids: readonly Uid[], modseq: ModSeq): Promise<void> {
    if (uids.length === 0) return;
    await db.query("DELETE FROM changes WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])", [mailboxId, uids]);
    await db.query("INSERT INTO changes (mailbox_id, modseq, kind, uid) SELECT $1, $2, 'expunged', u FROM unnest($3::bigint[]) AS u", [mailboxId, modseq, uids]);
  }

  changesSince(mailboxId: MailboxId, modseq: ModSeq): Promise<MailboxChangesSince> {
    return this.snapshot(async (db) => {
      const mailbox = await one<{ highest_modseq: number }>(db, "SELECT highest_modseq FROM mailboxes WHERE id = $1", [mailboxId]);
      if (!mailbox) throw new StoreError("NONEXISTENT", "no such mailbox");
      const changed = (await rows<{ uid: number; modseq: number; flags: Flag[] }>(db, "SELECT uid, modseq, flags FROM messages WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid", [mailboxId, modseq])).map((r) => ({
        uid: r.uid as Uid,
        modseq: r.modseq as ModSeq,
        flags: r.flags,
      }));
      const expunged = (await rows<{ uid: number }>(db, "SELECT DISTINCT uid FROM changes WHERE mailbox_id = $1 AND kind = 'expunged' AND modseq > $2 ORDER BY uid", [mailboxId, modseq])).map((r) => r.uid as Uid);
      return { highestModSeq: mailbox.highest_modseq as ModSeq, changed, expunged };
    });
  }

  // Delivery -------------------------------------------------------------------------------------

  stageMessage(source: api.MessageSource, options: { maxBytes?: number } = {}): Promise<api.StagedMessage> {
    return this.track(() => this.stage(source, options.maxBytes));
  }

  private async stage(source: api.MessageSource, maxBytes: number | undefined): Promise<PgStagedMessage> {
    const builder = new MimeTreeBuilder(this.mimeLimits);
    const counter = new SentOctetCounter();
    // One pass over the bytes: the MIME tree and the CRLF octet count (POP3 STAT/LIST) together.
    const inspector = {
      push(chunk: Buffer): void {
        builder.push(chunk);
        counter.push(chunk);
      },
    };
    const written = await this.blobs.write(source, { maxBytes: checkMaxBytes(maxBytes), inspector });
    return new PgStagedMessage(this.blobs, written, builder.finish(), counter.total(), (pin) => void this.releasePin(pin));
  }

  /** A pin dropped without a delivery: the bytes go unless something else holds them. */
  private releasePin(pin: string): Promise<void> {
    const promise = this.blobs.release(pin).catch((err: unknown) => {
      // Left for the collector (stale pins expire); nothing is lost by failing here.
      this.log.warn("store.blob_release_failed", { error: (err as Error).message });
    });
    // close() waits for it like any operation in flight.
    this.inflight.add(promise);
    void promise.then(() => this.inflight.delete(promise));
    return promise;
  }

  private planCopies(request: api.DeliveryRequest): PlannedCopy[] {
    if (!request || !Array.isArray(request.targets) || request.targets.length === 0) throw new StoreError("INVALID", "a delivery needs at least one target");
    return request.targets.map((target) => ({ mailboxId: target.mailboxId, flags: normaliseFlags(target.flags), prefix: checkPrefix(target.prefix) }));
  }

  deliver(request: api.DeliveryRequest): Promise<api.DeliveryResult> {
    return this.track(async () => {
      const copies = this.planCopies(request);
      const internalDate = checkDate(request.internalDate ?? this.clock());
      // Refused before any byte is stored: a missing target costs no upload.
      const ids = [...new Set(copies.map((c) => c.mailboxId))];
      const found = await rows<{ id: number }>(this.pool, "SELECT id FROM mailboxes WHERE id = ANY($1::bigint[])", [ids.filter(Number.isSafeInteger)]);
      if (found.length !== ids.length) throw new StoreError("NONEXISTENT", "no such mailbox");
      // A target may carry its own staged bytes (a copy a Sieve script edited, RFC 5293).
      const own = request.targets.map((t) => t.source);
      for (const m of own) {
        if (m === undefined) continue;
        if (!(m instanceof PgStagedMessage) || !m.belongsTo(this.blobs)) throw new StoreError("INVALID", "staged message belongs to another store");
        if (request.maxBytes !== undefined && m.size > request.maxBytes) throw new StoreError("TOOBIG", `message exceeds ${request.maxBytes} octets`);
      }
      const needsSource = own.some((m) => m === undefined);
      const given = request.source instanceof PgStagedMessage ? request.source : null;
      if (given && !given.belongsTo(this.blobs)) throw new StoreError("INVALID", "staged message belongs to another store");
      if (!given && isForeignStaged(request.source)) throw new StoreError("INVALID", "staged message belongs to another store");
      if (given && needsSource && request.maxBytes !== undefined && given.size > request.maxBytes) throw new StoreError("TOOBIG", `message exceeds ${request.maxBytes} octets`);
      const staged = !needsSource ? null : (given ?? (await this.stage(request.source as api.MessageSource, request.maxBytes)));
      // One plan per distinct staged message, in the order the targets name them; one transaction for all.
      const plans: { staged: PgStagedMessage; copies: PlannedCopy[]; internalDate: Date }[] = [];
      const planOf = own.map((m, i) => {
        const message = (m as PgStagedMessage | undefined) ?? staged!;
        let p = plans.findIndex((plan) => plan.staged === message);
        if (p < 0) p = plans.push({ staged: message, copies: [], internalDate }) - 1;
        plans[p]!.copies.push(copies[i]!);
        return p;
      });
      try {
        const results = await this.mutate((db, unit) => this.insertDeliveries(db, unit, plans));
        for (const plan of plans) plan.staged.markReleased();
        if (results.length === 1) return results[0]!;
        const next = plans.map(() => 0);
        return { size: (staged ?? plans[0]!.staged).size, copies: planOf.map((p) => results[p]!.copies[next[p]!++]!) };
      } catch (err) {
        // Bytes staged by this call and not delivered are nobody's: drop them before answering.
        if (staged !== null && !given) {
          staged.markReleased();
          await this.releasePin(staged.pin);
        }
        throw err;
      }
    });
  }

  append(mailboxId: MailboxId, source: api.MessageSource, options: { flags?: Flag[]; internalDate?: Date; maxBytes?: number } = {}): Promise<api.DeliveredCopy> {
    return this.deliver({ source, targets: [{ mailboxId, flags: options.flags ?? [] }], internalDate: options.internalDate, maxBytes: options.maxBytes }).then((r) => r.copies[0]!);
  }

  appendStaged(mailboxId: MailboxId, list: readonly api.StagedAppend[], options: { maxBytes?: number } = {}): Promise<api.DeliveredCopy[]> {
    return this.track(async () => {
      if (!Array.isArray(list) || list.length === 0) throw new StoreError("INVALID", "nothing to append");
      const kept = checkKeptUids(list.map((m) => m.uid));
      const plans = list.map((m, i) => {
        if (!(m.source instanceof PgStagedMessage) || !m.source.belongsTo(this.blobs)) throw new StoreError("INVALID", "staged message belongs to another store");
        if (options.maxBytes !== undefined && m.source.size > options.maxBytes) throw new StoreError("TOOBIG", `message exceeds ${options.maxBytes} octets`);
        const copy: PlannedCopy = { mailboxId, flags: normaliseFlags(m.flags), prefix: Buffer.alloc(0), ...(kept ? { uid: kept[i]! as Uid } : {}) };
        return { staged: m.source, copies: [copy], internalDate: checkDate(m.internalDate ?? this.clock()) };
      });
      // One transaction: every message gets its row, or (quota, a vanished mailbox) none does.
      const results = await this.mutate((db, unit) => this.insertDeliveries(db, unit, plans));
      for (const plan of plans) plan.staged.markReleased();
      return results.map((r) => r.copies[0]!);
    });
  }

  replaceMessage(source: MailboxId, uid: Uid, target: MailboxId, message: api.StagedAppend, options: { maxBytes?: number } = {}): Promise<{ copy: api.DeliveredCopy; expunged: api.ExpungeResult }> {
    return this.track(async () => {
      const staged = message.source;
      if (!(staged instanceof PgStagedMessage) || !staged.belongsTo(this.blobs)) throw new StoreError("INVALID", "staged message belongs to another store");
      if (options.maxBytes !== undefined && staged.size > options.maxBytes) throw new StoreError("TOOBIG", `message exceeds ${options.maxBytes} octets`);
      const plan = { staged, copies: [{ mailboxId: target, flags: normaliseFlags(message.flags), prefix: Buffer.alloc(0) }], internalDate: checkDate(message.internalDate ?? this.clock()) };
      // One transaction (RFC 8508 §3.3: atomic); both mailbox rows locked in id order first, as
      // every writer takes them; the old message goes first so the quota check counts its room.
      const result = await this.mutate(async (db, unit) => {
        for (const id of [...new Set([source, target])].sort((a, b) => a - b)) await this.requireMailbox(db, id, true);
        const mailbox = await this.requireMailbox(db, source, true);
        const present = (await rows<{ uid: number }>(db, "SELECT uid FROM messages WHERE mailbox_id = $1 AND uid = $2", [source, uid])).map((r) => Number(r.uid) as Uid);
        if (present.length === 0) throw new StoreError("NONEXISTENT", "the message to replace no longer exists");
        const modseq = await this.expungeUids(db, unit, mailbox, present);
        const [delivered] = await this.insertDeliveries(db, unit, [plan]);
        return { copy: delivered!.copies[0]!, expunged: { expunged: present, highestModSeq: modseq ?? mailbox.highestModSeq } };
      });
      staged.markReleased();
      return result;
    });
  }

  /**
   * The database half of deliveries, in the caller's transaction: mailbox rows locked in id order
   * (the lock that orders UIDs across nodes), quota checked and charged under the account row
   * locks, the blob's derived row written once, one message row per copy, the staging pins dropped.
   */
  private async insertDeliveries(db: Sql, unit: UnitOfWork, plans: readonly { staged: PgStagedMessage; copies: PlannedCopy[]; internalDate: Date }[]): Promise<api.DeliveryResult[]> {
    const mailboxIds = [...new Set(plans.flatMap((p) => p.copies.map((c) => c.mailboxId)))].sort((a, b) => a - b);
    const locked = new Map<MailboxId, Mailbox>();
    for (const id of mailboxIds) locked.set(id, await this.requireMailbox(db, id, true));
    const added = new Map<AccountId, UsageDelta>();
    for (const plan of plans) {
      for (const copy of plan.copies) addUsage(added, locked.get(copy.mailboxId)!.accountId, copy.prefix.length + plan.staged.size, 1);
    }
    await this.chargeQuota(db, added);
    const results: api.DeliveryResult[] = [];
    for (const plan of plans) {
      await this.insertBlobRow(db, plan.staged);
      const modseqs = new Map<MailboxId, ModSeq>();
      const copies: api.DeliveredCopy[] = [];
      // As SQLite (store/object-ids.ts): one THREADID per account, one EMAILID per account and prefix.
      const keys = threadKeys(plan.staged.parsed.envelope, plan.staged.parsed.headerFields);
      const threads = new Map<AccountId, string>();
      const emailIds = new Map<string, string>();
      for (const copy of plan.copies) {
        const mailbox = locked.get(copy.mailboxId)!;
        let threadId = threads.get(mailbox.accountId);
        if (threadId === undefined) threads.set(mailbox.accountId, (threadId = await this.assignThread(db, mailbox.accountId, keys)));
        const sameMessage = `${mailbox.accountId}:${copy.prefix.toString("base64")}`;
        let emailId = emailIds.get(sameMessage);
        if (emailId === undefined) emailIds.set(sameMessage, (emailId = newEmailId()));
        if (copy.uid !== undefined) {
          // A kept UID: UIDNEXT moves up to it, so reserveUids hands it out (never below UIDNEXT).
          const moved = await db.query("UPDATE mailboxes SET uid_next = $1 WHERE id = $2 AND uid_next <= $1", [copy.uid, mailbox.id]);
          if ((moved.rowCount ?? 0) === 0) throw new StoreError("INVALID", `UID ${copy.uid} is below the mailbox's UIDNEXT`);
        }
        const uid = await this.reserveUids(db, mailbox.id, 1);
        let modseq = modseqs.get(mailbox.id);
        if (modseq === undefined) modseqs.set(mailbox.id, (modseq = await this.nextModSeq(db, mailbox.id)));
        await db.query(
          `INSERT INTO messages (mailbox_id, uid, modseq, flags, seen, deleted, internal_date, size, blob_id, prefix, email_id, thread_id, save_date)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
          [mailbox.id, uid, modseq, copy.flags, hasFlag(copy.flags, "\\Seen"), hasFlag(copy.flags, "\\Deleted"), plan.internalDate.getTime(), copy.prefix.length + plan.staged.size, plan.staged.blobId, copy.prefix.length > 0 ? copy.prefix : null, emailId, threadId, this.clock().getTime()],
        );
        await this.logAdded(db, mailbox.id, [uid], modseq);
        unit.add(mailbox.accountId, { kind: "added", mailboxId: mailbox.id, uid, modseq });
        copies.push({ mailboxId: mailbox.id, uidValidity: mailbox.uidValidity, uid, modseq });
      }
      await db.query("DELETE FROM blob_pins WHERE pin = $1", [plan.staged.pin]);
      results.push({ size: plan.staged.size, copies });
    }
    return results;
  }

  /**
   * Adds the bytes and messages to each account, refusing (OVERQUOTA) when any would pass either
   * limit (RFC 9208 STORAGE, MESSAGE; store/quota.ts); account rows locked in id order.
   */
  private async chargeQuota(db: Sql, added: Map<AccountId, UsageDelta>, enforce = true): Promise<void> {
    const { bytesLimit, messagesLimit } = quotaSql(this.quota);
    for (const [accountId, delta] of [...added].sort((a, b) => a[0] - b[0])) {
      const row = await one<{ address: string; ok: boolean }>(
        db,
        `UPDATE accounts SET used_bytes = used_bytes + $1, used_messages = used_messages + $3 WHERE id = $2
         RETURNING address, coalesce(used_bytes <= ${bytesLimit}, true) AND coalesce(used_messages <= ${messagesLimit}, true) AS ok`,
        [delta.bytes, accountId, delta.messages],
      );
      if (!row) throw new StoreError("NONEXISTENT", "no such account");
      if (enforce && !row.ok) throw new StoreError("OVERQUOTA", `quota of ${row.address} exceeded`);
    }
  }

  /** As SQLite's assignThread (sqlite/messages.ts): the thread of the first recorded id, else a new one; every id recorded. */
  private async assignThread(db: Sql, accountId: AccountId, keys: readonly string[]): Promise<string> {
    const found =
      keys.length === 0
        ? undefined
        : await one<{ thread_id: string }>(
            db,
            "SELECT t.thread_id FROM unnest($1::text[]) WITH ORDINALITY AS k(key, n) JOIN thread_keys t ON t.account_id = $2 AND t.message_key = k.key ORDER BY k.n LIMIT 1",
            [keys, accountId],
          );
    const threadId = found?.thread_id ?? newThreadId();
    if (keys.length > 0) {
      await db.query("INSERT INTO thread_keys (account_id, message_key, thread_id) SELECT $1, key, $3 FROM unnest($2::text[]) AS key ON CONFLICT DO NOTHING", [accountId, keys, threadId]);
    }
    return threadId;
  }

  /** The blob's derived row (structure, envelope, search text), unless an earlier delivery wrote it. */
  private async insertBlobRow(db: Sql, blob: Pick<PgStagedMessage, "blobId" | "size" | "crlfSize" | "parsed">): Promise<void> {
    if (await one(db, "SELECT 1 FROM blobs WHERE id = $1", [blob.blobId])) return;
    const entry = searchEntry(blob.parsed);
    try {
      await db.query("SAVEPOINT blob_row");
      await db.query(
        `INSERT INTO blobs (id, size, crlf_size, text_head, structure, envelope, search_text, preview) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
        [blob.blobId, blob.size, blob.crlfSize, entry.head, encodeStructure(blob.parsed.root), JSON.stringify(blob.parsed.envelope), entry.text, previewOf(blob.parsed)],
      );
      await db.query("RELEASE SAVEPOINT blob_row");
    } catch (err) {
      // The bytes were removed after their pin was dropped (a staged message delivered, then
      // every copy expunged, then delivered again): damage from the caller's view.
      if ((err as { code?: unknown }).code === "23503") {
        this.log.error("store.staged_blob_missing", { blobId: blob.blobId });
        throw new StoreError("DAMAGED", "the staged message's bytes are gone");
      }
      throw err;
    }
  }

  // Reading messages -----------------------------------------------------------------------------

  claimRecent(mailboxId: MailboxId, options: { peek?: boolean } = {}): Promise<api.RecentClaim> {
    if (options.peek === true) {
      return this.read(async (db) => {
        const row = await one<{ first_recent_uid: number; uid_next: number }>(db, "SELECT first_recent_uid, uid_next FROM mailboxes WHERE id = $1", [mailboxId]);
        if (!row) throw new StoreError("NONEXISTENT", "no such mailbox");
        return { first: row.first_recent_uid as Uid, next: Math.max(row.first_recent_uid, row.uid_next) as Uid };
      });
    }
    return this.write(async (db) => {
      // The row lock makes two claims (on any nodes) take disjoint ranges.
      const row = await one<{ first: number; next: number }>(
        db,
        `UPDATE mailboxes m SET first_recent_uid = greatest(m.first_recent_uid, m.uid_next)
           FROM (SELECT id, first_recent_uid FROM mailboxes WHERE id = $1 FOR UPDATE) AS before
          WHERE m.id = before.id RETURNING before.first_recent_uid AS first, m.first_recent_uid AS next`,
        [mailboxId],
      );
      if (!row) throw new StoreError("NONEXISTENT", "no such mailbox");
      return { first: row.first as Uid, next: row.next as Uid };
    });
  }

  countRecent(mailboxId: MailboxId): Promise<number> {
    return this.read(async (db) => {
      const row = await one<{ recent: number }>(db, "SELECT (SELECT count(*) FROM messages WHERE mailbox_id = b.id AND uid >= b.first_recent_uid)::bigint AS recent FROM mailboxes b WHERE b.id = $1", [mailboxId]);
      if (!row) throw new StoreError("NONEXISTENT", "no such mailbox");
      return row.recent;
    });
  }

  selectionIndex(mailboxId: MailboxId): Promise<api.SelectionIndex> {
    return this.snapshot(async (db) => {
      const mailbox = await this.requireMailbox(db, mailboxId);
      const result = await db.query<[number, Flag[]]>({ text: "SELECT uid, flags FROM messages WHERE mailbox_id = $1 ORDER BY uid", values: [mailboxId], rowMode: "array" });
      const list = result.rows;
      const uids = new Uint32Array(list.length);
      const flagBits = new Uint8Array(list.length);
      let firstUnseen: Uid | null = null;
      const keywords = new Map<string, Flag>();
      for (let i = 0; i < list.length; i++) {
        const [uid, flags] = list[i]!;
        uids[i] = uid;
        let bits = 0;
        for (const flag of flags) {
          switch (flag) {
            case "\\Answered": bits |= 1; break;
            case "\\Flagged": bits |= 2; break;
            case "\\Deleted": bits |= 4; break;
            case "\\Seen": bits |= 8; break;
            case "\\Draft": bits |= 16; break;
            default: {
              bits |= 32;
              const key = flag.toLowerCase();
              if (!keywords.has(key)) keywords.set(key, flag);
            }
          }
        }
        flagBits[i] = bits;
        if (firstUnseen === null && (bits & 8) === 0) firstUnseen = uid as Uid;
      }
      return { mailbox, uids, flagBits, firstUnseen, keywords: [...keywords.values()] };
    });
  }

  listMessages(mailboxId: MailboxId): Promise<MessageSummary[]> {
    return this.snapshot(async (db) => {
      await this.requireMailbox(db, mailboxId);
      return (await rows<MessageRow>(db, `SELECT ${SUMMARY_COLUMNS} FROM messages WHERE mailbox_id = $1 ORDER BY uid`, [mailboxId])).map(toMessageSummary);
    });
  }

  getSummaries(mailboxId: MailboxId, uids: readonly Uid[]): Promise<MessageSummary[]> {
    return this.read(async (db) => {
      if (uids.length === 0) return [];
      return (await rows<MessageRow>(db, `SELECT ${SUMMARY_COLUMNS} FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) ORDER BY uid`, [mailboxId, uidArray(uids)])).map(toMessageSummary);
    });
  }

  getSummaryRange(mailboxId: MailboxId, first: Uid, last: Uid): Promise<MessageSummary[]> {
    return this.read(async (db) => (await rows<MessageRow>(db, `SELECT ${SUMMARY_COLUMNS} FROM messages WHERE mailbox_id = $1 AND uid BETWEEN $2 AND $3 ORDER BY uid`, [mailboxId, first, last])).map(toMessageSummary));
  }

  getMessages(mailboxId: MailboxId, uids: readonly Uid[]): Promise<StoredMessage[]> {
    return this.read(async (db) => {
      if (uids.length === 0) return [];
      const list = await rows<MessageRow & { blob_id: string; prefix_length: number; structure: string; envelope: string }>(
        db,
        `SELECT m.uid, m.modseq, m.flags, m.internal_date, m.size, m.blob_id, coalesce(octet_length(m.prefix), 0) AS prefix_length, b.structure, b.envelope
           FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = $1 AND m.uid = ANY($2::bigint[]) ORDER BY m.uid`,
        [mailboxId, uidArray(uids)],
      );
      return list.map((row) => ({
        ...toMessageSummary(row),
        mailboxId,
        blobId: row.blob_id as BlobId,
        prefixLength: row.prefix_length,
        structure: decodeStructure(row.structure, row.prefix_length),
        envelope: JSON.parse(row.envelope) as Envelope,
      }));
    });
  }

  getCrlfSizes(mailboxId: MailboxId, uids: readonly Uid[]): Promise<Map<Uid, number | null>> {
    return this.read(async (db) => {
      const sizes = new Map<Uid, number | null>();
      if (uids.length === 0) return sizes;
      const list = await rows<{ uid: number; prefix: Buffer | null; crlf_size: number | null }>(
        db,
        "SELECT m.uid, m.prefix, b.crlf_size FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = $1 AND m.uid = ANY($2::bigint[])",
        [mailboxId, uidArray(uids)],
      );
      for (const row of list) sizes.set(row.uid as Uid, row.crlf_size === null ? null : (row.prefix === null ? 0 : sentOctets(row.prefix)) + row.crlf_size);
      return sizes;
    });
  }

  getSearchText(mailboxId: MailboxId, uid: Uid): Promise<string | null> {
    return this.read(async (db) => {
      const row = await one<{ search_text: string }>(db, "SELECT b.search_text FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = $1 AND m.uid = $2", [mailboxId, uidArray([uid])[0] ?? 0]);
      return row ? row.search_text : null;
    });
  }

  getSearchTexts(mailboxId: MailboxId, uids: readonly Uid[]): Promise<Map<Uid, string>> {
    return this.read(async (db) => {
      const texts = new Map<Uid, string>();
      if (uids.length === 0) return texts;
      const list = await rows<{ uid: number; search_text: string }>(db, "SELECT m.uid, b.search_text FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = $1 AND m.uid = ANY($2::bigint[])", [mailboxId, uidArray(uids)]);
      for (const row of list) texts.set(row.uid as Uid, row.search_text);
      return texts;
    });
  }

  /**
   * MailStore.getSortFacts from the stored envelope; with `withReferences`, the References field
   * is read from the header bytes (the trace prefix and the blob's first chunk, where a header
   * almost always ends; a longer header is read in a range), as findHeaderMatches reads HEADER.
   */
  getMessageAttributes(mailboxId: MailboxId, uids: readonly Uid[]): Promise<api.MessageAttributes[]> {
    if (uids.length === 0) return Promise.resolve([]);
    return this.read(async (db) => {
      const list = await rows<{ uid: number; email_id: string | null; thread_id: string | null; save_date: number | null; internal_date: number; preview: string | null }>(
        db,
        `SELECT m.uid, m.email_id, m.thread_id, m.save_date, m.internal_date, b.preview
           FROM messages m JOIN blobs b ON b.id = m.blob_id
          WHERE m.mailbox_id = $1 AND m.uid = ANY($2::bigint[]) ORDER BY m.uid`,
        [mailboxId, uidArray(uids)],
      );
      return list.map((row) => ({
        uid: Number(row.uid) as Uid,
        emailId: row.email_id ?? `E${mailboxId}x${row.uid}`,
        threadId: row.thread_id,
        saveDate: new Date(Number(row.save_date ?? row.internal_date)),
        preview: row.preview,
      }));
    });
  }

    getSortFacts(mailboxId: MailboxId, uids: readonly Uid[], withReferences: boolean): Promise<api.SortFacts[]> {
    return this.read(async (db) => {
      if (uids.length === 0) return [];
      const list = await rows<MessageRow & { envelope: string; header_end: number | null; prefix: Buffer | null; head: Buffer | null }>(
        db,
        `SELECT m.uid, m.modseq, m.flags, m.internal_date, m.size, b.envelope,
                ${withReferences ? "m.prefix, c.data AS head" : "NULL::bytea AS prefix, NULL::bytea AS head"}
           FROM messages m JOIN blobs b ON b.id = m.blob_id
           ${withReferences ? "LEFT JOIN blob_contents bc ON bc.hash = m.blob_id LEFT JOIN blob_chunks c ON c.content_id = bc.id AND c.seq = 0" : ""}
          WHERE m.mailbox_id = $1 AND m.uid = ANY($2::bigint[]) ORDER BY m.uid`,
        [mailboxId, uidArray(uids)],
      );
      const maxHeader = this.mimeLimits.maxHeaderBytes ?? 256 * 1024;
      const facts: api.SortFacts[] = [];
      for (const row of list) {
        let references: string | null = null;
        if (withReferences) {
          let head: Buffer = Buffer.concat([row.prefix ?? Buffer.alloc(0), row.head ?? Buffer.alloc(0)]);
          let end = head.indexOf("\r\n\r\n");
          if (end < 0 && head.length < Math.min(Number(row.size), maxHeader)) {
            // The header goes on past the first chunk: read it in a range, as findHeaderMatches does.
            head = await this.readHeaderBytes(mailboxId, row.uid as Uid, maxHeader);
            end = head.indexOf("\r\n\r\n");
          }
          const block = end < 0 ? head.subarray(0, Math.min(head.length, maxHeader)) : head.subarray(0, end + 2);
          const field = parseHeaderBlock(block).find((f) => f.name.toLowerCase() === "references");
          references = field === undefined ? null : searchableField(field)[1];
        }
        const summary = toMessageSummary(row);
        facts.push({ uid: summary.uid, internalDate: summary.internalDate, size: summary.size, envelope: JSON.parse(row.envelope) as Envelope, references });
      }
      return facts;
    });
  }

  /** A message's header bytes (at most `limit`), read through the blob store; empty if it was expunged meanwhile. */
  private async readHeaderBytes(mailboxId: MailboxId, uid: Uid, limit: number): Promise<Buffer> {
    const [message] = await this.getMessages(mailboxId, [uid]);
    if (message === undefined) return Buffer.alloc(0);
    const end = Math.min(message.structure.headerEnd, limit);
    const chunks: Buffer[] = [];
    try {
      if (end > 0) for await (const chunk of this.openMessage(message, { start: 0, end })) chunks.push(chunk as Buffer);
    } catch (error) {
      if (error instanceof StoreError) return Buffer.alloc(0);
      throw error;
    }
    return Buffer.concat(chunks);
  }

  /**
   * MailStore.getImapItems from the stored envelope and structure, encoded per call (SQLite keeps
   * the encoded text from delivery on: store/imap-items.ts); the bytes are the same. Every part
   * is filled whatever ImapItemsWanted says (it only allows leaving parts out).
   */
  getImapItems(mailboxId: MailboxId, uids: readonly Uid[], _wanted?: api.ImapItemsWanted): Promise<api.ImapItems[]> {
    return this.track(async () =>
      (await this.getMessages(mailboxId, uids)).map((message) => {
        const encoded = encodeImapItems(message.envelope, message.structure);
        const { envelope: _envelope, structure: _structure, ...summary } = message;
        return { ...summary, envelope: encoded.envelope, bodyStructure: encoded.bodyStructure, bodyStructureUtf8: encoded.bodyStructureUtf8 ?? encoded.bodyStructure };
      }),
    );
  }

  /**
   * MailStore.findHeaderMatches without a header index yet: the stored envelope decides SUBJECT
   * and the address keys, the header bytes (trace prefix and the message's own, read in a range)
   * decide HEADER, for the mailbox's messages in pages of UIDs. Exact, but proportional to the
   * mailbox; SQLite answers from its header index (issue 13/14).
   */
  findHeaderMatches(mailboxId: MailboxId, field: api.HeaderSearchField, needle: string): Promise<Uid[]> {
    return this.track(async () => {
      const folded = foldCase(needle);
      const holds = (text: string | null): boolean => text !== null && (folded === "" || text.includes(folded));
      const uids = (await rows<{ uid: number }>(this.pool, "SELECT uid FROM messages WHERE mailbox_id = $1 ORDER BY uid", [mailboxId])).map((r) => r.uid as Uid);
      const matched: Uid[] = [];
      const name = field.kind === "header" ? field.name.toLowerCase() : "";
      for (let i = 0; i < uids.length; i += 500) {
        const page = uids.slice(i, i + 500);
        // HEADER needs the header bytes: the trace prefix and the blob's first chunk, for the whole
        // page in one query (a message's header almost always fits its first chunk).
        const heads = new Map<number, Buffer>();
        if (field.kind === "header") {
          const list = await rows<{ uid: number; prefix: Buffer | null; head: Buffer | null }>(
            this.pool,
            `SELECT m.uid, m.prefix, c.data AS head FROM messages m
               JOIN blob_contents bc ON bc.hash = m.blob_id
               LEFT JOIN blob_chunks c ON c.content_id = bc.id AND c.seq = 0
              WHERE m.mailbox_id = $1 AND m.uid = ANY($2::bigint[])`,
            [mailboxId, page],
          );
          for (const row of list) heads.set(Number(row.uid), Buffer.concat([row.prefix ?? Buffer.alloc(0), row.head ?? Buffer.alloc(0)]));
        }
        for (const message of await this.getMessages(mailboxId, page)) {
          if (field.kind !== "header") {
            const entry = headerSearchEntry(message.envelope, []);
            if (holds(field.kind === "subject" ? entry.subject : entry[field.field])) matched.push(message.uid);
            continue;
          }
          const end = Math.min(message.structure.headerEnd, this.mimeLimits.maxHeaderBytes ?? 256 * 1024);
          const head = heads.get(message.uid);
          if (head !== undefined && head.length >= end) {
            if (parseHeaderBlock(head.subarray(0, end)).some((f) => f.name.toLowerCase() === name && holds(searchableField(f)[1]))) matched.push(message.uid);
            continue;
          }
          const chunks: Buffer[] = [];
          try {
            if (end > 0) for await (const chunk of this.openMessage(message, { start: 0, end })) chunks.push(chunk as Buffer);
          } catch (error) {
            // Expunged meanwhile, or its bytes are damaged (logged by the stream): no match.
            if (error instanceof StoreError) continue;
            throw error;
          }
          if (parseHeaderBlock(Buffer.concat(chunks)).some((f) => f.name.toLowerCase() === name && holds(searchableField(f)[1]))) matched.push(message.uid);
        }
      }
      return matched;
    });
  }

  /**
   * RFC 9051 §6.4.4 substring match on the folded text. Three characters or more: the pg_trgm GIN
   * index names candidates for the LIKE (lossy: every candidate is rechecked against the text),
   * and strpos() makes the match exact. Shorter strings: a scan in pages, yielding between pages.
   * BODY looks only after the text_head characters that came from the top-level header.
   */
  findTextMatches(mailboxId: MailboxId, needle: string, part: "text" | "body"): Promise<api.TextMatches> {
    return this.track(async () => {
      const folded = foldCase(needle);
      const bodyOnly = part === "body";
      const select = `SELECT m.uid FROM messages m JOIN blobs b ON b.id = m.blob_id
                       WHERE m.mailbox_id = $1 AND b.search_text LIKE $2 AND strpos(b.search_text, $3) > 0
                         AND (NOT $4::boolean OR strpos(substr(b.search_text, b.text_head + 1), $3) > 0)`;
      const params = [mailboxId, likePattern(folded), folded, bodyOnly];
      if ([...folded].length >= 3) {
        const list = await rows<{ uid: number }>(this.pool, `${select} ORDER BY m.uid`, params);
        return { matches: list.map((r) => r.uid as Uid), unverified: [] };
      }
      const matches: Uid[] = [];
      for (let after = 0; ; ) {
        const last = await one<{ uid: number | null }>(this.pool, "SELECT max(uid) AS uid FROM (SELECT uid FROM messages WHERE mailbox_id = $1 AND uid > $2 ORDER BY uid LIMIT $3) AS page", [mailboxId, after, TEXT_SCAN_PAGE]);
        if (last?.uid === null || last?.uid === undefined) return { matches, unverified: [] };
        const page = await rows<{ uid: number }>(this.pool, `${select} AND m.uid > $5 AND m.uid <= $6 ORDER BY m.uid`, [...params, after, last.uid]);
        for (const row of page) matches.push(row.uid as Uid);
        after = last.uid;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    });
  }

  findFuzzyTextMatches(mailboxId: MailboxId, needle: string, part: "text" | "body"): Promise<api.FuzzyMatch[]> {
    return this.track(async () => {
      const exact = await this.findTextMatches(mailboxId, needle, part);
      const grams = fuzzyGrams(foldCase(needle));
      if (grams.length === 0) return mergeFuzzy(exact.matches, [], 0);
      // mail/fuzzy-match.ts: candidates hold any trigram (LIKE ANY, answered by the pg_trgm GIN
      // index), each counted with strpos() on its text (for BODY, after the top-level header).
      const list = await rows<{ uid: number; overlap: number }>(
        this.pool,
        `SELECT uid, overlap FROM (
           SELECT m.uid, (SELECT count(*) FROM unnest($3::text[]) AS g(gram)
                           WHERE strpos(CASE WHEN $4::boolean AND b.text_head IS NOT NULL THEN substr(b.search_text, b.text_head + 1) ELSE b.search_text END, g.gram) > 0)::int AS overlap
             FROM messages m JOIN blobs b ON b.id = m.blob_id
            WHERE m.mailbox_id = $1 AND b.search_text LIKE ANY($2::text[])) AS c
          WHERE overlap >= $5`,
        [mailboxId, grams.map(likePattern), grams, part === "body", fuzzyMinOverlap(grams.length)],
      );
      return mergeFuzzy(exact.matches, list.map((r) => ({ uid: r.uid as Uid, overlap: r.overlap })), grams.length);
    });
  }

  readMessages(mailboxId: MailboxId, uids: readonly Uid[], options: { maxSize: number }): Promise<Map<Uid, Buffer>> {
    return this.read(async (db) => {
      const maxSize = checkCount(options.maxSize, "maxSize");
      const read = new Map<Uid, Buffer>();
      if (uids.length === 0) return read;
      // One query for the batch: each small message's prefix and chunks, in order.
      const list = await rows<{ uid: number; size: number; prefix: Buffer | null; blob_size: number; blob_id: string; seq: number | null; data: Buffer | null }>(
        db,
        `SELECT m.uid, m.size, m.prefix, c.size AS blob_size, m.blob_id, k.seq, k.data
           FROM messages m JOIN blob_contents c ON c.hash = m.blob_id LEFT JOIN blob_chunks k ON k.content_id = c.id
          WHERE m.mailbox_id = $1 AND m.uid = ANY($2::bigint[]) AND m.size <= $3 ORDER BY m.uid, k.seq`,
        [mailboxId, uidArray(uids), maxSize],
      );
      const parts = new Map<number, { size: number; blobId: string; pieces: Buffer[] }>();
      for (const row of list) {
        let entry = parts.get(row.uid);
        if (!entry) parts.set(row.uid, (entry = { size: row.size, blobId: row.blob_id, pieces: row.prefix ? [row.prefix] : [] }));
        if (row.data) entry.pieces.push(row.data);
      }
      for (const [uid, entry] of parts) {
        const whole = Buffer.concat(entry.pieces);
        if (whole.length !== entry.size) {
          this.damaged(entry.blobId as BlobId, "short", { mailboxId, uid });
          continue;
        }
        read.set(uid as Uid, whole);
      }
      return read;
    });
  }

  /** Prefix first, then the chunks, read a few at a time: a 25 MB message is never in memory whole. */
  openMessage(message: StoredMessage, range?: ByteRange): Readable {
    if (this.closing) return failedStream(new StoreError("UNAVAILABLE", "store is closed"));
    return Readable.from(this.messageBytes(message, range), { objectMode: false });
  }

  private async *messageBytes(message: StoredMessage, range?: ByteRange): AsyncGenerator<Buffer> {
    const store = this as PostgresStore;
    {
      let prefix: Buffer | null;
      try {
        prefix = await store.prefixOf(message.mailboxId, message.uid);
      } catch (err) {
        throw toStoreError(err);
      }
      if (prefix === null) throw new StoreError("NONEXISTENT", "message no longer exists");
      const start = Math.max(0, range?.start ?? 0);
      const end = range ? Math.max(start, range.end) : Number.POSITIVE_INFINITY;
      if (start >= end) return;
      if (start < prefix.length) yield prefix.subarray(start, Math.min(end, prefix.length));
      if (end <= prefix.length) return;
      const blobRange = { start: Math.max(0, start - prefix.length), end: Math.min(end - prefix.length, message.size - prefix.length) };
      let read = 0;
      try {
        for await (const chunk of store.blobs.read(message.blobId, blobRange)) {
          read += chunk.length;
          yield chunk;
        }
      } catch (err) {
        if (err instanceof BlobMissingError) throw await store.missingBytes(message, err.reason);
        throw toStoreError(err);
      }
      if (read < Math.max(0, blobRange.end - blobRange.start)) throw await store.missingBytes(message, "short");
    }
  }

  private async prefixOf(mailboxId: MailboxId, uid: Uid): Promise<Buffer | null> {
    const row = await one<{ prefix: Buffer | null }>(this.pool, "SELECT prefix FROM messages WHERE mailbox_id = $1 AND uid = $2", [mailboxId, uid]);
    if (!row) return null;
    return row.prefix ?? Buffer.alloc(0);
  }

  /** Expunged meanwhile (and its bytes removed): gone, as for any expunged message; otherwise damage. */
  private async missingBytes(message: StoredMessage, reason: "missing" | "short"): Promise<StoreError> {
    const still = await this.prefixOf(message.mailboxId, message.uid).catch(() => null);
    if (still === null) return new StoreError("NONEXISTENT", "message no longer exists");
    return this.damaged(message.blobId, reason, { mailboxId: message.mailboxId, uid: message.uid });
  }

  private damaged(blobId: BlobId, reason: "missing" | "short", where: Record<string, unknown>): StoreError {
    this.log.error("store.blob_damaged", { blobId, reason, ...where });
    return new StoreError("DAMAGED", reason === "missing" ? "the message's bytes are missing" : "the message's bytes are shorter than recorded");
  }

  findDamaged(mailboxId: MailboxId, uids: readonly Uid[]): Promise<Uid[]> {
    return this.read(async (db) => {
      if (uids.length === 0) return [];
      const list = await rows<{ uid: number; blob_id: string; size: number }>(db, "SELECT m.uid, m.blob_id, b.size FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = $1 AND m.uid = ANY($2::bigint[]) ORDER BY m.uid", [mailboxId, uidArray(uids)]);
      const stored = await this.blobs.sizes(list.map((r) => r.blob_id as BlobId));
      const damaged: Uid[] = [];
      for (const row of list) {
        const found = stored.get(row.blob_id as BlobId);
        if (found === row.size) continue;
        this.damaged(row.blob_id as BlobId, found === undefined ? "missing" : "short", { mailboxId, uid: row.uid });
        damaged.push(row.uid as Uid);
      }
      return damaged;
    });
  }

  // Changing messages ----------------------------------------------------------------------------

  updateFlags(mailboxId: MailboxId, uids: readonly Uid[], update: api.FlagUpdate): Promise<api.FlagUpdateResult> {
    return this.write(async (db, unit) => {
      if (!update || !["set", "add", "remove"].includes(update.mode)) throw new StoreError("INVALID", `unknown flag update mode ${String(update?.mode)}`);
      const flags = normaliseFlags(update.flags);
      const mailbox = await this.requireMailbox(db, mailboxId, true);
      const list = await rows<{ uid: number; modseq: number; flags: Flag[] }>(db, "SELECT uid, modseq, flags FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) ORDER BY uid", [mailboxId, uidArray(uids)]);
      const result: api.FlagUpdateResult = { updated: [], modified: [] };
      const changed: { uid: Uid; flags: Flag[] }[] = [];
      for (const row of list) {
        // RFC 7162 §3.1.3: a message changed since the client's view is left alone and reported.
        if (update.unchangedSince !== undefined && row.modseq > update.unchangedSince) {
          result.modified.push(row.uid as Uid);
          continue;
        }
        const next = applyFlagUpdate(row.flags, update.mode, flags);
        if (!sameFlags(row.flags, next)) changed.push({ uid: row.uid as Uid, flags: next });
      }
      if (changed.length === 0) return result;
      // One modseq for the whole update; the rows are written in one statement from a JSON list.
      const modseq = await this.nextModSeq(db, mailboxId);
      await db.query(
        `UPDATE messages m SET flags = ARRAY(SELECT json_array_elements_text(c.flags)), modseq = $2, seen = c.seen, deleted = c.deleted
           FROM json_to_recordset($3::json) AS c(uid bigint, flags json, seen boolean, deleted boolean)
          WHERE m.mailbox_id = $1 AND m.uid = c.uid`,
        [mailboxId, modseq, JSON.stringify(changed.map((c) => ({ uid: c.uid, flags: c.flags, seen: hasFlag(c.flags, "\\Seen"), deleted: hasFlag(c.flags, "\\Deleted") })))],
      );
      await this.logFlags(db, mailboxId, modseq, changed);
      for (const { uid, flags: next } of changed) {
        unit.add(mailbox.accountId, { kind: "flags", mailboxId, uid, modseq, flags: next });
        result.updated.push({ uid, modseq, flags: next });
      }
      return result;
    });
  }

  expungeDeleted(mailboxId: MailboxId, uids?: readonly Uid[]): Promise<api.ExpungeResult> {
    return this.write(async (db, unit) => {
      const mailbox = await this.requireMailbox(db, mailboxId, true);
      const doomed = (
        uids === undefined
          ? await rows<{ uid: number }>(db, "SELECT uid FROM messages WHERE mailbox_id = $1 AND deleted ORDER BY uid", [mailboxId])
          : await rows<{ uid: number }>(db, "SELECT uid FROM messages WHERE mailbox_id = $1 AND deleted AND uid = ANY($2::bigint[]) ORDER BY uid", [mailboxId, uidArray(uids)])
      ).map((r) => r.uid as Uid);
      const modseq = await this.expungeUids(db, unit, mailbox, doomed);
      return { expunged: doomed, highestModSeq: modseq ?? mailbox.highestModSeq };
    });
  }

  removeMessages(mailboxId: MailboxId, uids: readonly Uid[]): Promise<api.ExpungeResult> {
    return this.write(async (db, unit) => {
      const mailbox = await this.requireMailbox(db, mailboxId, true);
      const present = (await rows<{ uid: number }>(db, "SELECT uid FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) ORDER BY uid", [mailboxId, uidArray(uids)])).map((r) => r.uid as Uid);
      const modseq = await this.expungeUids(db, unit, mailbox, present);
      return { expunged: present, highestModSeq: modseq ?? mailbox.highestModSeq };
    });
  }

  private async expungeUids(db: Sql, unit: UnitOfWork, mailbox: Mailbox, uids: readonly Uid[]): Promise<ModSeq | null> {
    if (uids.length === 0) return null;
    const modseq = await this.nextModSeq(db, mailbox.id);
    const removed = await rows<RemovedRow>(db, "DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) RETURNING uid, size, blob_id", [mailbox.id, [...uids]]);
    removed.sort((a, b) => a.uid - b.uid);
    await this.logExpunged(db, mailbox.id, removed.map((r) => r.uid as Uid), modseq);
    for (const row of removed) unit.add(mailbox.accountId, { kind: "expunged", mailboxId: mailbox.id, uid: row.uid as Uid, modseq });
    await this.releaseRows(db, mailbox.accountId, removed);
    return modseq;
  }

  /** Gives back the account's bytes and removes blob rows (and bytes) nothing refers to any more. */
  private async releaseRows(db: Sql, accountId: AccountId, removed: RemovedRow[]): Promise<void> {
    if (removed.length === 0) return;
    const bytes = removed.reduce((sum, row) => sum + row.size, 0);
    // Freed at once, and the usage warning re-armed once below its threshold (store/quota.ts).
    await db.query("UPDATE accounts SET used_bytes = greatest(0, used_bytes - $1), used_messages = greatest(0, used_messages - $3) WHERE id = $2", [bytes, accountId, removed.length]);
    await this.rearmQuotaWarning(db, accountId);
    await dropUnreferencedBlobs(db, [...new Set(removed.map((row) => row.blob_id))]);
  }

  copyMessages(source: MailboxId, uids: readonly Uid[], target: MailboxId): Promise<api.UidMapping> {
    return this.write((db, unit) => this.copyIn(db, unit, source, uids, target, true));
  }

  moveMessages(source: MailboxId, uids: readonly Uid[], target: MailboxId): Promise<api.UidMapping> {
    return this.write(async (db, unit) => {
      // MOVE (RFC 6851 §3.3): copy and expunge in one transaction; within one account the bytes
      // stored do not change, so the quota is not checked (a full mailbox can still be tidied).
      const mapping = await this.copyIn(db, unit, source, uids, target, false);
      const sourceBox = await this.requireMailbox(db, source);
      await this.expungeUids(db, unit, sourceBox, mapping.pairs.map(([from]) => from));
      return mapping;
    });
  }

  private async copyIn(db: Sql, unit: UnitOfWork, sourceId: MailboxId, uids: readonly Uid[], targetId: MailboxId, countQuota: boolean): Promise<api.UidMapping> {
    // Both mailbox rows locked, in id order (as every writer takes them).
    const ids = [...new Set([sourceId, targetId])].sort((a, b) => a - b);
    const boxes = new Map<MailboxId, Mailbox>();
    for (const id of ids) boxes.set(id, await this.requireMailbox(db, id, true));
    const source = boxes.get(sourceId)!;
    const target = boxes.get(targetId)!;
    const list = await rows<{ uid: number; flags: Flag[]; internal_date: number; size: number; blob_id: string; prefix: Buffer | null }>(
      db,
      "SELECT uid, flags, internal_date, size, blob_id, prefix FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) ORDER BY uid",
      [sourceId, uidArray(uids)],
    );
    const mapping: api.UidMapping = { uidValidity: target.uidValidity, pairs: [] };
    if (list.length === 0) return mapping;
    const bytes = list.reduce((sum, row) => sum + row.size, 0);
    // Into another account (a shared mailbox, RFC 4314) the copy is the target owner's to pay for, also for MOVE.
    await this.chargeQuota(db, new Map([[target.accountId, { bytes, messages: list.length }]]), countQuota || source.accountId !== target.accountId);
    const firstUid = await this.reserveUids(db, targetId, list.length);
    const modseq = await this.nextModSeq(db, targetId);
    const newUids = list.map((_, i) => (firstUid + i) as Uid);
    await db.query(
      // RFC 8474 §5.1: the copy keeps EMAILID and THREADID; RFC 8514: its save date is now.
      `INSERT INTO messages (mailbox_id, uid, modseq, flags, seen, deleted, internal_date, size, blob_id, prefix, email_id, thread_id, save_date)
       SELECT $1, n.uid, $2, s.flags, s.seen, s.deleted, s.internal_date, s.size, s.blob_id, s.prefix, s.email_id, s.thread_id, $6
         FROM unnest($3::bigint[], $4::bigint[]) AS n(uid, source_uid) JOIN messages s ON s.mailbox_id = $5 AND s.uid = n.source_uid`,
      [targetId, modseq, newUids, list.map((r) => r.uid), sourceId, this.clock().getTime()],
    );
    await this.logAdded(db, targetId, newUids, modseq);
    list.forEach((row, i) => {
      unit.add(target.accountId, { kind: "added", mailboxId: targetId, uid: newUids[i]!, modseq });
      mapping.pairs.push([row.uid as Uid, newUids[i]!]);
    });
    return mapping;
  }

  // MaildropLeaseStore: the POP3 maildrop lock of every node ------------------------------------------

  acquireMaildrop(accountId: AccountId, holder: string, ttlMs: number): Promise<boolean> {
    return this.read(async (db) => {
      // One statement: the row is taken when free, expired, or already ours; a live lease of
      // another holder is left alone (the WHERE of DO UPDATE fails, nothing is returned).
      const row = await one(
        db,
        `INSERT INTO maildrop_leases (account_id, holder, expires_at) VALUES ($1, $2, ${DB_NOW_MS} + $3)
         ON CONFLICT (account_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
           WHERE maildrop_leases.expires_at <= ${DB_NOW_MS} OR maildrop_leases.holder = excluded.holder
         RETURNING 1`,
        [accountId, holder, checkCount(ttlMs, "ttlMs")],
      );
      return row !== undefined;
    });
  }

  renewMaildrop(accountId: AccountId, holder: string, ttlMs: number): Promise<boolean> {
    return this.read(async (db) => {
      const result = await db.query(`UPDATE maildrop_leases SET expires_at = ${DB_NOW_MS} + $3 WHERE account_id = $1 AND holder = $2`, [accountId, holder, checkCount(ttlMs, "ttlMs")]);
      return (result.rowCount ?? 0) > 0;
    });
  }

  releaseMaildrop(accountId: AccountId, holder: string): Promise<void> {
    return this.read(async (db) => {
      await db.query("DELETE FROM maildrop_leases WHERE account_id = $1 AND holder = $2", [accountId, holder]);
    });
  }

  // SharedAbuseStateStore (abuse-state.ts): throttling and limits that hold across nodes ----------------

  readThrottle(keys: readonly string[]): Promise<ThrottleSnapshot> {
    return this.read((db) => abuse.readThrottle(db, keys));
  }

  countThrottleFailures(keys: readonly string[], windowMs: number, trustedMs: number): Promise<ThrottleSnapshot> {
    return this.read((db) => abuse.countThrottleFailures(db, keys, checkCount(windowMs, "windowMs"), checkCount(trustedMs, "trustedMs")));
  }

  unlockThrottle(accountKey: string, pairSuffix: string): Promise<void> {
    // Failures cleared, trust kept: the user's usual addresses stay trusted.
    return this.read(async (db) => {
      await db.query("UPDATE auth_throttle SET failures = 0 WHERE key = $1 OR (key LIKE 'pair' || chr(9) || '%' AND right(key, length($2)) = $2)", [accountKey, pairSuffix]);
    });
  }

  forgiveThrottle(pairKey: string, otherKeys: readonly string[], windowMs: number): Promise<void> {
    return this.read((db) => abuse.forgiveThrottle(db, pairKey, otherKeys, checkCount(windowMs, "windowMs")));
  }

  pruneThrottle(windowMs: number, trustedMs: number, maxKeys: number): Promise<number> {
    return this.read((db) => abuse.pruneThrottle(db, checkCount(windowMs, "windowMs"), checkCount(trustedMs, "trustedMs"), checkCount(maxKeys, "maxKeys")));
  }

  admitIpMessage(ip: string, perHour: number): Promise<boolean> {
    return this.read((db) => abuse.admitIpMessage(db, ip, checkCount(perHour, "perHour")));
  }

  pruneIpMessages(): Promise<number> {
    return this.read((db) => abuse.pruneIpMessages(db));
  }

  publishConnections(nodeId: string, counts: ReadonlyMap<string, number>, staleMs: number): Promise<Map<string, number>> {
    return this.read((db) => abuse.publishConnections(db, nodeId, counts, checkCount(staleMs, "staleMs")));
  }

  withdrawConnections(nodeId: string): Promise<void> {
    return this.read((db) => abuse.withdrawConnections(db, nodeId));
  }

  // Import (`mailroom store copy`, import.ts) ---------------------------------------------------------

  /** An empty database: no domain, no account (a copy goes only into one). */
  async isEmpty(): Promise<boolean> {
    return this.read(async (db) => (await one(db, "SELECT 1 FROM domains UNION ALL SELECT 1 FROM accounts LIMIT 1")) === undefined);
  }

  /** An account as it was elsewhere (its hash, quota, policy, creation time), without default mailboxes. */
  importAccount(account: Account): Promise<AccountId> {
    return this.write(async (db) => {
      const address = parseAddress(account.address);
      const domainId = await this.requireDomainId(db, address.domain);
      const row = await one<{ id: number }>(
        db,
        `INSERT INTO accounts (domain_id, address, address_key, password_hash, quota_bytes, pop3_mode, pop3_mark_seen, pop3_login_delay, pop3_expire_days, created_at, quota_messages)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
        // The account's own limits, not the source's defaults applied to them (store/quota.ts).
        [domainId, address.address, address.key, account.passwordHash, account.quotaSetting ? account.quotaSetting.storageBytes : account.quotaBytes, account.pop3.mode, account.pop3.markSeen, account.pop3.loginDelaySeconds, account.pop3.expireDays, account.createdAt.getTime(), account.quotaSetting?.messages ?? null],
      );
      return row!.id as AccountId;
    });
  }

  /**
   * A mailbox with the UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and first recent UID it had elsewhere,
   * so clients keep their caches. The UIDVALIDITY counter moves past it.
   */
  importMailbox(accountId: AccountId, mailbox: Mailbox, firstRecentUid: number): Promise<MailboxId> {
    return this.write(async (db) => {
      await db.query(
        `INSERT INTO store_counters (name, value) VALUES ('uid_validity', $1) ON CONFLICT (name) DO UPDATE SET value = greatest(store_counters.value, excluded.value)`,
        [mailbox.uidValidity],
      );
      const row = await one<{ id: number }>(
        db,
        "INSERT INTO mailboxes (account_id, name, special_use, uid_validity, uid_next, highest_modseq, first_recent_uid) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        [accountId, normaliseMailboxName(mailbox.name), mailbox.specialUse, mailbox.uidValidity, mailbox.uidNext, mailbox.highestModSeq, firstRecentUid],
      );
      return row!.id as MailboxId;
    });
  }

  /** A message with its UID, modseq, flags and date from elsewhere; the bytes were staged here. */
  importMessage(mailboxId: MailboxId, message: { uid: Uid; modseq: ModSeq; flags: Flag[]; internalDate: Date; prefix: Buffer }, staged: api.StagedMessage): Promise<void> {
    return this.write(async (db) => {
      if (!(staged instanceof PgStagedMessage) || !staged.belongsTo(this.blobs)) throw new StoreError("INVALID", "staged message belongs to another store");
      const mailbox = await this.requireMailbox(db, mailboxId, true);
      const flags = normaliseFlags(message.flags);
      await this.insertBlobRow(db, staged);
      const size = message.prefix.length + staged.size;
      await db.query(
        `INSERT INTO messages (mailbox_id, uid, modseq, flags, seen, deleted, internal_date, size, blob_id, prefix, email_id, thread_id, save_date)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        [
          mailboxId, message.uid, message.modseq, flags, hasFlag(flags, "\\Seen"), hasFlag(flags, "\\Deleted"), message.internalDate.getTime(), size, staged.blobId,
          message.prefix.length > 0 ? message.prefix : null, newEmailId(), await this.assignThread(db, mailbox.accountId, threadKeys(staged.parsed.envelope, staged.parsed.headerFields)), this.clock().getTime(),
        ],
      );
      await db.query("UPDATE accounts SET used_bytes = used_bytes + $1, used_messages = used_messages + 1 WHERE id = $2", [size, mailbox.accountId]);
      await db.query("DELETE FROM blob_pins WHERE pin = $1", [staged.pin]);
      staged.markReleased();
    });
  }

  /**
   * The UIDs below UIDNEXT that no message has (expunged before the copy) become tombstones at the
   * mailbox's HIGHESTMODSEQ, so a QRESYNC client resyncing from an older modseq is told they
   * vanished (RFC 7162 §3.2.10).
   */
  /** `store copy`: a user's \Seen rows as they were, no modseq taken. */
  importPrivateSeen(mailboxId: MailboxId, accountId: AccountId, uids: readonly Uid[]): Promise<void> {
    return this.write(async (db) => {
      await acl.writePrivateSeen(db, mailboxId, accountId, uidArray(uids), true);
    });
  }

  importTombstones(mailboxId: MailboxId): Promise<number> {
    return this.write(async (db) => {
      const result = await db.query(
        `INSERT INTO changes (mailbox_id, modseq, kind, uid)
         SELECT b.id, b.highest_modseq, 'expunged', u FROM mailboxes b, generate_series(1, b.uid_next - 1) AS u
          WHERE b.id = $1 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.mailbox_id = b.id AND m.uid = u)`,
        [mailboxId],
      );
      return result.rowCount ?? 0;
    });
  }

  // QueueStore (queue.ts) ------------------------------------------------------------------------

  enqueue(request: EnqueueRequest): Promise<QueuedMessage> {
    return this.track(async () => {
      const prefix = checkEnqueueRequest(request);
      const staged = request.message;
      if (!(staged instanceof PgStagedMessage) || !staged.belongsTo(this.blobs)) throw new StoreError("INVALID", "staged message belongs to another store");
      const entry = await this.mutate(async (db) => {
        await this.insertBlobRow(db, staged);
        const id = await queue.insertEntry(db, staged.blobId, staged.size, request, prefix, this.clock().getTime());
        await db.query("DELETE FROM blob_pins WHERE pin = $1", [staged.pin]);
        return (await queue.getQueued(db, id))!;
      });
      staged.markReleased();
      return entry;
    });
  }

  /**
   * An entry as it was in another store (`mailroom restore` of an embedded backup into PostgreSQL):
   * the bytes as they would be sent (trace prefix included) staged here, with its dates, each
   * recipient's state, attempts and last result, and whether its delay warning went. Returns the new id.
   */
  importQueued(entry: QueuedMessage, staged: api.StagedMessage): Promise<number> {
    return this.track(async () => {
      if (!(staged instanceof PgStagedMessage) || !staged.belongsTo(this.blobs)) throw new StoreError("INVALID", "staged message belongs to another store");
      const request: EnqueueRequest = {
        message: staged,
        mailFrom: entry.mailFrom,
        submittedBy: entry.submittedBy,
        recipients: entry.recipients.map((r) => ({ address: r.address, notify: r.notify, originalRecipient: r.originalRecipient })),
        envelopeId: entry.envelopeId,
        ret: entry.ret,
        bodyType: entry.bodyType,
        smtputf8: entry.smtputf8,
        // RFC 8689: the REQUIRETLS tag goes with the entry into the new store.
        requireTls: entry.requireTls === true,
      };
      const id = await this.mutate(async (db) => {
        await this.insertBlobRow(db, staged);
        const id = await queue.insertEntry(db, staged.blobId, staged.size, request, Buffer.alloc(0), entry.createdAt.getTime());
        await db.query("UPDATE queue SET next_attempt_at = $2, delay_warned = $3 WHERE id = $1", [id, entry.nextAttemptAt.getTime(), entry.delayWarned]);
        for (const [position, r] of entry.recipients.entries()) {
          await db.query("UPDATE queue_recipients SET state = $3, attempts = $4, last_result = $5 WHERE queue_id = $1 AND position = $2", [id, position, r.state, r.attempts, r.lastResult]);
        }
        await db.query("DELETE FROM blob_pins WHERE pin = $1", [staged.pin]);
        return id;
      });
      staged.markReleased();
      return id;
    });
  }

  getQueued(id: number): Promise<QueuedMessage | null> {
    return this.read((db) => queue.getQueued(db, id));
  }
  listQueue(limit = 1000): Promise<QueuedMessage[]> {
    return this.read((db) => queue.listQueue(db, checkCount(limit, "limit"), true));
  }

  countQueue(): Promise<number> {
    return this.read((db) => queue.countQueue(db));
  }

  async listQueuePage(query: QueuePageQuery): Promise<QueuedMessage[]> {
    const limit = checkCount(query.limit, "limit");
    return this.read((db) => queue.listQueuePage(db, { ...query, limit: Math.min(limit, 1000) }));
  }
  listFinished(limit = 1000): Promise<QueuedMessage[]> {
    return this.read((db) => queue.listQueue(db, checkCount(limit, "limit"), false));
  }

  openQueued(entry: QueuedMessage): Readable {
    if (this.closing) return failedStream(new StoreError("UNAVAILABLE", "store is closed"));
    return Readable.from(this.queuedBytes(entry), { objectMode: false });
  }

  private async *queuedBytes(entry: QueuedMessage): AsyncGenerator<Buffer> {
    const store = this as PostgresStore;
    {
      const row = await one<{ prefix: Buffer | null }>(store.pool, "SELECT prefix FROM queue WHERE id = $1", [entry.id]).catch((err: unknown) => {
        throw toStoreError(err);
      });
      if (!row) throw new StoreError("NONEXISTENT", "queue entry no longer exists");
      if (row.prefix && row.prefix.length > 0) yield row.prefix;
      try {
        yield* store.blobs.read(entry.blobId);
      } catch (err) {
        if (!(err instanceof BlobMissingError)) throw toStoreError(err);
        const still = await one(store.pool, "SELECT 1 FROM queue WHERE id = $1", [entry.id]).catch(() => undefined);
        throw still ? store.damaged(entry.blobId, err.reason, { queueId: entry.id }) : new StoreError("NONEXISTENT", "queue entry no longer exists");
      }
    }
  }

  leaseDue(now: Date, limit: number, leaseMs: number): Promise<QueuedMessage[]> {
    return this.write((db) => queue.leaseDue(db, checkDate(now).getTime(), checkCount(limit, "limit"), checkCount(leaseMs, "leaseMs")));
  }

  recordAttempt(id: number, results: RecipientResult[], nextAttemptAt: Date, options: RecordAttemptOptions = {}): Promise<QueuedMessage> {
    return this.write((db) => queue.recordAttempt(db, id, checkResults(results), checkDate(nextAttemptAt).getTime(), options.delayWarned === true));
  }

  complete(id: number): Promise<void> {
    return this.write(async (db) => {
      const blobId = await queue.completeEntry(db, id);
      await dropUnreferencedBlobs(db, [blobId]);
    });
  }

  // AclStore (acl.ts) -----------------------------------------------------------------------------
  getAcl(mailboxId: MailboxId): Promise<AclEntry[]> {
    return this.read((db) => acl.getAcl(db, mailboxId));
  }
  setAcl(mailboxId: MailboxId, identifier: string, rights: string): Promise<void> {
    return this.write((db) => acl.setAcl(db, mailboxId, identifier, rights));
  }
  listSharedMailboxes(viewer: AccountId): Promise<SharedMailbox[]> {
    return this.read((db) => acl.listSharedMailboxes(db, viewer));
  }
  findSharedMailbox(viewer: AccountId, ownerAddress: string, name: string): Promise<SharedMailbox | null> {
    return this.read((db) => acl.findSharedMailbox(db, viewer, ownerAddress, name));
  }
  rightsOf(mailboxId: MailboxId, viewer: AccountId): Promise<string> {
    return this.read((db) => acl.rightsOf(db, mailboxId, viewer));
  }
  getPrivateSeen(mailboxId: MailboxId, viewer: AccountId, uids?: readonly Uid[]): Promise<Uid[]> {
    return this.read((db) => acl.getPrivateSeen(db, mailboxId, viewer, uids));
  }
  /** The user's \Seen as its own rows (acl.ts), under the mailbox row lock, one modseq, logged as a flags change. */
  updatePrivateSeen(mailboxId: MailboxId, viewer: AccountId, uids: readonly Uid[], seen: boolean, unchangedSince?: ModSeq): Promise<api.FlagUpdateResult> {
    return this.write(async (db, unit) => {
      const mailbox = await this.requireMailbox(db, mailboxId, true);
      const result: api.FlagUpdateResult = { updated: [], modified: [] };
      const changing: { uid: Uid; flags: Flag[] }[] = [];
      for (const row of await acl.privateSeenRows(db, mailboxId, viewer, uids)) {
        if (unchangedSince !== undefined && row.modseq > unchangedSince) result.modified.push(row.uid as Uid);
        else if (row.seen !== seen) changing.push({ uid: row.uid as Uid, flags: row.flags as Flag[] });
      }
      if (changing.length === 0) return result;
      const modseq = await this.nextModSeq(db, mailboxId);
      const changed = changing.map((c) => c.uid);
      await acl.writePrivateSeen(db, mailboxId, viewer, changed, seen);
      await db.query("UPDATE messages SET modseq = $1 WHERE mailbox_id = $2 AND uid = ANY($3::bigint[])", [modseq, mailboxId, changed]);
      await this.logFlags(db, mailboxId, modseq, changing);
      for (const { uid, flags } of changing) {
        unit.add(mailbox.accountId, { kind: "flags", mailboxId, uid, modseq, flags });
        result.updated.push({ uid, modseq, flags });
      }
      return result;
    });
  }

  // MetadataStore (metadata.ts) ------------------------------------------------------------------

  getMetadata(userId: AccountId, mailboxId: MailboxId | null): Promise<MetadataEntry[]> {
    return this.read((db) => metadata.getMetadata(db, userId, mailboxId));
  }

  async setMetadata(userId: AccountId, mailboxId: MailboxId | null, changes: readonly MetadataChange[], limits: MetadataLimits): Promise<MetadataWriteResult> {
    try {
      return await this.write((db, unit) => metadata.setMetadata(db, unit, userId, mailboxId, changes, limits));
    } catch (error) {
      if (error instanceof metadata.MetadataRefusal) return { ok: false, reason: error.reason };
      throw error;
    }
  }

  // SieveStore -----------------------------------------------------------------------------------

  listSieveScripts(accountId: AccountId): Promise<SieveScriptInfo[]> {
    return this.read(async (db) =>
      (await rows<{ name: string; active: boolean; size: number }>(db, "SELECT name, active, octet_length(content) AS size FROM sieve_scripts WHERE account_id = $1 ORDER BY name", [accountId])).map((r) => ({ name: r.name, active: r.active, size: r.size })),
    );
  }

  private async script(db: Sql, accountId: AccountId, where: string, params: unknown[]): Promise<SieveScript | null> {
    const row = await one<{ name: string; content: string; active: boolean; updated_at: number }>(db, `SELECT name, content, active, updated_at FROM sieve_scripts WHERE account_id = $1 AND ${where}`, [accountId, ...params]);
    return row ? { name: row.name, content: row.content, active: row.active, size: Buffer.byteLength(row.content, "utf8"), updatedAt: new Date(row.updated_at) } : null;
  }

  getSieveScript(accountId: AccountId, name: string): Promise<SieveScript | null> {
    return this.read((db) => this.script(db, accountId, "name = $2", [name]));
  }
  getActiveSieveScript(accountId: AccountId): Promise<SieveScript | null> {
    return this.read((db) => this.script(db, accountId, "active", []));
  }

  putSieveScript(accountId: AccountId, name: string, content: string, maxScripts: number): Promise<void> {
    return this.write(async (db) => {
      await this.requireAccountId(db, accountId);
      if (typeof name !== "string" || name === "" || /[\u0000-\u001f\u007f]/.test(name)) throw new StoreError("INVALID", "invalid script name");
      if (typeof content !== "string" || content.includes("\0")) throw new StoreError("INVALID", "script content must be text without NUL");
      const now = this.clock().getTime();
      // The account row lock serialises script creation, so the count cannot be raced past.
      await db.query("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", [accountId]);
      const updated = await db.query("UPDATE sieve_scripts SET content = $1, updated_at = $2 WHERE account_id = $3 AND name = $4", [content, now, accountId, name]);
      if ((updated.rowCount ?? 0) > 0) return;
      const count = (await one<{ n: number }>(db, "SELECT count(*)::bigint AS n FROM sieve_scripts WHERE account_id = $1", [accountId]))!.n;
      if (count >= maxScripts) throw new StoreError("CANNOT", `at most ${maxScripts} scripts per account`);
      await db.query("INSERT INTO sieve_scripts (account_id, name, content, active, updated_at) VALUES ($1, $2, $3, false, $4)", [accountId, name, content, now]);
    });
  }

  setActiveSieveScript(accountId: AccountId, name: string | null): Promise<void> {
    return this.write(async (db) => {
      if (name !== null && !(await one(db, "SELECT 1 FROM sieve_scripts WHERE account_id = $1 AND name = $2", [accountId, name]))) throw new StoreError("NONEXISTENT", `no script ${name}`);
      await db.query("UPDATE sieve_scripts SET active = false WHERE account_id = $1 AND active", [accountId]);
      if (name !== null) await db.query("UPDATE sieve_scripts SET active = true WHERE account_id = $1 AND name = $2", [accountId, name]);
    });
  }

  deleteSieveScript(accountId: AccountId, name: string): Promise<void> {
    return this.write(async (db) => {
      const row = await one<{ active: boolean }>(db, "SELECT active FROM sieve_scripts WHERE account_id = $1 AND name = $2 FOR UPDATE", [accountId, name]);
      if (!row) throw new StoreError("NONEXISTENT", `no script ${name}`);
      if (row.active) throw new StoreError("CANNOT", `script ${name} is active`);
      await db.query("DELETE FROM sieve_scripts WHERE account_id = $1 AND name = $2", [accountId, name]);
    });
  }

  renameSieveScript(accountId: AccountId, from: string, to: string): Promise<void> {
    return this.write(async (db) => {
      if (!(await one(db, "SELECT 1 FROM sieve_scripts WHERE account_id = $1 AND name = $2", [accountId, from]))) throw new StoreError("NONEXISTENT", `no script ${from}`);
      if (await one(db, "SELECT 1 FROM sieve_scripts WHERE account_id = $1 AND name = $2", [accountId, to])) throw new StoreError("ALREADYEXISTS", `script ${to} exists`);
      if (typeof to !== "string" || to === "" || /[\u0000-\u001f\u007f]/.test(to)) throw new StoreError("INVALID", "invalid script name");
      await db.query("UPDATE sieve_scripts SET name = $1 WHERE account_id = $2 AND name = $3", [to, accountId, from]);
    });
  }

  claimVacationReply(accountId: AccountId, handle: string, sender: string, periodSeconds: number, now: Date): Promise<boolean> {
    return this.write(async (db) => {
      // One statement: the insert-or-update only happens when the period has passed, so two nodes
      // handling mail from one sender at once send one reply.
      const row = await one(
        db,
        `INSERT INTO sieve_vacation (account_id, handle, sender, replied_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (account_id, handle, sender) DO UPDATE SET replied_at = excluded.replied_at
           WHERE excluded.replied_at - sieve_vacation.replied_at >= $5 RETURNING 1`,
        [accountId, handle, sender.toLowerCase(), now.getTime(), periodSeconds * 1000],
      );
      return row !== undefined;
    });
  }

  /** RFC 7352: the keys of `keys` the account has recorded and that have not expired at `now`. */
  seenSieveDuplicates(accountId: AccountId, keys: readonly string[], now: Date): Promise<Set<string>> {
    return this.read(async (db) => {
      if (keys.length === 0) return new Set<string>();
      const list = await rows<{ key: string }>(db, "SELECT key FROM sieve_duplicates WHERE account_id = $1 AND key = ANY($2::text[]) AND expires_at > $3", [accountId, [...new Set(keys)], now.getTime()]);
      return new Set(list.map((r) => r.key));
    });
  }

  /** As SQLite's (store/sqlite/sieve.ts): expired rows go, absent keys are added, :last moves an expiry. */
  recordSieveDuplicates(accountId: AccountId, entries: readonly SieveDuplicateEntry[], now: Date): Promise<void> {
    return this.track(() =>
      transaction(this.pool, async (db) => {
        const t = now.getTime();
        await db.query("DELETE FROM sieve_duplicates WHERE account_id = $1 AND expires_at <= $2", [accountId, t]);
        for (const e of entries) {
          await db.query(
            `INSERT INTO sieve_duplicates (account_id, key, expires_at) VALUES ($1, $2, $3) ON CONFLICT (account_id, key) DO ${e.last ? "UPDATE SET expires_at = excluded.expires_at" : "NOTHING"}`,
            [accountId, e.key, t + e.seconds * 1000],
          );
        }
      }),
    );
  }

  // MigrationStateStore (migration-state.ts) ---------------------------------------------------------

  getMigrationFolder(accountId: AccountId, source: string, folder: string): Promise<MigrationFolderState | null> {
    return this.read((db) => migrationState.getFolder(db, accountId, source, folder));
  }

  recordMigration(accountId: AccountId, source: string, folder: string, state: MigrationFolderState, copied: readonly MigratedMessage[]): Promise<void> {
    return this.track(() => transaction(this.pool, (db) => migrationState.record(db, accountId, source, folder, state, copied, this.clock())));
  }

  listMigrated(accountId: AccountId, source: string, folder: string): Promise<Map<string, { mailboxId: MailboxId; uid: Uid }>> {
    return this.read((db) => migrationState.listMigrated(db, accountId, source, folder));
  }

  forgetMigrationFolder(accountId: AccountId, source: string, folder: string): Promise<void> {
    return this.track(() => transaction(this.pool, (db) => migrationState.forget(db, accountId, source, folder)));
  }

  // SpamTokenStore and GreylistStore (spam.ts) ---------------------------------------------------------

  readSpamTokens(accountId: AccountId, tokens: readonly number[]): Promise<SpamTokenCounts> {
    return this.read((db) => spam.readTokens(db, accountId, tokens));
  }

  trainSpamMessage(accountId: AccountId, messageKey: string, tokens: readonly number[], kind: SpamClass): Promise<boolean> {
    return this.track(() => transaction(this.pool, (db) => spam.trainMessage(db, accountId, messageKey, tokens, kind, this.clock())));
  }

  checkGreylist(check: GreylistCheck): Promise<GreylistDecision> {
    return this.track(() => transaction(this.pool, (db) => spam.checkGreylist(db, check)));
  }

  expireGreylist(now: Date, maxAgeSeconds: number): Promise<number> {
    return this.track(() => spam.expireGreylist(this.pool, now, maxAgeSeconds));
  }

  // TlsReportStore (tls-reports.ts) -----------------------------------------------------------------

  addTlsReport(report: TlsReport, receivedAt: Date): Promise<boolean> {
    return this.track(() => tlsReports.addReport(this.pool, report, receivedAt));
  }

  listTlsReports(since: Date, limit: number): Promise<StoredTlsReport[]> {
    return this.read((db) => tlsReports.listReports(db, since, limit));
  }

  // AdminHistoryStore (admin-history.ts) --------------------------------------------------------------

  addMinuteCounts(points: readonly MinuteCounts[]): Promise<void> {
    return this.track(() => adminHistory.addMinuteCounts(this.pool, points));
  }
  readMinuteCounts(since: number): Promise<MinuteCounts[]> {
    return this.read((db) => adminHistory.readMinuteCounts(db, since));
  }
  pruneMinuteCounts(before: number): Promise<number> {
    return this.track(() => adminHistory.pruneMinuteCounts(this.pool, before));
  }
  addDeliveries(entries: readonly DeliveryRecord[]): Promise<void> {
    return this.track(() => adminHistory.addDeliveries(this.pool, entries));
  }
  listDeliveries(query: DeliveryRecordQuery): Promise<DeliveryRecord[]> {
    return this.read((db) => adminHistory.listDeliveries(db, query));
  }
  pruneDeliveries(keep: number): Promise<number> {
    return this.track(() => adminHistory.pruneDeliveries(this.pool, keep));
  }

  // TlsRptSessionStore (tls-rpt-sessions.ts) --------------------------------------------------------

  addTlsSessions(counts: readonly TlsSessionCount[]): Promise<void> {
    return this.track(() => tlsRptSessions.addSessions(this.pool, counts));
  }
  listTlsSessionDomains(beforeDay: string): Promise<{ day: string; policyDomain: string }[]> {
    return this.read((db) => tlsRptSessions.listDomains(db, beforeDay));
  }
  takeTlsSessions(day: string, policyDomain: string): Promise<TlsSessionCount[]> {
    return this.track(() => tlsRptSessions.takeSessions(this.pool, day, policyDomain));
  }

  // WebAuthStore (web-auth.ts) ------------------------------------------------------------------------

  addAdminUser(name: string, passwordHash: string, createdAt: Date): Promise<AdminUser> {
    return this.track(() => webAuth.addAdminUser(this.pool, name, passwordHash, createdAt));
  }
  findAdminUser(name: string): Promise<AdminUser | null> {
    return this.read((db) => webAuth.findAdminUser(db, name));
  }
  listAdminUsers(): Promise<AdminUser[]> {
    return this.read((db) => webAuth.listAdminUsers(db));
  }
  setAdminPasswordHash(name: string, passwordHash: string): Promise<void> {
    return this.track(() => webAuth.setAdminPasswordHash(this.pool, name, passwordHash));
  }
  deleteAdminUser(name: string): Promise<void> {
    return this.track(() => webAuth.deleteAdminUser(this.pool, name));
  }
  createWebSession(session: WebSession): Promise<void> {
    return this.track(() => webAuth.createWebSession(this.pool, session));
  }
  findWebSession(idHash: string, now: Date): Promise<WebSession | null> {
    return this.read((db) => webAuth.findWebSession(db, idHash, now));
  }
  extendWebSession(idHash: string, expiresAt: Date): Promise<void> {
    return this.track(() => webAuth.extendWebSession(this.pool, idHash, expiresAt));
  }
  deleteWebSession(idHash: string): Promise<void> {
    return this.track(() => webAuth.deleteWebSession(this.pool, idHash));
  }
  deleteWebSessionsOf(kind: WebSession["kind"], subject: string): Promise<number> {
    return this.track(() => webAuth.deleteWebSessionsOf(this.pool, kind, subject));
  }
  pruneWebSessions(now: Date): Promise<number> {
    return this.track(() => webAuth.pruneWebSessions(this.pool, now));
  }
  addApiToken(token: { name: string; admin: string; tokenHash: string; createdAt: Date; expiresAt: Date | null }): Promise<ApiToken> {
    return this.track(() => webAuth.addApiToken(this.pool, token));
  }
  findApiToken(tokenHash: string): Promise<ApiToken | null> {
    return this.read((db) => webAuth.findApiToken(db, tokenHash));
  }
  listApiTokens(): Promise<ApiToken[]> {
    return this.read((db) => webAuth.listApiTokens(db));
  }
  deleteApiToken(id: number): Promise<boolean> {
    return this.track(() => webAuth.deleteApiToken(this.pool, id));
  }
  markApiTokenUsed(id: number, at: Date): Promise<void> {
    return this.track(() => webAuth.markApiTokenUsed(this.pool, id, at));
  }
  getAdminTotp(name: string): Promise<string | null> {
    return this.track(() => webAuth.getAdminTotp(this.pool, name));
  }
  setAdminTotp(name: string, totp: string | null, expect?: string | null): Promise<boolean> {
    return this.track(() => webAuth.setAdminTotp(this.pool, name, totp, expect));
  }
  addWebAuthnCredential(credential: NewWebAuthnCredential): Promise<WebAuthnCredential> {
    return this.track(() => webAuth.addWebAuthnCredential(this.pool, credential));
  }
  listWebAuthnCredentials(owner: CredentialOwner): Promise<WebAuthnCredential[]> {
    return this.track(() => webAuth.listWebAuthnCredentials(this.pool, owner));
  }
  findWebAuthnCredential(credentialId: string): Promise<WebAuthnCredential | null> {
    return this.track(() => webAuth.findWebAuthnCredential(this.pool, credentialId));
  }
  useWebAuthnCredential(id: number, expectedSignCount: number, signCount: number, at: Date): Promise<boolean> {
    return this.track(() => webAuth.useWebAuthnCredential(this.pool, id, expectedSignCount, signCount, at));
  }
  deleteWebAuthnCredential(owner: CredentialOwner, id: number): Promise<boolean> {
    return this.track(() => webAuth.deleteWebAuthnCredential(this.pool, owner, id));
  }

  // StoreMaintenance (maintenance.ts) ----------------------------------------------------------------

  checkStore(options: StoreCheckOptions = {}): Promise<StoreCheckReport> {
    return this.track(() => maintenance.checkStore(this.pool, this.clock, options));
  }

  checkSearchIndex(options: SearchIndexCheckOptions = {}): Promise<SearchIndexCheckReport> {
    return this.track(() => maintenance.checkSearchIndex(this.pool, this.blobs, this.mimeLimits, options));
  }

  rebuildSearchIndex(options: SearchIndexRebuildOptions = {}): Promise<SearchIndexRebuildReport> {
    return this.track(() => maintenance.rebuildSearchIndex(this.pool, this.blobs, this.mimeLimits, options));
  }
}

interface RemovedRow {
  uid: number;
  size: number;
  blob_id: string;
}

/** A StagedMessage of some other store (the SQLite one's class, say): refused, never read as bytes. */
function isForeignStaged(source: unknown): boolean {
  return typeof source === "object" && source !== null && "blobId" in source && "discard" in source && typeof (source as { discard: unknown }).discard === "function";
}

/**
 * Deletes the derived rows of these blobs when no message or queue entry refers to them any
 * more, then their bytes (unless pinned). A reference added concurrently by another transaction
 * makes the delete fail on a foreign key: that blob stays (savepoint), the others still go.
 */
export async function dropUnreferencedBlobs(db: Sql, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const sql = `DELETE FROM blobs b WHERE b.id = ANY($1::text[])
                 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob_id = b.id)
                 AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.blob_id = b.id) RETURNING b.id`;
  await db.query("SAVEPOINT drop_blobs");
  let gone: string[];
  try {
    gone = (await rows<{ id: string }>(db, sql, [ids])).map((r) => r.id);
    await db.query("RELEASE SAVEPOINT drop_blobs");
  } catch (err) {
    await db.query("ROLLBACK TO SAVEPOINT drop_blobs");
    await db.query("RELEASE SAVEPOINT drop_blobs");
    if ((err as { code?: unknown }).code !== "23503") throw err;
    if (ids.length === 1) return;
    for (const id of ids) await dropUnreferencedBlobs(db, [id]);
    return;
  }
  await dropUnreferencedContents(db, gone);
}
