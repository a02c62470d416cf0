// `mailroom store copy --from <data-dir> --to postgres://...`: an embedded store copied into an
// empty PostgreSQL database, and `--from postgres://... --to <data-dir>` back into a new embedded
// store. The source is read only through the backend-neutral interfaces (MailStore, AccountStore,
// SieveStore) and the target written through CopyTarget, so either backend can be either side. Clients see the same
// mailboxes afterwards: UIDVALIDITY, UIDs, UIDNEXT, modseqs, flags, INTERNALDATE, the trace
// prefix and the exact bytes are kept, expunged UIDs become QRESYNC tombstones, passwords keep
// their hashes. Each message's logical bytes are hashed (SHA-256) on the way in and read back from
// the target at the end: counts and checksums must match per mailbox, or the copy fails.
import { createHash } from "node:crypto";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import type { AccountStore } from "../account-store.js";
import { EMPTY_ACCOUNT_AUTH, type AuthStateStore } from "../auth-store.js";
import { StoreError } from "../errors.js";
import type { MailStore } from "../mail-store.js";
import type { SieveStore } from "../sieve-store.js";
import type { TlsReportStore } from "../tls-report-store.js";
import type { Account, AccountId, MailboxId } from "../types.js";
import { ANYONE } from "../acl-rights.js";
import type { AclEntry } from "../acl-store.js";
import type { CopyTarget } from "../copy-target.js";
import type { WebAuthStore } from "../web-auth-store.js";

/**
 * What copyStore reads of a source: only these methods, so a source that is not a whole store (a
 * backup's table dump, store/backup/postgresql-dump-source.ts) must provide each one, and tsc
 * says so when copyStore starts reading another.
 */
export type CopySourceMail = Pick<MailStore, "listMailboxes" | "mailboxStatus" | "claimRecent" | "getMetadata" | "listMessages" | "getMessages" | "openMessage" | "listSubscriptions" | "getAcl" | "getPrivateSeen">;
export type CopySourceAccounts = Pick<AccountStore, "listDomains" | "listAccounts" | "listAliases">;
export type CopySourceSieve = Pick<SieveStore, "listSieveScripts" | "getSieveScript">;
export type CopySourceTlsReports = Pick<TlsReportStore, "listTlsReports">;
export type CopySourceAuthState = Pick<AuthStateStore, "getAccountAuth" | "listAppPasswords">;
export type CopySourceWebAuth = Pick<WebAuthStore, "listAdminUsers" | "getAdminTotp" | "listApiTokens" | "listWebAuthnCredentials">;

export interface CopySource {
  mail: CopySourceMail;
  accounts: CopySourceAccounts;
  sieve?: CopySourceSieve;
  /** TLS-RPT reports received (RFC 8460), copied with their received times. */
  tlsReports?: CopySourceTlsReports;
  /**
   * Per-account auth state (issue 22): SCRAM salt, iterations and keys, "app passwords only", TOTP,
   * the lock-out notice mark, and app passwords with their creation and last use. Kept as they are,
   * so SCRAM clients, app passwords and authenticator apps go on working after the move.
   */
  authState?: CopySourceAuthState;
  /**
   * Admins (with their hashes and TOTP), API tokens (hashes, expiry, last use) and WebAuthn
   * credentials of admins and accounts (counters kept). Browser sessions are not copied: they are
   * short-lived, and signing in again after a move is the safe side.
   */
  webAuth?: CopySourceWebAuth;
}

export type CopyPhase = "accounts" | "messages" | "verify";

export interface CopyProgress {
  phase: CopyPhase;
  done: number;
  total: number | null;
}

export interface CopyReport {
  domains: number;
  accounts: number;
  aliases: number;
  mailboxes: number;
  messages: number;
  bytes: number;
  sieveScripts: number;
  tombstones: number;
  tlsReports: number;
  /** RFC 5464 METADATA entries (server and mailbox ones), copied as they are. */
  metadataEntries: number;
  /** RFC 4314 ACL entries (store/acl-store.ts). */
  aclEntries: number;
  /** Accounts with auth state (SCRAM keys, TOTP, settings) and their app passwords. */
  authStates: number;
  appPasswords: number;
  admins: number;
  apiTokens: number;
  webAuthnCredentials: number;
  /** Per mailbox: "address/name: N messages, sha256 ..." as verified. */
  verified: string[];
  durationMs: number;
}

