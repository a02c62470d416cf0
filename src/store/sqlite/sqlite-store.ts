// The embedded backend: MailStore, AccountStore and QueueStore over one SQLite file (better-sqlite3, WAL,
// synchronous=FULL) plus the content-addressed blob directory, both under `dataDir`.
//
// Reads run synchronously against the database. Every mutation goes through the CommitQueue
// (group commit, see commit-queue.ts) and is published on the ChangeFeed after COMMIT. A
// delivery first makes its blob durable (blobs/), then queues its rows; the caller is resolved
// only when the COMMIT holding them has been fsynced. Blob files whose last row went are queued
// in the same transaction and removed by the collector (blob-collector.ts), which only the
// serving process runs; opening the store never deletes anything.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { foldCase } from "../../mail/case-fold.js";
import { fuzzyGrams, fuzzyMinOverlap, mergeFuzzy } from "../../mail/fuzzy-match.js";
import { parseHeaderBlock } from "../../mail/header-fields.js";
import { headerSearchEntry, searchableField } from "../../mail/header-search.js";
import { MimeTreeBuilder } from "../../mail/mime-tree.js";
import { SentOctetCounter } from "../../mail/sent-octets.js";
import type { AccountStore, NewAccount, QuotaLimits } from "../account-store.js";
import type { StoreMaintenance } from "../maintenance.js";
import type { CopyTarget } from "../copy-target.js";
import { threadKeys } from "../object-ids.js";
import type { SieveDuplicateEntry, SieveScript, SieveScriptInfo, SieveStore } from "../sieve-store.js";
import type { SpamClass, SpamTokenCounts, SpamTokenStore } from "../spam-store.js";
import type { GreylistCheck, GreylistDecision, GreylistStore } from "../greylist-store.js";
import type { StoredTlsReport, TlsReport, TlsReportStore } from "../tls-report-store.js";
import type { AdminUser, ApiToken, CredentialOwner, NewWebAuthnCredential, WebAuthnCredential, WebAuthStore, WebSession } from "../web-auth-store.js";
import * as tlsReports from "./tls-reports.js";
import * as tlsRptSessions from "./tls-rpt-sessions.js";
import type { TlsRptSessionStore, TlsSessionCount } from "../tls-rpt-session-store.js";
import * as webAuth from "./web-auth.js";
import * as adminHistory from "./admin-history.js";
import type { AdminHistoryStore, DeliveryRecord, DeliveryRecordQuery, MinuteCounts } from "../admin-history-store.js";
import type { MailboxChangesSince } from "../changes.js";
import { isStoreError, StoreError } from "../errors.js";
import type * as api from "../mail-store.js";
import type { EnqueueRequest, QueuedMessage, QueuePageQuery, QueueStore, RecipientResult, RecordAttemptOptions } from "../queue-store.js";
import type { Account, AccountId, Alias, BlobId, ByteRange, Domain, Flag, Mailbox, MailboxId, MailboxStatus, MessageSummary, ModSeq, Pop3Policy, StoredMessage, Uid, UidValidity } from "../types.js";
import { BlobDirectory } from "../blobs/blob-directory.js";
import { logicalMessageStream } from "../blobs/message-bytes.js";
import * as accounts from "./accounts.js";
import * as authState from "./auth-state.js";
import type { AccountAuthState, AppPassword, AuthStateStore, NewAppPassword } from "../auth-store.js";
import { checkCount, checkDate, checkEnqueueRequest, checkKeptUids, checkMaxBytes, checkPrefix, checkResults, failedStream, toStoreError } from "./checks.js";
import { changesSince, logAdded } from "./change-log.js";
import { headerMatchPage } from "./header-search.js";
import * as domains from "./domains-aliases.js";
import { normaliseFlags } from "./flag-rules.js";
import { normaliseMailboxName } from "./mailbox-names.js";
import * as mailboxes from "./mailboxes.js";
import * as updates from "./message-updates.js";
import * as messages from "./messages.js";
import * as queue from "./queue.js";
import * as recent from "./recent.js";
import * as sieve from "./sieve.js";
import * as spamTokens from "./spam-tokens.js";
import * as greylist from "./greylist.js";
import * as migrationState from "./migration-state.js";
import * as metadata from "./metadata.js";
import * as acl from "./acl.js";
import type { AclEntry, SharedMailbox } from "../acl-store.js";
import type { MetadataChange, MetadataEntry, MetadataLimits, MetadataWriteResult } from "../metadata-store.js";
import type { MigratedMessage, MigrationFolderState, MigrationStateStore } from "../migration-store.js";
import { openDatabase } from "./sqlite-database.js";
import { SqliteStagedMessage, STAGED_HEAD_BYTES } from "./staged-message.js";
import type { StoreContext, UnitOfWork } from "./store-context.js";
import { SqliteStoreCore, type SqliteStoreOptions } from "./store-core.js";

export type { SqliteStoreOptions } from "./store-core.js";

const DATABASE_FILE = "mailroom.sqlite";
/** File reads in flight for one readMessages call. */
const READ_PARALLELISM = 8;

export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  await mkdir(options.dataDir, { recursive: true });
  const blobs = await BlobDirectory.open(join(options.dataDir, "blobs"), options.blobs);
  const clock = options.clock ?? (() => new Date());
  const databasePath = join(options.dataDir, DATABASE_FILE);
  const db = openDatabase(databasePath, clock);
  return new SqliteStore(db, blobs, { ...options, clock, databasePath });
}

export class SqliteStore extends SqliteStoreCore implements api.MailStore, AccountStore, QueueStore, StoreMaintenance, SieveStore, SpamTokenStore, GreylistStore, TlsReportStore, TlsRptSessionStore, WebAuthStore, AdminHistoryStore, CopyTarget, MigrationStateStore, AuthStateStore {
  // MigrationStateStore (migration-state.ts) --------------------------------------------------------
  getMigrationFolder(accountId: AccountId, source: string, folder: string): Promise<MigrationFolderState | null> {
    return this.read((ctx) => migrationState.getFolder(ctx, accountId, source, folder));
  }
  recordMigration(accountId: AccountId, source: string, folder: string, state: MigrationFolderState, copied: readonly MigratedMessage[]): Promise<void> {
    return this.write((ctx) => migrationState.record(ctx, accountId, source, folder, state, copied));
  }
  listMigrated(accountId: AccountId, source: string, folder: string): Promise<Map<string, { mailboxId: MailboxId; uid: Uid }>> {
    return this.read((ctx) => migrationState.listMigrated(ctx, accountId, source, folder));
  }
  forgetMigrationFolder(accountId: AccountId, source: string, folder: string): Promise<void> {
    return this.write((ctx) => migrationState.forget(ctx, accountId, source, folder));
  }

