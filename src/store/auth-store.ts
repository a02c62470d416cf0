// Per-account authentication state beside the accounts table (issue 22, docs/architecture.md
// "Authentication"): the SCRAM salt and keys of the main password, app passwords, the
// "app passwords only" setting, the TOTP second factor, and the lock-out notice mark. A separate
// interface so AccountStore (and everything that implements or mocks it) stays as it was.
import type { AccountId } from "./types.js";

export interface AccountAuthState {
  /** The account's SCRAM salt (base64) and iteration count, shared by all its secrets; null until first needed. */
  scramSalt: string | null;
  scramIterations: number | null;
  /** The main password's SCRAM keys (auth/scram-keys.ts encoding) and a tag of the password hash they belong to. */
  scramKeys: string | null;
  scramHashTag: string | null;
  /** Refuse the main password over IMAP, POP3, SMTP and ManageSieve: app passwords only. */
  appPasswordsOnly: boolean;
  /** The TOTP state as JSON (auth/totp.ts), or null when the second factor is off. */
  totp: string | null;
  /** When the last lock-out notice was delivered (ms since the epoch), or null. */
  lockoutNoticeAt: number | null;
}

export const EMPTY_ACCOUNT_AUTH: Readonly<AccountAuthState> = Object.freeze({
  scramSalt: null,
  scramIterations: null,
  scramKeys: null,
  scramHashTag: null,
  appPasswordsOnly: false,
  totp: null,
  lockoutNoticeAt: null,
});

export interface AppPassword {
  id: number;
  accountId: AccountId;
  name: string;
  /** Protocols it may log in to ("imap", "pop3", "smtp", "managesieve"). */
  protocols: string[];
  /** SHA-256 (hex) of the secret: app passwords are long random strings, see auth/app-passwords.ts. */
  secretHash: string;
  /** Its SCRAM keys under the account's salt, or null. */
  scramKeys: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  lastUsedAddress: string | null;
}

export interface NewAppPassword {
  name: string;
  protocols: string[];
  secretHash: string;
  scramKeys: string | null;
  /** Now by default; `mailroom store copy` keeps the source's (store/postgresql/import.ts). */
  createdAt?: Date;
}

export interface AuthStateStore {
  /** The account's state; EMPTY_ACCOUNT_AUTH's values when nothing was stored yet. */
  getAccountAuth(accountId: AccountId): Promise<AccountAuthState>;
  /**
   * Changes the given fields. With `expectTotp`, only when the stored TOTP state still equals it
   * (compare-and-set, so a recovery code or a time step is used once); resolves to whether it wrote.
   */
  updateAccountAuth(accountId: AccountId, change: Partial<AccountAuthState>, expectTotp?: string | null): Promise<boolean>;
  /** Stores the salt and iterations unless the account has some already; resolves to the stored ones. */
  ensureScramParams(accountId: AccountId, salt: string, iterations: number): Promise<{ salt: string; iterations: number }>;
  /** ALREADYEXISTS when the account has an app password of that name. */
  addAppPassword(accountId: AccountId, input: NewAppPassword): Promise<AppPassword>;
  listAppPasswords(accountId: AccountId): Promise<AppPassword[]>;
  /** Deletes it and returns it, or null when there is none of that name. */
  deleteAppPassword(accountId: AccountId, name: string): Promise<AppPassword | null>;
  findAppPasswordBySecret(secretHash: string): Promise<AppPassword | null>;
  noteAppPasswordUse(id: number, at: Date, address: string): Promise<void>;
  /**
   * How many accounts have SCRAM keys under each iteration count (most first): unknown login
   * names are answered with a count drawn from this (auth/credentials.ts FakeSalts), so
   * server-first's count does not tell them from accounts that kept an older count.
   */
  scramIterationCounts?(): Promise<{ iterations: number; accounts: number }[]>;
}
