// The administration use-cases. The CLI (and later the HTTP API) are thin adapters over these,
// so both stay in step: neither holds any rule of its own. The same functions run in the admin
// command's own process when no server runs, and inside the server when one does (reached over
// the control socket, admin/control/): docs/architecture.md, "One owner per data dir".
import type { AcmeNameStatus, CertificateSummary } from "../../net/index.js";
import { tlsReportSummary } from "./tls-reports.js";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { WebAuthStore, Account, AccountStore, Alias, Domain, MailStore, Pop3Policy, QuotaLimits, SearchIndexCheckOptions, StoreCheckOptions, StoreMaintenance, TlsReportStore, Uid } from "../../store/index.js";
import { isStoreError } from "../../store/index.js";
import type { AuthStateStore } from "../../store/index.js";
import { storeMainScramKeys } from "../../auth/index.js";
import { AdminError, normaliseAddress, normaliseAliasAddress, normaliseDomain } from "./validation.js";

import { createAuthOperations } from "./auth.js";
import { createShareOperations, type ShareOperations, type ShareStore } from "./shares.js";
import { createSieveOperations, type SieveAdminDependencies, type SieveOperations } from "./sieve.js";
import { createOutboundOperations, type OutboundAdminDependencies, type OutboundOperations } from "./outbound.js";
import { createStoreCheckOperation, type StoreCheckResult } from "./store-check.js";
import { createIndexOperations, type IndexCheckResult, type IndexRebuildRequest, type IndexRebuildResult } from "./search-index.js";
import { createImportOperation, type ImportDependencies, type ImportRequest, type ImportResult } from "./import.js";
import { createBackupOperation, type BackupDependencies, type BackupOperationRequest, type BackupResult } from "./backup.js";
import { createAccountFilterOperations } from "./account-filters.js";
import { createWebAdminOperations, type WebAdminOperations } from "./web-admins.js";
import { createTransferOperations, type ExportRequest, type ExportResult, type MigrateRequest, type MigrateResult, type TransferDependencies } from "./transfer.js";

export { AdminError } from "./validation.js";
export type { OutboundAdminDependencies, OutboundOperations, DnsRecordRow, QueueListQuery, QueuePage } from "./outbound.js";
export { HOLD_UNTIL, isHeld, QUEUE_STATUSES } from "./outbound.js";
export type { SieveAdminDependencies, SieveOperations } from "./sieve.js";
export type { ShareOperations, ShareRow } from "./shares.js";
export type { AppPasswordView, AuthOperations } from "./auth.js";
export { checkSieveScript } from "./sieve.js";
export { renderDnsRecords } from "./dns-records.js";
export type { StoreCheckResult } from "./store-check.js";
export type { IndexCheckResult, IndexRebuildRequest, IndexRebuildResult } from "./search-index.js";
export type { ImportRequest, ImportResult } from "./import.js";
export type { BackupDependencies, BackupOperationRequest, BackupResult } from "./backup.js";
export type { ExportRequest, ExportResult, MigrateRequest, MigrateResult } from "./transfer.js";
export type { AdminErrorKind } from "./validation.js";
export type { AdminView, TokenView, WebAdminOperations } from "./web-admins.js";
export { normaliseAdminName } from "./web-admins.js";
export type { AccountFilters } from "./account-filters.js";
export type AccountFilterOperations = ReturnType<typeof createAccountFilterOperations>;