  // MetadataStore (metadata.ts) --------------------------------------------------------------------
  getMetadata(userId: AccountId, mailboxId: MailboxId | null): Promise<MetadataEntry[]> {
    return this.read((ctx) => metadata.getMetadata(ctx, userId, mailboxId));
  }
  async setMetadata(userId: AccountId, mailboxId: MailboxId | null, changes: readonly MetadataChange[], limits: MetadataLimits): Promise<MetadataWriteResult> {
    try {
      return await this.write((ctx, unit) => metadata.setMetadata(ctx, unit, userId, mailboxId, changes, limits));
    } catch (error) {
      if (error instanceof metadata.MetadataRefusal) return { ok: false, reason: error.reason };
      throw error;
    }
  }

  // AclStore (acl.ts) ------------------------------------------------------------------------------
  getAcl(mailboxId: MailboxId): Promise<AclEntry[]> {
    return this.read((ctx) => acl.getAcl(ctx, mailboxId));
  }
  setAcl(mailboxId: MailboxId, identifier: string, rights: string): Promise<void> {
    return this.write((ctx) => acl.setAcl(ctx, mailboxId, identifier, rights));
  }
  listSharedMailboxes(viewer: AccountId): Promise<SharedMailbox[]> {
    return this.read((ctx) => acl.listSharedMailboxes(ctx, viewer));
  }
  findSharedMailbox(viewer: AccountId, ownerAddress: string, name: string): Promise<SharedMailbox | null> {
    return this.read((ctx) => acl.findSharedMailbox(ctx, viewer, ownerAddress, name));
  }
  rightsOf(mailboxId: MailboxId, viewer: AccountId): Promise<string> {
    return this.read((ctx) => acl.rightsOf(ctx, mailboxId, viewer));
  }
  getPrivateSeen(mailboxId: MailboxId, viewer: AccountId, uids?: readonly Uid[]): Promise<Uid[]> {
    return this.read((ctx) => acl.getPrivateSeen(ctx, mailboxId, viewer, uids));
  }
  updatePrivateSeen(mailboxId: MailboxId, viewer: AccountId, uids: readonly Uid[], seen: boolean, unchangedSince?: ModSeq): Promise<api.FlagUpdateResult> {
    return this.write((ctx, unit) => acl.updatePrivateSeen(ctx, unit, mailboxId, viewer, uids, seen, unchangedSince));
  }

  // GreylistStore (greylist.ts) ---------------------------------------------------------------------
  checkGreylist(check: GreylistCheck): Promise<GreylistDecision> {
    return this.write((ctx) => greylist.checkGreylist(ctx, check));
  }
  expireGreylist(now: Date, maxAgeSeconds: number): Promise<number> {
    return this.write((ctx) => greylist.expireGreylist(ctx, now, maxAgeSeconds));
  }

  // SpamTokenStore (spam-tokens.ts) ---------------------------------------------------------------
  readSpamTokens(accountId: AccountId, tokens: readonly number[]): Promise<SpamTokenCounts> {
    return this.read((ctx) => spamTokens.readTokens(ctx, accountId, tokens));
  }
  trainSpamMessage(accountId: AccountId, messageKey: string, tokens: readonly number[], kind: SpamClass): Promise<boolean> {
    return this.write((ctx) => spamTokens.trainMessage(ctx, accountId, messageKey, tokens, kind));
  }

  // TlsReportStore (tls-reports.ts) --------------------------------------------------------------

  addTlsReport(report: TlsReport, receivedAt: Date): Promise<boolean> {
    return this.write((ctx) => tlsReports.addReport(ctx, report, receivedAt));
  }
  listTlsReports(since: Date, limit: number): Promise<StoredTlsReport[]> {
    return this.read((ctx) => tlsReports.listReports(ctx, since, limit));
  }

  // AdminHistoryStore (admin-history.ts) ----------------------------------------------------------

  addMinuteCounts(points: readonly MinuteCounts[]): Promise<void> {
    return this.write((ctx) => adminHistory.addMinuteCounts(ctx, points));
  }
  readMinuteCounts(since: number): Promise<MinuteCounts[]> {
    return this.read((ctx) => adminHistory.readMinuteCounts(ctx, since));
  }
  pruneMinuteCounts(before: number): Promise<number> {
    return this.write((ctx) => adminHistory.pruneMinuteCounts(ctx, before));
  }
  addDeliveries(entries: readonly DeliveryRecord[]): Promise<void> {
    return this.write((ctx) => adminHistory.addDeliveries(ctx, entries));
  }
  listDeliveries(query: DeliveryRecordQuery): Promise<DeliveryRecord[]> {
    return this.read((ctx) => adminHistory.listDeliveries(ctx, query));
  }
  pruneDeliveries(keep: number): Promise<number> {
    return this.write((ctx) => adminHistory.pruneDeliveries(ctx, keep));
  }

  // TlsRptSessionStore (tls-rpt-sessions.ts) -----------------------------------------------------

  addTlsSessions(counts: readonly TlsSessionCount[]): Promise<void> {
    return this.write((ctx) => tlsRptSessions.addSessions(ctx, counts));
  }
  listTlsSessionDomains(beforeDay: string): Promise<{ day: string; policyDomain: string }[]> {
    return this.read((ctx) => tlsRptSessions.listDomains(ctx, beforeDay));
  }
  takeTlsSessions(day: string, policyDomain: string): Promise<TlsSessionCount[]> {
    return this.write((ctx) => tlsRptSessions.takeSessions(ctx, day, policyDomain));
  }

  // WebAuthStore (web-auth.ts) --------------------------------------------------------------------