/** Messages per metadata page (listing is paged by UID range). */
const PAGE = 200;

/** No limit applies to a copy: the source's entries were within its limits when set. */
const UNLIMITED_METADATA = { maxEntriesPerMailbox: Number.MAX_SAFE_INTEGER, maxAccountBytes: Number.MAX_SAFE_INTEGER };

/** The account's METADATA entries of one mailbox (null: its server entries), as they are. */
async function copyMetadata(source: CopySourceMail, target: CopyTarget, sourceAccount: AccountId, sourceMailbox: MailboxId | null, targetAccount: AccountId, targetMailbox: MailboxId | null): Promise<number> {
  const entries = await source.getMetadata(sourceAccount, sourceMailbox);
  if (entries.length > 0) await target.setMetadata(targetAccount, targetMailbox, entries, UNLIMITED_METADATA);
  return entries.length;
}

/**
 * The ACL entries, and the \Seen of each user who may see the mailbox (a named grantee, or every
 * account when "anyone" is granted), kept as they were (CopyTarget.importPrivateSeen).
 */
async function copyAcls(source: CopySource, target: CopyTarget, acls: { sourceId: MailboxId; targetId: MailboxId; entries: AclEntry[] }[], accounts: Account[]): Promise<number> {
  let count = 0;
  const targetIds = new Map<string, AccountId>();
  const targetIdOf = async (address: string): Promise<AccountId | null> => {
    let id = targetIds.get(address);
    if (id === undefined) {
      const found = await target.findAccountByAddress(address);
      if (found === null) return null;
      targetIds.set(address, (id = found.id));
    }
    return id;
  };
  for (const { sourceId, targetId, entries } of acls) {
    for (const entry of entries) await target.setAcl(targetId, entry.identifier, entry.rights);
    count += entries.length;
    const viewers = entries.some((e) => e.identifier === ANYONE) ? accounts : accounts.filter((a) => entries.some((e) => e.identifier.toLowerCase() === a.address.toLowerCase()));
    for (const viewer of viewers) {
      const seen = await source.mail.getPrivateSeen(sourceId, viewer.id);
      const to = seen.length === 0 ? null : await targetIdOf(viewer.address);
      if (to !== null) await target.importPrivateSeen(targetId, to, seen);
    }
  }
  return count;
}