export interface AdminDependencies {
  accounts: AccountStore;
  /** The password hasher from auth/ (argon2id); passed in so tests can use cheap parameters. */
  hashPassword: (password: string) => Promise<string>;
  /** The POP3 policy a new account starts with (config `pop3.*`). */
  defaultPop3Policy?: Partial<Pop3Policy>;
  /** Queue and DKIM administration; without it those operations are unavailable. */
  outbound?: Omit<OutboundAdminDependencies, "accounts">;
  /** Sieve scripts (`mailroom sieve`); without it those operations are unavailable. */
  sieve?: SieveAdminDependencies;
  /**
   * The messages of the store: `user del` removes an account's mail in bounded batches through it,
   * so deleting a large account never holds the database (and a server's event loop) for long.
   * Without it the account is deleted in one transaction.
   */
  mail?: Pick<MailStore, "listMailboxes" | "getSummaries" | "removeMessages"> & Partial<ShareStore>;
  /** `store check`; without it that operation is unavailable. */
  maintenance?: StoreMaintenance;
  /** TLS-RPT reports received (`mailroom tls-reports`); without it that operation is unavailable. */
  tlsReports?: TlsReportStore;
  /** The running server's ACME certificates (`mailroom acme`); null when [acme] is off or no server runs. */
  acme?: () => AcmeAdmin | null;
  /** Inside the running server: ends the open sessions of an account that was deleted or disabled. */
  sessions?: LiveSessions;
  /** `mailroom import`; without it that operation is unavailable. */
  importer?: ImportDependencies;
  /**
   * SCRAM keys, app passwords and TOTP (issue 22, operations/auth.ts): with it, setting a password
   * also stores its SCRAM keys; without it those operations are unavailable.
   */
  authState?: AuthStateStore;
  /** PBKDF2 iterations for SCRAM salts made from now on (config auth.scram_iterations). */
  scramIterations?: number;
  /** `mailroom user unlock`: forgets the failed logins counted against a login name; absent: unavailable. */
  unlock?: (address: string) => Promise<void>;
  /** The issuer authenticator apps show for TOTP (the server's hostname). */
  issuer?: string;
  /** `mailroom backup`; without it that operation is unavailable. */
  backup?: BackupDependencies;
  /** `mailroom export` and `mailroom migrate`; without it those operations are unavailable. */
  transfer?: TransferDependencies;
  /** Inside the running server: the certificates it serves (net/tls-context.ts), for `tls status` and the admin API. */
  tlsCertificates?: () => readonly CertificateSummary[];
  /** Admin accounts and API tokens (`mailroom admin`, the admin API); without it those operations are unavailable. */
  webAuth?: WebAuthStore;
  /** Inside the running server: PID, uptime, connections, event loop (`mailroom status`, the admin dashboard). */
  serverStatus?: () => Record<string, unknown>;
}

/** `tls status`: what the running server serves, and ACME's view of each name when [acme] is on. */
export interface TlsStatus {
  certificates: { subject: string; validTo: Date; daysLeft: number; selfSigned: boolean; keyType: string; certFile: string; fingerprint256: string }[];
  acme: AcmeNameStatus[] | null;
}

/** One page of accounts (the admin pages page on the server: 10,000 accounts never reach a browser at once). */
export interface AccountPage {
  total: number;
  offset: number;
  items: AccountView[];
}

/** The most accounts one page holds. */
export const MAX_ACCOUNT_PAGE = 500;

export interface LiveSessions {
  /**
   * Closes every open IMAP, POP3 and submission session of the account with the reason; returns
   * how many. With `credential` ("app:<id>"), only the sessions that logged in with that secret.
   */
  endSessionsOf(account: Account, reason: string, credential?: string): Promise<number>;
}

/** What the operator sees of an account: never the hash. */
export interface AccountView {
  address: string;
  /** Effective storage limit in bytes (own value, else config [quota] storage); null: unlimited. */
  quotaBytes: number | null;
  usedBytes: number;
  /** Effective message-count limit (RFC 9208 MESSAGE); null: unlimited. */
  quotaMessages?: number | null;
  usedMessages?: number;
  /** The account's own limits (null: the configured default, 0: unlimited). */
  quotaSetting?: { storageBytes: number | null; messages: number | null };
  pop3: Pop3Policy;
  createdAt: Date;
  /** `user disable`: no login until `user enable`; mail is still received. */
  disabled: boolean;
}

const MIN_PASSWORD_LENGTH = 8;
const MAX_PASSWORD_BYTES = 1024;
/**
 * A disabled account keeps its hash behind this mark, as /etc/shadow locks a password: no hash
 * starts with it (argon2 hashes start with "$argon2"), so every login fails like a wrong password
 * (auth/password-hash.ts verifyPassword), and `user enable` gives the same password back.
 */