  addAdminUser(name: string, passwordHash: string, createdAt: Date): Promise<AdminUser> {
    return this.write((ctx) => webAuth.addAdminUser(ctx, name, passwordHash, createdAt));
  }
  findAdminUser(name: string): Promise<AdminUser | null> {
    return this.read((ctx) => webAuth.findAdminUser(ctx, name));
  }
  listAdminUsers(): Promise<AdminUser[]> {
    return this.read((ctx) => webAuth.listAdminUsers(ctx));
  }
  setAdminPasswordHash(name: string, passwordHash: string): Promise<void> {
    return this.write((ctx) => webAuth.setAdminPasswordHash(ctx, name, passwordHash));
  }
  deleteAdminUser(name: string): Promise<void> {
    return this.write((ctx) => webAuth.deleteAdminUser(ctx, name));
  }
  createWebSession(session: WebSession): Promise<void> {
    return this.write((ctx) => webAuth.createWebSession(ctx, session));
  }
  findWebSession(idHash: string, now: Date): Promise<WebSession | null> {
    return this.read((ctx) => webAuth.findWebSession(ctx, idHash, now));
  }
  extendWebSession(idHash: string, expiresAt: Date): Promise<void> {
    return this.write((ctx) => webAuth.extendWebSession(ctx, idHash, expiresAt));
  }
  deleteWebSession(idHash: string): Promise<void> {
    return this.write((ctx) => webAuth.deleteWebSession(ctx, idHash));
  }
  deleteWebSessionsOf(kind: WebSession["kind"], subject: string): Promise<number> {
    return this.write((ctx) => webAuth.deleteWebSessionsOf(ctx, kind, subject));
  }
  pruneWebSessions(now: Date): Promise<number> {
    return this.write((ctx) => webAuth.pruneWebSessions(ctx, now));
  }
  addApiToken(token: { name: string; admin: string; tokenHash: string; createdAt: Date; expiresAt: Date | null }): Promise<ApiToken> {
    return this.write((ctx) => webAuth.addApiToken(ctx, token));
  }
  findApiToken(tokenHash: string): Promise<ApiToken | null> {
    return this.read((ctx) => webAuth.findApiToken(ctx, tokenHash));
  }
  listApiTokens(): Promise<ApiToken[]> {
    return this.read((ctx) => webAuth.listApiTokens(ctx));
  }
  deleteApiToken(id: number): Promise<boolean> {
    return this.write((ctx) => webAuth.deleteApiToken(ctx, id));
  }
  markApiTokenUsed(id: number, at: Date): Promise<void> {
    return this.write((ctx) => webAuth.markApiTokenUsed(ctx, id, at));
  }
  getAdminTotp(name: string): Promise<string | null> {
    return this.read((ctx) => webAuth.getAdminTotp(ctx, name));
  }
  setAdminTotp(name: string, totp: string | null, expect?: string | null): Promise<boolean> {
    return this.write((ctx) => webAuth.setAdminTotp(ctx, name, totp, expect));
  }
  addWebAuthnCredential(credential: NewWebAuthnCredential): Promise<WebAuthnCredential> {
    return this.write((ctx) => webAuth.addWebAuthnCredential(ctx, credential));
  }
  listWebAuthnCredentials(owner: CredentialOwner): Promise<WebAuthnCredential[]> {
    return this.read((ctx) => webAuth.listWebAuthnCredentials(ctx, owner));
  }
  findWebAuthnCredential(credentialId: string): Promise<WebAuthnCredential | null> {
    return this.read((ctx) => webAuth.findWebAuthnCredential(ctx, credentialId));
  }
  useWebAuthnCredential(id: number, expectedSignCount: number, signCount: number, at: Date): Promise<boolean> {
    return this.write((ctx) => webAuth.useWebAuthnCredential(ctx, id, expectedSignCount, signCount, at));
  }
  deleteWebAuthnCredential(owner: CredentialOwner, id: number): Promise<boolean> {
    return this.write((ctx) => webAuth.deleteWebAuthnCredential(ctx, owner, id));
  }

  // SieveStore (sieve.ts) ------------------------------------------------------------------------

  listSieveScripts(accountId: AccountId): Promise<SieveScriptInfo[]> {
    return this.read((ctx) => sieve.listScripts(ctx, accountId));
  }
  getSieveScript(accountId: AccountId, name: string): Promise<SieveScript | null> {
    return this.read((ctx) => sieve.getScript(ctx, accountId, name));
  }
  getActiveSieveScript(accountId: AccountId): Promise<SieveScript | null> {
    return this.read((ctx) => sieve.getActiveScript(ctx, accountId));
  }
  putSieveScript(accountId: AccountId, name: string, content: string, maxScripts: number): Promise<void> {
    return this.write((ctx) => sieve.putScript(ctx, accountId, name, content, maxScripts));
  }
  setActiveSieveScript(accountId: AccountId, name: string | null): Promise<void> {
    return this.write((ctx) => sieve.setActive(ctx, accountId, name));
  }
  deleteSieveScript(accountId: AccountId, name: string): Promise<void> {
    return this.write((ctx) => sieve.deleteScript(ctx, accountId, name));
  }
  renameSieveScript(accountId: AccountId, from: string, to: string): Promise<void> {
    return this.write((ctx) => sieve.renameScript(ctx, accountId, from, to));
  }
  claimVacationReply(accountId: AccountId, handle: string, sender: string, periodSeconds: number, now: Date): Promise<boolean> {
    return this.write((ctx) => sieve.claimVacation(ctx, accountId, handle, sender, periodSeconds, now));
  }
  seenSieveDuplicates(accountId: AccountId, keys: readonly string[], now: Date): Promise<Set<string>> {
    return this.read((ctx) => sieve.seenDuplicates(ctx, accountId, keys, now));
  }
  recordSieveDuplicates(accountId: AccountId, entries: readonly SieveDuplicateEntry[], now: Date): Promise<void> {
    return this.write((ctx) => sieve.recordDuplicates(ctx, accountId, entries, now));
  }

  // AccountStore ------------------------------------------------------------------------------