export async function copyStore(source: CopySource, target: CopyTarget, onProgress: (p: CopyProgress) => void = () => undefined): Promise<CopyReport> {
  const started = Date.now();
  if (!(await target.isEmpty())) throw new StoreError("CANNOT", "the target already holds domains or accounts; store copy fills an empty one");
  const report: CopyReport = { domains: 0, accounts: 0, aliases: 0, mailboxes: 0, messages: 0, bytes: 0, sieveScripts: 0, tombstones: 0, tlsReports: 0, metadataEntries: 0, aclEntries: 0, authStates: 0, appPasswords: 0, admins: 0, apiTokens: 0, webAuthnCredentials: 0, verified: [], durationMs: 0 };
  // ACL entries name grantee accounts, so they are written once every account is there.
  const acls: { sourceId: MailboxId; targetId: MailboxId; entries: AclEntry[] }[] = [];

  const domains = await source.accounts.listDomains();
  for (const domain of domains) await target.addDomain(domain.name);
  report.domains = domains.length;
  const accounts = await source.accounts.listAccounts();
  // The work to do, for the progress bar: every message of every mailbox.
  let totalMessages = 0;
  for (const account of accounts) {
    for (const mailbox of await source.mail.listMailboxes(account.id)) totalMessages += (await source.mail.mailboxStatus(mailbox.id)).messages;
  }
  onProgress({ phase: "accounts", done: 0, total: accounts.length });

  const expected: { label: string; targetId: MailboxId; count: number; digest: string }[] = [];
  /** Source account id to target account id (WebAuthn credentials name their account by id). */
  const accountIds = new Map<AccountId, AccountId>();
  let copied = 0;
  for (const [index, account] of accounts.entries()) {
    const accountId = await target.importAccount(account);
    accountIds.set(account.id, accountId);
    report.accounts++;
    for (const mailbox of await source.mail.listMailboxes(account.id)) {
      const recent = await source.mail.claimRecent(mailbox.id, { peek: true });
      const targetId = await target.importMailbox(accountId, mailbox, recent.first);
      report.mailboxes++;
      report.metadataEntries += await copyMetadata(source.mail, target, account.id, mailbox.id, accountId, targetId);
      const entries = await source.mail.getAcl(mailbox.id);
      if (entries.length > 0) acls.push({ sourceId: mailbox.id, targetId, entries });
      const digest = createHash("sha256");
      let count = 0;
      const uids = (await source.mail.listMessages(mailbox.id)).map((m) => m.uid);
      for (let i = 0; i < uids.length; i += PAGE) {
        const stored = await source.mail.getMessages(mailbox.id, uids.slice(i, i + PAGE));
        for (const message of stored) {
          const bytes = source.mail.openMessage(message);
          // The prefix (trace lines of this copy) is kept apart, as it was; the rest is the blob.
          const prefixParts: Buffer[] = [];
          let prefixNeeded = message.prefixLength;
          const messageDigest = createHash("sha256");
          async function* blobBytes(): AsyncGenerator<Buffer> {
            for await (const raw of bytes) {
              let chunk = raw as Buffer;
              messageDigest.update(chunk);
              if (prefixNeeded > 0) {
                const take = Math.min(prefixNeeded, chunk.length);
                prefixParts.push(chunk.subarray(0, take));
                prefixNeeded -= take;
                chunk = chunk.subarray(take);
              }
              if (chunk.length > 0) yield chunk;
            }
          }
          const staged = await target.stageMessage(blobBytes());
          try {
            await target.importMessage(targetId, { uid: message.uid, modseq: message.modseq, flags: message.flags, internalDate: message.internalDate, prefix: Buffer.concat(prefixParts) }, staged);
          } catch (err) {
            staged.discard();
            throw err;
          }
          digest.update(`${message.uid} ${message.flags.join(" ")} ${message.internalDate.getTime()} ${messageDigest.digest("hex")}\n`);
          count++;
          report.bytes += message.size;
          onProgress({ phase: "messages", done: ++copied, total: totalMessages });
        }
        await yieldToLoop();
      }
      for (const name of await source.mail.listSubscriptions(account.id)) await target.setSubscribed(accountId, name, true);
      report.tombstones += await target.importTombstones(targetId);
      report.messages += count;
      expected.push({ label: `${account.address}/${mailbox.name}`, targetId, count, digest: digest.digest("hex") });
    }
    report.metadataEntries += await copyMetadata(source.mail, target, account.id, null, accountId, null);
    if (source.sieve) {
      const scripts = await source.sieve.listSieveScripts(account.id);
      for (const info of scripts) {
        const script = await source.sieve.getSieveScript(account.id, info.name);
        if (!script) continue;
        await target.putSieveScript(accountId, script.name, script.content, Number.MAX_SAFE_INTEGER);
        if (script.active) await target.setActiveSieveScript(accountId, script.name);
        report.sieveScripts++;
      }
    }
    await copyAccountAuth(source, target, account.id, accountId, report);
    onProgress({ phase: "accounts", done: index + 1, total: accounts.length });
  }
  report.aclEntries = await copyAcls(source, target, acls, accounts);
  await copyWebAuth(source, target, accountIds, report);
  const aliases = await source.accounts.listAliases();
  for (const alias of aliases) await target.addAlias(alias.address, alias.targets);
  report.aliases = aliases.length;
  if (source.tlsReports) {
    // Every report the source holds (whatever its date), each once; a few a day per reporter.
    const reports = await source.tlsReports.listTlsReports(new Date(0), Number.MAX_SAFE_INTEGER);
    for (const stored of reports) if (await target.addTlsReport(stored, stored.receivedAt)) report.tlsReports++;
    const copied = (await target.listTlsReports(new Date(0), Number.MAX_SAFE_INTEGER)).length;
    if (copied !== reports.length) throw new StoreError("DAMAGED", `verification failed: ${copied} TLS reports, expected ${reports.length}`);
  }
  // Subscriptions to mailboxes that do not exist (RFC 9051 §6.3.7 allows them) came with each account above.

  // Verify: every mailbox read back from the target gives the same count and checksum.
  let verifiedCount = 0;
  for (const want of expected) {
    const digest = createHash("sha256");
    let count = 0;
    const summaries = await target.listMessages(want.targetId);
    for (let i = 0; i < summaries.length; i += PAGE) {
      const stored = await target.getMessages(want.targetId, summaries.slice(i, i + PAGE).map((s) => s.uid));
      for (const message of stored) {
        const messageDigest = createHash("sha256");
        for await (const chunk of target.openMessage(message)) messageDigest.update(chunk as Buffer);
        digest.update(`${message.uid} ${message.flags.join(" ")} ${message.internalDate.getTime()} ${messageDigest.digest("hex")}\n`);
        count++;
        onProgress({ phase: "verify", done: ++verifiedCount, total: totalMessages });
      }
    }
    const got = digest.digest("hex");
    if (count !== want.count || got !== want.digest) throw new StoreError("DAMAGED", `verification failed for ${want.label}: ${count} messages (sha256 ${got.slice(0, 16)}), expected ${want.count} (sha256 ${want.digest.slice(0, 16)})`);
    report.verified.push(`${want.label}: ${count} messages, sha256 ${got.slice(0, 16)}`);
  }
  const sourceAccounts = accounts.length;
  const targetAccounts = (await target.listAccounts()).length;
  if (sourceAccounts !== targetAccounts) throw new StoreError("DAMAGED", `verification failed: ${targetAccounts} accounts, expected ${sourceAccounts}`);
  report.durationMs = Date.now() - started;
  return report;
}