const DISABLED_MARK = "!";
/** UIDs looked up per read, and messages removed per transaction, when deleting an account. */
const DELETE_SCAN_UIDS = 2000;
const DELETE_BATCH = 100;

export function createAdminOperations(deps: AdminDependencies) {
  const { accounts } = deps;
  const outbound: OutboundOperations | null = deps.outbound ? createOutboundOperations({ ...deps.outbound, accounts }) : null;

  async function checkedPasswordHash(password: string): Promise<string> {
    if ([...password].length < MIN_PASSWORD_LENGTH) {
      throw new AdminError("invalid-argument", `the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
    }
    if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
      throw new AdminError("invalid-argument", `the password must have at most ${MAX_PASSWORD_BYTES} bytes`);
    }
    if (/[\x00-\x1f\x7f]/.test(password)) throw new AdminError("invalid-argument", "the password must not contain control characters");
    return deps.hashPassword(password);
  }

  /** Signs the account out of the account page (/account) in every browser. */
  async function endWebSessions(account: Account): Promise<void> {
    await deps.webAuth?.deleteWebSessionsOf("account", account.address);
  }

  /**
   * The SCRAM keys of a password just set, tagged with the hash this call wrote (auth/credentials.ts):
   * not with whatever hash the account has when they are stored, which an overlapping change may
   * already have replaced.
   */
  async function storeScramKeys(address: string, password: string, passwordHash: string): Promise<void> {
    if (!deps.authState) return;
    const account = await accounts.findAccountByAddress(address);
    if (account) await storeMainScramKeys(deps.authState, account, password, deps.scramIterations, passwordHash);
  }

  async function requireDomain(domain: string): Promise<void> {
    if (!(await accounts.isLocalDomain(domain))) throw new AdminError("not-found", `no such domain: ${domain} (add it with: mailroom domain add ${domain})`);
  }

  async function requireAccount(address: string): Promise<Account> {
    const account = await accounts.findAccountByAddress(normaliseAddress(address).address);
    if (!account) throw new AdminError("not-found", `no such user: ${address}`);
    return account;
  }

  return {
    /** Adds the domain and, with outbound configured, makes its DKIM keys (RFC 6376). */
    async addDomain(name: string): Promise<Domain & { dkimSelectors: string[] }> {
      const domain = await translate(() => accounts.addDomain(normaliseDomain(name)), `domain ${name}`);
      return { ...domain, dkimSelectors: outbound ? await outbound.ensureDkimKeys(domain.name) : [] };
    },
    listDomains: (): Promise<Domain[]> => accounts.listDomains(),
    async deleteDomain(name: string): Promise<void> {
      await translate(() => accounts.deleteDomain(normaliseDomain(name)), `domain ${name}`);
    },

    async addUser(input: { address: string; password: string; quotaBytes?: number | null }): Promise<AccountView> {
      const { address, domain } = normaliseAddress(input.address);
      await requireDomain(domain);
      if (await accounts.findAlias(address)) throw new AdminError("conflict", `${address} is already an alias`);
      const passwordHash = await checkedPasswordHash(input.password);
      const account = await translate(
        () => accounts.createAccount({ address, passwordHash, quotaBytes: input.quotaBytes ?? null, pop3: deps.defaultPop3Policy ?? {} }),
        `user ${address}`,
      );
      await storeScramKeys(account.address, input.password, passwordHash);
      return viewOf(account);
    },
    /** A disabled account stays disabled: the new password takes effect at `user enable`. */
    async setPassword(address: string, password: string): Promise<void> {
      const account = await requireAccount(address);
      const hash = await checkedPasswordHash(password);
      await accounts.setPasswordHash(account.address, isDisabled(account) ? DISABLED_MARK + hash : hash);
      if (!isDisabled(account)) await storeScramKeys(account.address, password, hash);
      // A browser signed in with the old password (perhaps a stolen one) is signed out: a reset
      // must lock out whoever knew it. The account page's own change signs itself in again.
      await endWebSessions(account);
    },
    /**
     * Logins stop first (the account is disabled), then its open sessions end, then its messages
     * go in bounded batches (each a short transaction, the event loop free in between), and last
     * the account itself. Interrupted, it leaves a disabled account with part of its mail: run it again.
     */
    async deleteUser(address: string): Promise<void> {
      const account = await requireAccount(address);
      if (!isDisabled(account)) await accounts.setPasswordHash(account.address, DISABLED_MARK + account.passwordHash);
      await deps.sessions?.endSessionsOf(account, "account deleted");
      await endWebSessions(account);
      if (deps.mail) await removeAllMessages(deps.mail, account);
      await translate(() => accounts.deleteAccount(account.address), `user ${account.address}`);
    },
    async disableUser(address: string): Promise<AccountView> {
      const account = await requireAccount(address);
      if (!isDisabled(account)) await accounts.setPasswordHash(account.address, DISABLED_MARK + account.passwordHash);
      await deps.sessions?.endSessionsOf(account, "account disabled");
      await endWebSessions(account);
      return viewOf((await accounts.findAccountByAddress(account.address)) ?? account);
    },
    async enableUser(address: string): Promise<AccountView> {
      const account = await requireAccount(address);
      if (isDisabled(account)) await accounts.setPasswordHash(account.address, account.passwordHash.slice(DISABLED_MARK.length));
      return viewOf((await accounts.findAccountByAddress(account.address)) ?? account);
    },
    async listUsers(domain?: string): Promise<AccountView[]> {
      const list = await accounts.listAccounts(domain === undefined ? undefined : normaliseDomain(domain));
      return list.map(viewOf);
    },
    /**
     * One page of accounts, optionally of one domain and whose address contains `search`
     * (case-insensitive), in address order: paged in the database (AccountStore.listAccountsPage),
     * else sliced here from the domain's list, so a page's answer is `limit` rows whatever the total.
     */
    async listUsersPage(query: { domain?: string; search?: string; offset?: number; limit?: number }): Promise<AccountPage> {
      const offset = query.offset ?? 0;
      const limit = query.limit ?? 50;
      if (!Number.isSafeInteger(offset) || offset < 0) throw new AdminError("invalid-argument", "offset must be a whole number from 0");
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_ACCOUNT_PAGE) throw new AdminError("invalid-argument", `limit must be from 1 to ${MAX_ACCOUNT_PAGE}`);
      const needle = (query.search ?? "").trim().toLowerCase().slice(0, 320);
      const domain = query.domain === undefined || query.domain === "" ? undefined : normaliseDomain(query.domain);
      if (accounts.listAccountsPage) {
        const page = await accounts.listAccountsPage({ ...(domain !== undefined ? { domain } : {}), ...(needle !== "" ? { search: needle } : {}), offset, limit });
        return { total: page.total, offset, items: page.items.map(viewOf) };
      }
      const all = await accounts.listAccounts(domain);
      const matching = needle === "" ? all : all.filter((a) => a.address.toLowerCase().includes(needle));
      matching.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
      return { total: matching.length, offset, items: matching.slice(offset, offset + limit).map(viewOf) };
    },
    /** `tls status`: the served certificates with their expiry, and ACME's renewal state per name. */
    async tlsStatus(): Promise<TlsStatus> {
      if (!deps.tlsCertificates) throw new AdminError("refused", "tls status talks to the running server: start mailroom serve");
      const now = Date.now();
      const certificates = deps.tlsCertificates().map((c) => ({ subject: c.subject, validTo: c.validTo, daysLeft: Math.floor((c.validTo.getTime() - now) / 86_400_000), selfSigned: c.selfSigned, keyType: c.keyType, certFile: c.certFile, fingerprint256: c.fingerprint256 }));
      return { certificates, acme: deps.acme?.()?.status() ?? null };
    },
    /** `mailroom status`: the running server's PID, uptime, connections and event loop. */
    async serverStatus(): Promise<Record<string, unknown>> {
      if (!deps.serverStatus) throw new AdminError("refused", "no server is running on this data dir");
      return deps.serverStatus();
    },
    /** `user show`: one account with its quota and usage. */
    async showUser(address: string): Promise<AccountView> {
      return viewOf(await requireAccount(address));
    },
    async setQuota(address: string, quotaBytes: number | null): Promise<AccountView> {
      if (quotaBytes !== null && (!Number.isSafeInteger(quotaBytes) || quotaBytes < 0)) {
        throw new AdminError("invalid-argument", "the quota must be a whole number of bytes, or none");
      }
      const account = await requireAccount(address);
      await accounts.setQuota(account.address, quotaBytes);
      return viewOf((await accounts.findAccountByAddress(account.address)) ?? account);
    },
    /** `user quota --storage --messages`: each given limit set (null: the configured default, 0: unlimited). */
    async setQuotaLimits(address: string, limits: QuotaLimits): Promise<AccountView> {
      for (const value of [limits.storageBytes, limits.messages]) {
        if (value !== undefined && value !== null && (!Number.isSafeInteger(value) || value < 0)) {
          throw new AdminError("invalid-argument", "a quota must be a whole number, 0 (unlimited) or default");
        }
      }
      const account = await requireAccount(address);
      return viewOf(await accounts.setQuotaLimits(account.address, limits));
    },
    async setPop3Policy(address: string, policy: Partial<Pop3Policy>): Promise<AccountView> {
      const account = await requireAccount(address);
      return viewOf(await accounts.setPop3Policy(account.address, policy));
    },

    async addAlias(aliasAddress: string, targets: string[]): Promise<Alias> {
      const alias = normaliseAliasAddress(aliasAddress);
      await requireDomain(alias.domain);
      if (targets.length === 0) throw new AdminError("invalid-argument", "an alias needs at least one target account");
      if (!alias.address.startsWith("@") && (await accounts.findAccountByAddress(alias.address))) {
        throw new AdminError("conflict", `${alias.address} is already a user`);
      }
      const resolved: string[] = [];
      for (const target of targets) resolved.push((await requireAccount(target)).address);
      return translate(() => accounts.addAlias(alias.address, resolved), `alias ${alias.address}`);
    },
    async deleteAlias(aliasAddress: string, targets?: string[]): Promise<void> {
      const alias = normaliseAliasAddress(aliasAddress);
      const normalisedTargets = targets?.length ? targets.map((t) => normaliseAddress(t).address) : undefined;
      await translate(() => accounts.deleteAlias(alias.address, normalisedTargets), `alias ${alias.address}`);
    },
    async listAliases(domain?: string): Promise<Alias[]> {
      return accounts.listAliases(domain === undefined ? undefined : normaliseDomain(domain));
    },
    /** Verifies (and with repair fixes) the store: rows against files, integrity, usage counters. */
    checkStore(options: StoreCheckOptions = {}): Promise<StoreCheckResult> {
      if (!deps.maintenance) throw new AdminError("refused", "store check is not available here");
      return createStoreCheckOperation(deps.maintenance)(options);
    },
    /** `acme status`: one line per name: its certificate's validity and renewal time, or its last error and next attempt. */
    async acmeStatus(): Promise<string[]> {
      const lines = requireAcme(deps).status().map(describeAcmeName);
      return lines.length > 0 ? lines : ["no names yet (the first check runs right after the start)"];
    },
    /** `acme renew <name>`: a new certificate now. */
    async acmeRenew(name: string): Promise<string> {
      try {
        return describeAcmeName(await requireAcme(deps).renew(name));
      } catch (error) {
        throw new AdminError("refused", (error as Error).message);
      }
    },
    /** `acme revoke <name>`: revoked at the CA (RFC 8555 §7.6), deleted, and replaced at once. */
    async acmeRevoke(name: string): Promise<string> {
      const acme = requireAcme(deps);
      const before = acme.status().find((entry) => entry.name === name.toLowerCase());
      if (!before?.serial) throw new AdminError("not-found", `no certificate for ${name}`);
      try {
        await acme.revoke(name);
      } catch (error) {
        throw new AdminError("refused", `revocation failed: ${(error as Error).message}`);
      }
      const after = acme.status().find((entry) => entry.name === name.toLowerCase());
      return `revoked serial ${before.serial}; ${after === undefined ? "no replacement" : describeAcmeName(after)}`;
    },
    /** `tls-reports`: the TLS-RPT reports of the last `days` days, summed per domain, then one by one. */
    async tlsReports(days: number): Promise<string[]> {
      if (!deps.tlsReports) throw new AdminError("refused", "TLS reports are not kept by this store");
      if (!Number.isSafeInteger(days) || days < 1 || days > 3660) throw new AdminError("invalid-argument", "days must be a whole number from 1 to 3660");
      return tlsReportSummary(deps.tlsReports, days, new Date());
    },
    /** `index check`: the full-text index against the message files. */
    checkIndex(options: SearchIndexCheckOptions = {}): Promise<IndexCheckResult> {
      if (!deps.maintenance) throw new AdminError("refused", "index check is not available here");
      return createIndexOperations(deps.maintenance, requireAccount).checkIndex(options);
    },
    /** `index rebuild [--account A]`: the entries written again from the message files. */
    rebuildIndex(request: IndexRebuildRequest = {}): Promise<IndexRebuildResult> {
      if (!deps.maintenance) throw new AdminError("refused", "index rebuild is not available here");
      return createIndexOperations(deps.maintenance, requireAccount).rebuildIndex(request);
    },
    /** `import --account A [--mailbox M] <path>`: mbox, Maildir or .eml folder into the account. */
    importMessages(request: ImportRequest): Promise<ImportResult> {
      if (!deps.importer) throw new AdminError("refused", "import is not available here");
      return createImportOperation(deps.importer, requireAccount)(request);
    },
    backup(request: BackupOperationRequest): Promise<BackupResult> {
      if (!deps.backup) throw new AdminError("refused", "online backup is not available for this store backend (PostgreSQL: see docs/architecture.md, Backup and restore)");
      return createBackupOperation(deps.backup)(request);
    },
    /** `export --account A --format mbox|maildir <dir> [--mailbox M]`. */
    exportMessages(request: ExportRequest): Promise<ExportResult> {
      if (!deps.transfer) throw new AdminError("refused", "export is not available here");
      return createTransferOperations(deps.transfer, requireAccount).exportMessages(request);
    },
    /** `migrate --account A --from imaps://user@host`: another server's folders copied in. */
    migrate(request: MigrateRequest): Promise<MigrateResult> {
      if (!deps.transfer) throw new AdminError("refused", "migrate is not available here");
      return createTransferOperations(deps.transfer, requireAccount).migrate(request);
    },
    /** Sieve scripts per account; throws when the store has none. */
    /** App passwords, TOTP and lock-outs (operations/auth.ts); refused without deps.authState. */
    auth: createAuthOperations(
      deps.authState
        ? {
            authState: deps.authState,
            issuer: deps.issuer ?? "Mailroom",
            ...(deps.scramIterations !== undefined ? { scramIterations: deps.scramIterations } : {}),
            ...(deps.unlock ? { unlock: deps.unlock } : {}),
            ...(deps.sessions ? { endSessions: (account: Account, reason: string, credential: string) => deps.sessions!.endSessionsOf(account, reason, credential) } : {}),
          }
        : null,
      requireAccount,
    ),
    /** Shared mailboxes (`mailroom share`, operations/shares.ts); refused without the mail store. */
    get shares(): ShareOperations {
      const store = deps.mail?.getMailbox && deps.mail.getAcl && deps.mail.setAcl ? (deps.mail as ShareStore) : undefined;
      return createShareOperations(store, requireAccount, () => accounts.listAccounts());
    },
    get sieve(): SieveOperations {
      if (!deps.sieve) throw new AdminError("refused", "sieve administration is not available here");
      return createSieveOperations(deps.sieve, requireAccount);
    },
    /** Forwarding and out-of-office of the account page, as the account's Sieve script (account-filters.ts). */
    get accountFilters(): AccountFilterOperations {
      if (!deps.sieve) throw new AdminError("refused", "forwarding and out-of-office need the Sieve store");
      return createAccountFilterOperations(() => createSieveOperations(deps.sieve!, requireAccount));
    },
    /** Admin accounts and API tokens; throws when the store keeps none. */
    get admins(): WebAdminOperations {
      if (!deps.webAuth) throw new AdminError("refused", "admin accounts are not available here");
      return createWebAdminOperations(deps.webAuth, checkedPasswordHash, undefined, deps.issuer ?? "Mailroom");
    },
    /** Queue, DKIM and DNS operations; throws when the outbound side is not configured. */
    get outbound(): OutboundOperations {
      if (outbound === null) throw new AdminError("refused", "outbound administration is not available here");
      return outbound;
    },
  };
}

export type AdminOperations = ReturnType<typeof createAdminOperations>;

function viewOf(account: Account): AccountView {
  return {
    address: account.address,
    quotaBytes: account.quotaBytes,
    usedBytes: account.usedBytes,
    quotaMessages: account.quotaMessages ?? null,
    usedMessages: account.usedMessages ?? 0,
    quotaSetting: account.quotaSetting ?? { storageBytes: account.quotaBytes, messages: null },
    pop3: account.pop3,
    createdAt: account.createdAt,
    disabled: isDisabled(account),
  };
}

function isDisabled(account: Account): boolean {
  return account.passwordHash.startsWith(DISABLED_MARK);
}

/** Every message of the account, a few hundred per transaction, yielding between them. */
async function removeAllMessages(mail: NonNullable<AdminDependencies["mail"]>, account: Account): Promise<void> {
  for (const mailbox of await mail.listMailboxes(account.id)) {
    for (let first = 1; first < mailbox.uidNext; first += DELETE_SCAN_UIDS) {
      const window = Array.from({ length: Math.min(DELETE_SCAN_UIDS, mailbox.uidNext - first) }, (_, i) => (first + i) as Uid);
      const present = (await mail.getSummaries(mailbox.id, window)).map((m) => m.uid);
      for (let i = 0; i < present.length; i += DELETE_BATCH) {
        await mail.removeMessages(mailbox.id, present.slice(i, i + DELETE_BATCH));
        await yieldToEventLoop();
      }
      await yieldToEventLoop();
    }
  }
}

/** Store errors become operator errors with words an operator understands. */
async function translate<T>(operation: () => Promise<T>, subject: string): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    if (isStoreError(err, "ALREADYEXISTS")) throw new AdminError("conflict", `${subject} already exists`);
    if (isStoreError(err, "NONEXISTENT")) throw new AdminError("not-found", `${subject} does not exist`);
    if (isStoreError(err, "HASACCOUNTS")) throw new AdminError("refused", `${subject} still has users or aliases; delete them first`);
    if (isStoreError(err, "INVALID") || isStoreError(err, "CANNOT")) throw new AdminError("invalid-argument", `${subject}: ${err.message}`);
    throw err;
  }
}

/** What `mailroom acme` needs of the server's AcmeManager (net/acme.ts). */
export interface AcmeAdmin {
  status(): AcmeNameStatus[];
  renew(name: string): Promise<AcmeNameStatus>;
  revoke(name: string): Promise<void>;
}

function requireAcme(deps: AdminDependencies): AcmeAdmin {
  const acme = deps.acme?.() ?? null;
  if (acme === null) throw new AdminError("refused", "ACME is off ([acme] enabled = false), or no server is running: acme commands talk to the running server");
  return acme;
}

function describeAcmeName(entry: AcmeNameStatus): string {
  const certificate = entry.serial === null ? "no certificate" : `serial ${entry.serial}, valid until ${entry.validTo!.toISOString()}, renewal from ${entry.renewAt!.toISOString()}`;
  const trouble = entry.lastError === null ? "" : `; ${entry.failures} failed attempt(s), last: ${entry.lastError}; next attempt ${entry.nextAttempt.toISOString()}`;
  return `${entry.name}: ${certificate}${trouble}`;
}