  addDomain(name: string): Promise<Domain> {
    return this.write((ctx) => domains.addDomain(ctx, name));
  }
  listDomains(): Promise<Domain[]> {
    return this.read((ctx) => domains.listDomains(ctx));
  }
  deleteDomain(name: string): Promise<void> {
    return this.write((ctx) => domains.deleteDomain(ctx, name));
  }
  isLocalDomain(name: string): Promise<boolean> {
    return this.read((ctx) => domains.isLocalDomain(ctx, name));
  }
  createAccount(account: NewAccount): Promise<Account> {
    return this.write((ctx, unit) => accounts.createAccountInTransaction(ctx, unit, account));
  }
  getAccount(id: AccountId): Promise<Account | null> {
    return this.read((ctx) => accounts.getAccount(ctx, id));
  }
  findAccountByAddress(address: string): Promise<Account | null> {
    return this.read((ctx) => accounts.findAccountByAddress(ctx, address));
  }
  listAccounts(domain?: string): Promise<Account[]> {
    return this.read((ctx) => accounts.listAccounts(ctx, domain));
  }
  listAccountsPage(query: { domain?: string; search?: string; offset: number; limit: number }): Promise<{ total: number; items: Account[] }> {
    return this.read((ctx) => accounts.listAccountsPage(ctx, query));
  }
  setPasswordHash(address: string, passwordHash: string): Promise<void> {
    return this.write((ctx) => accounts.setPasswordHash(ctx, address, passwordHash));
  }
  setQuota(address: string, quotaBytes: number | null): Promise<void> {
    return this.write((ctx) => accounts.setQuota(ctx, address, quotaBytes));
  }
  setQuotaLimits(address: string, limits: QuotaLimits): Promise<Account> {
    return this.write((ctx) => accounts.setQuotaLimits(ctx, address, limits));
  }
  claimQuotaWarning(accountId: AccountId): Promise<Account | null> {
    return this.write((ctx) => accounts.claimQuotaWarning(ctx, accountId));
  }
  setPop3Policy(address: string, policy: Partial<Pop3Policy>): Promise<Account> {
    return this.write((ctx) => accounts.setPop3Policy(ctx, address, policy));
  }
  deleteAccount(address: string): Promise<void> {
    return this.write((ctx, unit) => accounts.deleteAccountInTransaction(ctx, unit, address));
  }
  addAlias(address: string, targets: string[]): Promise<Alias> {
    return this.write((ctx) => domains.addAlias(ctx, address, targets));
  }
  deleteAlias(address: string, targets?: string[]): Promise<void> {
    return this.write((ctx) => domains.deleteAlias(ctx, address, targets));
  }
  listAliases(domain?: string): Promise<Alias[]> {
    return this.read((ctx) => domains.listAliases(ctx, domain));
  }
  findAlias(address: string): Promise<Alias | null> {
    return this.read((ctx) => domains.findAlias(ctx, address));
  }

  // --- AuthStateStore (auth-state.ts) ---
  getAccountAuth(accountId: AccountId): Promise<AccountAuthState> {
    return this.read((ctx) => authState.getAccountAuth(ctx, accountId));
  }
  updateAccountAuth(accountId: AccountId, change: Partial<AccountAuthState>, expectTotp?: string | null): Promise<boolean> {
    return this.write((ctx) => authState.updateAccountAuth(ctx, accountId, change, expectTotp));
  }
  ensureScramParams(accountId: AccountId, salt: string, iterations: number): Promise<{ salt: string; iterations: number }> {
    return this.write((ctx) => authState.ensureScramParams(ctx, accountId, salt, iterations));
  }
  addAppPassword(accountId: AccountId, input: NewAppPassword): Promise<AppPassword> {
    return this.write((ctx) => authState.addAppPassword(ctx, accountId, input));
  }
  listAppPasswords(accountId: AccountId): Promise<AppPassword[]> {
    return this.read((ctx) => authState.listAppPasswords(ctx, accountId));
  }
  deleteAppPassword(accountId: AccountId, name: string): Promise<AppPassword | null> {
    return this.write((ctx) => authState.deleteAppPassword(ctx, accountId, name));
  }
  findAppPasswordBySecret(secretHash: string): Promise<AppPassword | null> {
    return this.read((ctx) => authState.findAppPasswordBySecret(ctx, secretHash));
  }
  noteAppPasswordUse(id: number, at: Date, address: string): Promise<void> {
    return this.write((ctx) => authState.noteAppPasswordUse(ctx, id, at, address));
  }
  scramIterationCounts(): Promise<{ iterations: number; accounts: number }[]> {
    return this.read((ctx) => authState.scramIterationCounts(ctx));
  }

  // Mailboxes ---------------------------------------------------------------------------------

  listMailboxes(accountId: AccountId): Promise<Mailbox[]> {
    return this.read((ctx) => mailboxes.listMailboxes(ctx, accountId));
  }
  getMailbox(accountId: AccountId, name: string): Promise<Mailbox | null> {
    return this.read((ctx) => {
      let normalised: string;
      try {
        normalised = normaliseMailboxName(name);
      } catch {
        return null;
      }
      return mailboxes.findMailbox(ctx, accountId, normalised);
    });
  }
  getMailboxById(mailboxId: MailboxId): Promise<Mailbox | null> {
    return this.read((ctx) => mailboxes.findMailboxById(ctx, mailboxId));
  }
  createMailbox(accountId: AccountId, name: string, options?: api.CreateMailboxOptions): Promise<Mailbox> {
    return this.write((ctx, unit) => mailboxes.createMailboxInTransaction(ctx, unit, accountId, name, options));
  }

  adoptUidValidity(mailboxId: MailboxId, uidValidity: UidValidity): Promise<Mailbox> {
    return this.write((ctx) => mailboxes.adoptUidValidityInTransaction(ctx, mailboxId, uidValidity));
  }
  renameMailbox(accountId: AccountId, oldName: string, newName: string): Promise<void> {
    return this.write((ctx, unit) => mailboxes.renameMailboxInTransaction(ctx, unit, accountId, oldName, newName));
  }
  deleteMailbox(accountId: AccountId, name: string): Promise<void> {
    return this.write((ctx, unit) => mailboxes.deleteMailboxInTransaction(ctx, unit, accountId, name));
  }
  setSubscribed(accountId: AccountId, name: string, subscribed: boolean): Promise<void> {
    return this.write((ctx, unit) => mailboxes.setSubscribedInTransaction(ctx, unit, accountId, name, subscribed));
  }
  listSubscriptions(accountId: AccountId): Promise<string[]> {
    return this.read((ctx) => mailboxes.listSubscriptions(ctx, accountId));
  }
  mailboxStatus(mailboxId: MailboxId): Promise<MailboxStatus> {
    return this.read((ctx) => mailboxes.mailboxStatus(ctx, mailboxId));
  }

  // Messages ----------------------------------------------------------------------------------

