// Domains, accounts, aliases and credentials. Address matching is case-insensitive on the
// domain and, by the near-universal convention of Postfix and Dovecot, on the local part too.
import type { Account, AccountId, Alias, Domain, Pop3Policy } from "./types.js";

export interface NewAccount {
  address: string;
  passwordHash: string;
  quotaBytes?: number | null;
  /** RFC 9208 MESSAGE limit (null/absent: the configured default). */
  quotaMessages?: number | null;
  pop3?: Partial<Pop3Policy>;
}

/** Per-account quota limits (store/quota.ts): null follows config [quota], 0 is unlimited; absent: unchanged. */
export interface QuotaLimits {
  storageBytes?: number | null;
  messages?: number | null;
}

export interface AccountStore {
  addDomain(name: string): Promise<Domain>;
  listDomains(): Promise<Domain[]>;
  /** Refuses (HASACCOUNTS) while accounts or aliases of the domain exist. */
  deleteDomain(name: string): Promise<void>;
  isLocalDomain(name: string): Promise<boolean>;

  /** Creates the account and its default mailboxes in one transaction. The domain must exist. */
  createAccount(account: NewAccount): Promise<Account>;
  getAccount(id: AccountId): Promise<Account | null>;
  findAccountByAddress(address: string): Promise<Account | null>;
  listAccounts(domain?: string): Promise<Account[]>;
  /**
   * One page of accounts in address order, of one domain and/or whose address contains `search`
   * (case-insensitive, literal), with the total that match: the admin pages page 10,000 accounts
   * in the database, not in memory. Optional: without it the admin operation slices listAccounts.
   */
  listAccountsPage?(query: { domain?: string; search?: string; offset: number; limit: number }): Promise<{ total: number; items: Account[] }>;
  setPasswordHash(address: string, passwordHash: string): Promise<void>;
  setQuota(address: string, quotaBytes: number | null): Promise<void>;
  /** Sets the STORAGE and/or MESSAGE limits (RFC 9208); the account as it is now. */
  setQuotaLimits(address: string, limits: QuotaLimits): Promise<Account>;
  /**
   * Marks the usage warning as sent when usage is at or past config [quota] warning_percent of a
   * limit and it was not sent since usage was last below; resolves to the account when this call
   * marked it (the caller then delivers the warning), else null. Freed space or a raised limit
   * re-arms it inside the store's own transactions.
   */
  claimQuotaWarning(accountId: AccountId): Promise<Account | null>;
  setPop3Policy(address: string, policy: Partial<Pop3Policy>): Promise<Account>;
  /** Deletes the account, its mailboxes and messages, and its alias targets. */
  deleteAccount(address: string): Promise<void>;

  /** Adds targets to an alias (created if new). `@domain` is the domain's catch-all. */
  addAlias(address: string, targets: string[]): Promise<Alias>;
  /** Removes the alias, or only the given targets of it. */
  deleteAlias(address: string, targets?: string[]): Promise<void>;
  listAliases(domain?: string): Promise<Alias[]>;
  /** Exact alias lookup (no catch-all, no +tag handling: that is delivery/resolve-recipient's job). */
  findAlias(address: string): Promise<Alias | null>;
}