/** One account's auth state and app passwords, read back and compared (a lost key would fail logins later). */
async function copyAccountAuth(source: CopySource, target: CopyTarget, from: AccountId, to: AccountId, report: CopyReport): Promise<void> {
  if (!source.authState) return;
  const state = await source.authState.getAccountAuth(from);
  const empty = JSON.stringify(state) === JSON.stringify(EMPTY_ACCOUNT_AUTH);
  if (!empty) {
    await target.updateAccountAuth(to, state);
    if (JSON.stringify(await target.getAccountAuth(to)) !== JSON.stringify(state)) throw new StoreError("DAMAGED", `verification failed: the auth state of account ${from} differs after the copy`);
    report.authStates++;
  }
  const apps = await source.authState.listAppPasswords(from);
  for (const app of apps) {
    const copied = await target.addAppPassword(to, { name: app.name, protocols: app.protocols, secretHash: app.secretHash, scramKeys: app.scramKeys, createdAt: app.createdAt });
    if (app.lastUsedAt !== null) await target.noteAppPasswordUse(copied.id, app.lastUsedAt, app.lastUsedAddress ?? "");
    report.appPasswords++;
  }
  if ((await target.listAppPasswords(to)).length !== apps.length) throw new StoreError("DAMAGED", `verification failed: app passwords of account ${from}`);
}

/** Admins with their TOTP, API tokens, and the WebAuthn credentials of admins and (mapped) accounts. */
async function copyWebAuth(source: CopySource, target: CopyTarget, accountIds: Map<AccountId, AccountId>, report: CopyReport): Promise<void> {
  const web = source.webAuth;
  if (!web) return;
  const admins = await web.listAdminUsers();
  for (const admin of admins) {
    await target.addAdminUser(admin.name, admin.passwordHash, admin.createdAt);
    const totp = await web.getAdminTotp(admin.name);
    if (totp !== null) await target.setAdminTotp(admin.name, totp);
    report.admins++;
  }
  for (const token of await web.listApiTokens()) {
    const copied = await target.addApiToken({ name: token.name, admin: token.admin, tokenHash: token.tokenHash, createdAt: token.createdAt, expiresAt: token.expiresAt });
    if (token.lastUsedAt !== null) await target.markApiTokenUsed(copied.id, token.lastUsedAt);
    report.apiTokens++;
  }
  const owners = [...admins.map((a) => ({ kind: "admin" as const, name: a.name })), ...[...accountIds.keys()].map((id) => ({ kind: "account" as const, accountId: id }))];
  for (const owner of owners) {
    for (const c of await web.listWebAuthnCredentials(owner)) {
      const to = owner.kind === "admin" ? owner : { kind: "account" as const, accountId: accountIds.get(owner.accountId)! };
      const copied = await target.addWebAuthnCredential({ owner: to, credentialId: c.credentialId, publicKey: c.publicKey, signCount: c.signCount, transports: c.transports, name: c.name, createdAt: c.createdAt });
      if (c.lastUsedAt !== null) await target.useWebAuthnCredential(copied.id, c.signCount, c.signCount, c.lastUsedAt);
      report.webAuthnCredentials++;
    }
  }
  if ((await target.listAdminUsers()).length !== admins.length) throw new StoreError("DAMAGED", `verification failed: admins`);
}