  deliver(request: api.DeliveryRequest): Promise<api.DeliveryResult> {
    return this.track(async () => {
      const copies = this.planCopies(request);
      const internalDate = checkDate(request.internalDate ?? this.ctx.clock());
      // A target may carry its own staged bytes (a copy a Sieve script edited, RFC 5293).
      const own = request.targets.map((t) => t.source);
      if (own.some((m) => m !== undefined && !(m instanceof SqliteStagedMessage))) throw new StoreError("INVALID", "staged message belongs to another store");
      const needsSource = own.some((m) => m === undefined);
      const staged = !needsSource ? null : request.source instanceof SqliteStagedMessage ? request.source : await this.stage(request.source as api.MessageSource, request.maxBytes);
      const stagedHere = staged !== null && request.source !== staged;
      // One group of copies per distinct staged message, in the order the targets name them.
      const groups: SqliteStagedMessage[] = [];
      const groupOf = own.map((m) => {
        const message = (m as SqliteStagedMessage | undefined) ?? staged!;
        const known = groups.indexOf(message);
        return known >= 0 ? known : groups.push(message) - 1;
      });
      try {
        // One unit of work for every group: all copies land or (quota, a vanished mailbox) none do.
        const results = await this.commitStaged(groups, request.maxBytes, (ctx, unit, blobs) =>
          blobs.map((blob, g) => messages.insertDeliveryInTransaction(ctx, unit, blob, copies.filter((_, i) => groupOf[i] === g), internalDate)),
        );
        if (results.length === 1) return results[0]!;
        const next = groups.map(() => 0);
        return { size: (staged ?? groups[0]!).size, copies: groupOf.map((g) => results[g]!.copies[next[g]!++]!) };
      } catch (err) {
        // Bytes staged by this call and not delivered are nobody's: drop them now.
        if (stagedHere) {
          staged.releasePin();
          this.dropStaged([staged.blobId]);
        }
        throw err;
      }
    });
  }

  appendStaged(mailboxId: MailboxId, list: readonly api.StagedAppend[], options: { maxBytes?: number } = {}): Promise<api.DeliveredCopy[]> {
    return this.track(async () => {
      if (!Array.isArray(list) || list.length === 0) throw new StoreError("INVALID", "nothing to append");
      mailboxes.requireMailbox(this.ctx, mailboxId);
      const plans = list.map((m) => ({ flags: normaliseFlags(m.flags), internalDate: checkDate(m.internalDate ?? this.ctx.clock()) }));
      const kept = checkKeptUids(list.map((m) => m.uid));
      const staged = list.map((m) => m.source);
      if (!staged.every((m) => m instanceof SqliteStagedMessage)) throw new StoreError("INVALID", "staged message belongs to another store");
      // One unit of work: every message gets its row, or (quota, a vanished mailbox) none does.
      const results = await this.commitStaged(staged as SqliteStagedMessage[], options.maxBytes, (ctx, unit, blobs) => {
        const copies = messages.insertAppendsInTransaction(ctx, unit, mailboxId, blobs.map((blob, i) => ({ blob, flags: plans[i]!.flags, internalDate: plans[i]!.internalDate, ...(kept ? { uid: kept[i]! as Uid } : {}) })));
        return copies.map((copy, i) => ({ size: blobs[i]!.size, copies: [copy] }));
      });
      return results.map((r) => r.copies[0]!);
    });
  }

  replaceMessage(source: MailboxId, uid: Uid, target: MailboxId, message: api.StagedAppend, options: { maxBytes?: number } = {}): Promise<{ copy: api.DeliveredCopy; expunged: api.ExpungeResult }> {
    return this.track(async () => {
      mailboxes.requireMailbox(this.ctx, source);
      mailboxes.requireMailbox(this.ctx, target);
      const flags = normaliseFlags(message.flags);
      const internalDate = checkDate(message.internalDate ?? this.ctx.clock());
      if (!(message.source instanceof SqliteStagedMessage)) throw new StoreError("INVALID", "staged message belongs to another store");
      let expunged: api.ExpungeResult | null = null;
      // One unit of work (RFC 8508 §3.3: atomic): the old message goes first, so the quota check
      // of the new one counts the room it frees; the staged blob is pinned throughout.
      const results = await this.commitStaged([message.source], options.maxBytes, (ctx, unit, [blob]) => {
        expunged = updates.removeMessagesInTransaction(ctx, unit, source, [uid]);
        if (expunged.expunged.length === 0) throw new StoreError("NONEXISTENT", "the message to replace no longer exists");
        return [messages.insertDeliveryInTransaction(ctx, unit, blob!, [{ mailboxId: target, flags, prefix: Buffer.alloc(0) }], internalDate)];
      });
      return { copy: results[0]!.copies[0]!, expunged: expunged! };
    });
  }

  /**
   * Pins each staged blob for the duration (a staged message may have been delivered before and
   * its staging pin dropped), runs the insert as one unit of work, then drops the staging pins.
   */
  private async commitStaged(
    staged: readonly SqliteStagedMessage[],
    maxBytes: number | undefined,
    insert: (ctx: StoreContext, unit: UnitOfWork, blobs: messages.DurableBlob[]) => api.DeliveryResult[],
  ): Promise<api.DeliveryResult[]> {
    const releases: (() => void)[] = [];
    try {
      // Bytes staged with deferSync become durable here, all together, before any row names them.
      const unsettled = staged.flatMap((m) => (m.belongsTo(this.blobs) && m.unsettled ? [m.unsettled] : []));
      if (unsettled.length > 0) await this.blobs.settle(unsettled);
      for (const message of staged) {
        if (!message.belongsTo(this.blobs)) throw new StoreError("INVALID", "staged message belongs to another store");
        if (maxBytes !== undefined && message.size > maxBytes) throw new StoreError("TOOBIG", `message exceeds ${maxBytes} octets`);
        const release = await this.blobs.hold(message.blobId);
        if (!release) throw this.vanishedStaged(message.blobId);
        releases.push(release);
      }
      const blobs = staged.map((m) => ({ id: m.blobId, size: m.size, crlfSize: m.crlfSize, parsed: m.parsed }));
      const results = await this.mutate((ctx, unit) => insert(ctx, unit, blobs));
      for (const message of staged) message.releasePin();
      return results;
    } finally {
      for (const release of releases) release();
    }
  }

  // CopyTarget (store/copy-target.ts): `mailroom store copy` from PostgreSQL back into SQLite ---------

  isEmpty(): Promise<boolean> {
    return this.read((ctx) => ctx.sql.get("SELECT 1 FROM domains UNION ALL SELECT 1 FROM accounts LIMIT 1") === undefined);
  }

  importAccount(account: Account): Promise<AccountId> {
    return this.write((ctx) => accounts.importAccountRow(ctx, account));
  }

  importMailbox(accountId: AccountId, mailbox: Mailbox, firstRecentUid: number): Promise<MailboxId> {
    return this.write((ctx) => mailboxes.importMailboxRow(ctx, accountId, mailbox, firstRecentUid));
  }

  importMessage(mailboxId: MailboxId, message: { uid: Uid; modseq: ModSeq; flags: Flag[]; internalDate: Date; prefix: Buffer }, staged: api.StagedMessage): Promise<void> {
    return this.track(async () => {
      if (!(staged instanceof SqliteStagedMessage)) throw new StoreError("INVALID", "staged message belongs to another store");
      const flags = normaliseFlags(message.flags);
      const internalDate = checkDate(message.internalDate).getTime();
      await this.commitStaged([staged], undefined, (ctx, _unit, [blob]) => {
        const mailbox = mailboxes.requireMailbox(ctx, mailboxId);
        const size = message.prefix.length + blob!.size;
        messages.insertBlobRow(ctx, blob!);
        const threadId = messages.assignThread(ctx, mailbox.accountId, threadKeys(blob!.parsed.envelope, blob!.parsed.headerFields));
        messages.insertMessageRow(ctx, mailboxId, message.uid, message.modseq, { flags, internalDate, size, blobId: blob!.id, prefix: message.prefix, threadId });
        // As a delivery writes it, so CONDSTORE/QRESYNC answer from the copy as from the original.
        logAdded(ctx, mailboxId, message.uid, message.modseq);
        messages.addUsage(ctx, new Map([[mailbox.accountId, { bytes: size, messages: 1 }]]));
        return [{ size: blob!.size, copies: [] }];
      });
    });
  }

  importTombstones(mailboxId: MailboxId): Promise<number> {
    return this.write((ctx) => mailboxes.importTombstoneRows(ctx, mailboxId));
  }

  importPrivateSeen(mailboxId: MailboxId, accountId: AccountId, uids: readonly Uid[]): Promise<void> {
    return this.write((ctx) => acl.importPrivateSeen(ctx, mailboxId, accountId, uids));
  }

  stageMessage(source: api.MessageSource, options: { maxBytes?: number; deferSync?: boolean } = {}): Promise<api.StagedMessage> {
    return this.track(() => this.stage(source, options.maxBytes, options.deferSync === true));
  }

  private async stage(source: api.MessageSource, maxBytes: number | undefined, deferSync = false): Promise<SqliteStagedMessage> {
    const builder = new MimeTreeBuilder(this.mimeLimits);
    const counter = new SentOctetCounter();
    const head: Buffer[] = [];
    let headBytes = 0;
    // One pass over the bytes: the MIME tree, the CRLF octet count (POP3 STAT/LIST) and the head.
    const inspector = {
      push(chunk: Buffer): void {
        builder.push(chunk);
        counter.push(chunk);
        if (headBytes < STAGED_HEAD_BYTES) {
          const part = Buffer.from(chunk.subarray(0, STAGED_HEAD_BYTES - headBytes));
          head.push(part);
          headBytes += part.length;
        }
      },
    };
    const written = deferSync ? await this.blobs.writeDeferred(source, { maxBytes: checkMaxBytes(maxBytes), inspector }) : await this.blobs.write(source, { maxBytes: checkMaxBytes(maxBytes), inspector });
    return new SqliteStagedMessage(this.blobs, written, builder.finish(), counter.total(), (id) => this.dropStaged([id]), Buffer.concat(head));
  }

  /**
   * A staged message's file is gone though it was pinned: not "no such mailbox" (that code is for
   * the mailbox), but damage from outside (a file removed by hand, a disk error). Logged here.
   */
  private vanishedStaged(blobId: BlobId): StoreError {
    this.ctx.log.error("store.staged_blob_missing", { blobId });
    return new StoreError("DAMAGED", "the staged message's file is missing");
  }

  /** Validates the targets before any byte is read, so a bad request costs no disk work. */
  private planCopies(request: api.DeliveryRequest): messages.PlannedCopy[] {
    if (!request || !Array.isArray(request.targets) || request.targets.length === 0) throw new StoreError("INVALID", "a delivery needs at least one target");
    return request.targets.map((target) => {
      mailboxes.requireMailbox(this.ctx, target.mailboxId);
      return { mailboxId: target.mailboxId, flags: normaliseFlags(target.flags), prefix: checkPrefix(target.prefix) };
    });
  }

  async append(mailboxId: MailboxId, source: api.MessageSource, options: { flags?: Flag[]; internalDate?: Date; maxBytes?: number } = {}): Promise<api.DeliveredCopy> {
    const result = await this.deliver({ source, targets: [{ mailboxId, flags: options.flags ?? [] }], internalDate: options.internalDate, maxBytes: options.maxBytes });
    return result.copies[0]!;
  }

  claimRecent(mailboxId: MailboxId, options: { peek?: boolean } = {}): Promise<api.RecentClaim> {
    if (options.peek === true) return this.read((ctx) => recent.peekRecent(ctx, mailboxId));
    return this.write((ctx) => recent.claimRecentInTransaction(ctx, mailboxId));
  }
  countRecent(mailboxId: MailboxId): Promise<number> {
    return this.read((ctx) => recent.countRecent(ctx, mailboxId));
  }

  selectionIndex(mailboxId: MailboxId): Promise<api.SelectionIndex> {
    return this.read((ctx) => messages.selectionIndex(ctx, mailboxId));
  }
  listMessages(mailboxId: MailboxId): Promise<MessageSummary[]> {
    return this.read((ctx) => messages.listMessages(ctx, mailboxId));
  }
  getSummaries(mailboxId: MailboxId, uids: readonly Uid[]): Promise<MessageSummary[]> {
    return this.read((ctx) => messages.getSummaries(ctx, mailboxId, uids));
  }
  getSummaryRange(mailboxId: MailboxId, first: Uid, last: Uid): Promise<MessageSummary[]> {
    return this.read((ctx) => messages.getSummaryRange(ctx, mailboxId, first, last));
  }
  getImapItems(mailboxId: MailboxId, uids: readonly Uid[], wanted?: api.ImapItemsWanted): Promise<api.ImapItems[]> {
    return this.read((ctx) => messages.getImapItems(ctx, mailboxId, uids, wanted));
  }
  getMessageAttributes(mailboxId: MailboxId, uids: readonly Uid[]): Promise<api.MessageAttributes[]> {
    return this.read((ctx) => messages.getMessageAttributes(ctx, mailboxId, uids));
  }

  getSortFacts(mailboxId: MailboxId, uids: readonly Uid[], withReferences: boolean): Promise<api.SortFacts[]> {
    return this.read((ctx) => messages.getSortFacts(ctx, mailboxId, uids, withReferences));
  }
  getMessages(mailboxId: MailboxId, uids: readonly Uid[]): Promise<StoredMessage[]> {
    return this.read((ctx) => messages.getMessages(ctx, mailboxId, uids));
  }
  getCrlfSizes(mailboxId: MailboxId, uids: readonly Uid[]): Promise<Map<Uid, number | null>> {
    return this.read((ctx) => messages.getCrlfSizes(ctx, mailboxId, uids));
  }
  getSearchText(mailboxId: MailboxId, uid: Uid): Promise<string | null> {
    return this.read((ctx) => messages.getSearchText(ctx, mailboxId, uid));
  }
  getSearchTexts(mailboxId: MailboxId, uids: readonly Uid[]): Promise<Map<Uid, string>> {
    return this.read((ctx) => messages.getSearchTexts(ctx, mailboxId, uids));
  }
  findTextMatches(mailboxId: MailboxId, needle: string, part: "text" | "body"): Promise<api.TextMatches> {
    return this.track(async () => {
      const folded = foldCase(needle);
      if (messages.indexableNeedle(folded)) return this.read((ctx) => messages.indexedTextMatches(ctx, mailboxId, folded, part));
      // Too short for trigrams: one page of messages per read, the event loop free in between.
      const result: api.TextMatches = { matches: [], unverified: [] };
      for (let after = 0; ; ) {
        const page = await this.read((ctx) => messages.scannedTextMatches(ctx, mailboxId, folded, part, after));
        for (const uid of page.matches) result.matches.push(uid);
        for (const uid of page.unverified) result.unverified.push(uid);
        if (page.lastUid === null) return result;
        after = page.lastUid;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    });
  }

  findFuzzyTextMatches(mailboxId: MailboxId, needle: string, part: "text" | "body"): Promise<api.FuzzyMatch[]> {
    return this.track(async () => {
      const exact = await this.findTextMatches(mailboxId, needle, part);
      const grams = fuzzyGrams(foldCase(needle));
      const overlaps = await this.read((ctx) => messages.fuzzyTextOverlaps(ctx, mailboxId, grams, part, fuzzyMinOverlap(grams.length)));
      return mergeFuzzy(exact.matches, overlaps, grams.length);
    });
  }

  findHeaderMatches(mailboxId: MailboxId, field: api.HeaderSearchField, needle: string): Promise<Uid[]> {
    return this.track(async () => {
      const found: Uid[] = [];
      for (let after = 0; ; ) {
        const page = await this.read((ctx) => headerMatchPage(ctx, mailboxId, field, needle, after));
        const decided = page.unknown.length === 0 ? page.matches : [...page.matches, ...(await this.headerMatchesFromFiles(mailboxId, page.unknown, field, needle))].sort((a, b) => a - b);
        for (const uid of decided) found.push(uid);
        if (page.lastUid === null) return found;
        after = page.lastUid;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    });
  }

  /**
   * The fallback of findHeaderMatches for blobs without indexed fields (stored before schema
   * version 12, until `mailroom index rebuild`): SUBJECT and addresses from the stored envelope,
   * HEADER from the logical header (trace prefix and the message's own) read from the file.
   */
  private async headerMatchesFromFiles(mailboxId: MailboxId, uids: readonly Uid[], field: api.HeaderSearchField, needle: string): Promise<Uid[]> {
    const folded = foldCase(needle);
    const holds = (text: string | null): boolean => text !== null && (folded === "" || text.includes(folded));
    const matched: Uid[] = [];
    for (const message of await this.getMessages(mailboxId, uids)) {
      if (field.kind !== "header") {
        const entry = headerSearchEntry(message.envelope, []);
        if (holds(field.kind === "subject" ? entry.subject : entry[field.field])) matched.push(message.uid);
        continue;
      }
      const end = Math.min(message.structure.headerEnd, this.mimeLimits.maxHeaderBytes ?? 256 * 1024);
      let bytes: Buffer;
      try {
        const chunks: Buffer[] = [];
        if (end > 0) for await (const chunk of this.openMessage(message, { start: 0, end })) chunks.push(chunk as Buffer);
        bytes = Buffer.concat(chunks);
      } catch (error) {
        // Expunged meanwhile: it matches nothing. A damaged file is logged by the stream.
        if (isStoreError(error, "NONEXISTENT") || isStoreError(error, "DAMAGED")) continue;
        throw error;
      }
      const name = field.name.toLowerCase();
      if (parseHeaderBlock(bytes).some((f) => f.name.toLowerCase() === name && holds(searchableField(f)[1]))) matched.push(message.uid);
    }
    return matched;
  }

  readMessages(mailboxId: MailboxId, uids: readonly Uid[], options: { maxSize: number }): Promise<Map<Uid, Buffer>> {
    return this.track(async () => {
      const rows = messages.getSmallMessageRows(this.ctx, mailboxId, uids, checkCount(options.maxSize, "maxSize"));
      const bytes: (Buffer | null)[] = new Array<Buffer | null>(rows.length).fill(null);
      // A few reads in flight keep the thread pool busy without queueing the whole batch on it.
      let next = 0;
      const reader = async (): Promise<void> => {
        for (let i = next++; i < rows.length; i = next++) {
          const row = rows[i]!;
          const prefixLength = row.prefix?.length ?? 0;
          // Filled completely by the prefix copy and readInto, or dropped: no stale memory escapes.
          const whole = Buffer.allocUnsafe(row.size);
          row.prefix?.copy(whole, 0);
          let read: boolean;
          try {
            read = await this.blobs.readInto(row.blobId, whole, prefixLength);
          } catch (err) {
            if (!isStoreError(err, "DAMAGED")) throw err;
            this.damaged(row.blobId, "short", { mailboxId, uid: row.uid });
            continue;
          }
          if (read) bytes[i] = whole;
          // A missing file is left out like an expunged message; the caller's stream (openMessage)
          // or findDamaged tells the two apart.
        }
      };
      await Promise.all(Array.from({ length: Math.min(READ_PARALLELISM, rows.length) }, reader));
      const read = new Map<Uid, Buffer>();
      rows.forEach((row, i) => {
        const whole = bytes[i];
        if (whole) read.set(row.uid, whole);
      });
      return read;
    });
  }

  /**
   * The prefix is read now; the blob file is opened on the first read. Once open, a concurrent
   * expunge cannot cut the read short (an unlinked file stays readable through its descriptor).
   */
  openMessage(message: StoredMessage, range?: ByteRange): Readable {
    let prefix: Buffer | null;
    try {
      if (this.closing) throw new StoreError("UNAVAILABLE", "store is closed");
      prefix = messages.getPrefix(this.ctx, message.mailboxId, message.uid);
    } catch (err) {
      return failedStream(toStoreError(err) as Error);
    }
    if (prefix === null) return failedStream(new StoreError("NONEXISTENT", "message no longer exists"));
    return logicalMessageStream(this.blobs, prefix, message.blobId, range, {
      size: message.size - prefix.length,
      damaged: (reason) => {
        // Expunged meanwhile (and its file collected): gone, as for any expunged message.
        if (messages.getPrefix(this.ctx, message.mailboxId, message.uid) === null) return new StoreError("NONEXISTENT", "message no longer exists");
        return this.damaged(message.blobId, reason, { mailboxId: message.mailboxId, uid: message.uid });
      },
    });
  }

  /**
   * The UIDs among `uids` whose blob file is missing or not the size its row records (one stat per
   * blob): FETCH answers NO [SERVERBUG] for those before it writes a literal it could not fill.
   */
  findDamaged(mailboxId: MailboxId, uids: readonly Uid[]): Promise<Uid[]> {
    return this.track(async () => {
      const rows = messages.getBlobSizes(this.ctx, mailboxId, uids);
      const damaged: Uid[] = [];
      const bySize = new Map<BlobId, number | null>();
      for (const row of rows) {
        if (!bySize.has(row.blobId)) bySize.set(row.blobId, await this.blobs.sizeOf(row.blobId));
        const found = bySize.get(row.blobId);
        if (found === row.blobSize) continue;
        this.damaged(row.blobId, found === null ? "missing" : "short", { mailboxId, uid: row.uid });
        damaged.push(row.uid);
      }
      return damaged;
    });
  }

  /** The DAMAGED error for a blob whose file is missing or short, logged (store check names it too). */
  private damaged(blobId: BlobId, reason: "missing" | "short", where: Record<string, unknown>): StoreError {
    this.ctx.log.error("store.blob_damaged", { blobId, reason, ...where });
    return new StoreError("DAMAGED", reason === "missing" ? "the message's file is missing" : "the message's file is shorter than recorded");
  }

  copyMessages(source: MailboxId, uids: readonly Uid[], target: MailboxId): Promise<api.UidMapping> {
    return this.write((ctx, unit) => updates.copyMessagesInTransaction(ctx, unit, source, uids, target));
  }
  moveMessages(source: MailboxId, uids: readonly Uid[], target: MailboxId): Promise<api.UidMapping> {
    return this.write((ctx, unit) => updates.moveMessagesInTransaction(ctx, unit, source, uids, target));
  }
  updateFlags(mailboxId: MailboxId, uids: readonly Uid[], update: api.FlagUpdate): Promise<api.FlagUpdateResult> {
    return this.write((ctx, unit) => updates.updateFlagsInTransaction(ctx, unit, mailboxId, uids, update));
  }
  expungeDeleted(mailboxId: MailboxId, uids?: readonly Uid[]): Promise<api.ExpungeResult> {
    return this.write((ctx, unit) => updates.expungeDeletedInTransaction(ctx, unit, mailboxId, uids));
  }
  removeMessages(mailboxId: MailboxId, uids: readonly Uid[]): Promise<api.ExpungeResult> {
    return this.write((ctx, unit) => updates.removeMessagesInTransaction(ctx, unit, mailboxId, uids));
  }
  changesSince(mailboxId: MailboxId, modseq: ModSeq): Promise<MailboxChangesSince> {
    return this.read((ctx) => changesSince(ctx, mailboxId, modseq));
  }

  // QueueStore --------------------------------------------------------------------------------

  enqueue(request: EnqueueRequest): Promise<QueuedMessage> {
    return this.track(async () => {
      const prefix = checkEnqueueRequest(request);
      const staged = request.message;
      if (!(staged instanceof SqliteStagedMessage) || !staged.belongsTo(this.blobs)) throw new StoreError("INVALID", "staged message belongs to another store");
      // Pinned until the hold row is committed (the staging pin may be gone already, see deliver).
      const release = await this.blobs.hold(staged.blobId);
      if (!release) throw this.vanishedStaged(staged.blobId);
      try {
        const blob = { id: staged.blobId, size: staged.size, crlfSize: staged.crlfSize, parsed: staged.parsed };
        const entry = await this.mutate((ctx) => queue.insertQueueEntry(ctx, blob, request, prefix));
        staged.releasePin();
        return entry;
      } finally {
        release();
      }
    });
  }
  getQueued(id: number): Promise<QueuedMessage | null> {
    return this.read((ctx) => queue.getQueued(ctx, id));
  }
  listQueue(limit = 1000): Promise<QueuedMessage[]> {
    return this.read((ctx) => queue.listQueue(ctx, checkCount(limit, "limit")));
  }

  countQueue(): Promise<number> {
    return this.read((ctx) => queue.countQueue(ctx));
  }

  async listQueuePage(query: QueuePageQuery): Promise<QueuedMessage[]> {
    const limit = checkCount(query.limit, "limit");
    return this.read((ctx) => queue.listQueuePage(ctx, { ...query, limit: Math.min(limit, 1000) }));
  }
  openQueued(entry: QueuedMessage): Readable {
    let prefix: Buffer | null;
    try {
      if (this.closing) throw new StoreError("UNAVAILABLE", "store is closed");
      prefix = queue.getQueuedPrefix(this.ctx, entry.id);
    } catch (err) {
      return failedStream(toStoreError(err) as Error);
    }
    if (prefix === null) return failedStream(new StoreError("NONEXISTENT", "queue entry no longer exists"));
    return logicalMessageStream(this.blobs, prefix, entry.blobId, undefined, {
      size: entry.size - prefix.length,
      damaged: (reason) => (queue.getQueuedPrefix(this.ctx, entry.id) === null ? new StoreError("NONEXISTENT", "queue entry no longer exists") : this.damaged(entry.blobId, reason, { queueId: entry.id })),
    });
  }
  leaseDue(now: Date, limit: number, leaseMs: number): Promise<QueuedMessage[]> {
    return this.write((ctx) => queue.leaseDue(ctx, checkDate(now).getTime(), checkCount(limit, "limit"), checkCount(leaseMs, "leaseMs")));
  }
  recordAttempt(id: number, results: RecipientResult[], nextAttemptAt: Date, options: RecordAttemptOptions = {}): Promise<QueuedMessage> {
    return this.write((ctx) => queue.recordAttempt(ctx, id, checkResults(results), checkDate(nextAttemptAt).getTime(), options.delayWarned === true));
  }
  listFinished(limit = 1000): Promise<QueuedMessage[]> {
    return this.read((ctx) => queue.listFinished(ctx, checkCount(limit, "limit")));
  }
  complete(id: number): Promise<void> {
    return this.write((ctx, unit) => queue.completeEntry(ctx, unit, id));
  }
}
