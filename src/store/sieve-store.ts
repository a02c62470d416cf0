// Sieve scripts per account (RFC 5804 §1.5: any number of named scripts, at most one active) and
// the vacation reply memory (RFC 5230 §4.2: one reply per sender and :handle per period).
import type { AccountId } from "./types.js";

export interface SieveScriptInfo {
  readonly name: string;
  readonly active: boolean;
  readonly size: number;
}

export interface SieveScript extends SieveScriptInfo {
  readonly content: string;
  readonly updatedAt: Date;
}

export interface SieveStore {
  listSieveScripts(accountId: AccountId): Promise<SieveScriptInfo[]>;
  getSieveScript(accountId: AccountId, name: string): Promise<SieveScript | null>;
  getActiveSieveScript(accountId: AccountId): Promise<SieveScript | null>;
  /** Creates or replaces the script (keeping its active flag). Refuses (CANNOT) a new script beyond maxScripts. */
  putSieveScript(accountId: AccountId, name: string, content: string, maxScripts: number): Promise<void>;
  /** Makes the named script the only active one; null deactivates all. NONEXISTENT for an unknown name. */
  setActiveSieveScript(accountId: AccountId, name: string | null): Promise<void>;
  /** NONEXISTENT when missing, CANNOT when active (RFC 5804 §2.10). */
  deleteSieveScript(accountId: AccountId, name: string): Promise<void>;
  /** NONEXISTENT when `from` is missing, ALREADYEXISTS when `to` exists. */
  renameSieveScript(accountId: AccountId, from: string, to: string): Promise<void>;
  /**
   * Atomically: true (and the reply is recorded at `now`) when no reply went to this sender for
   * this handle within the last `periodSeconds`; false otherwise.
   */
  claimVacationReply(accountId: AccountId, handle: string, sender: string, periodSeconds: number, now: Date): Promise<boolean>;
  /** RFC 7352 duplicate: which of `keys` the account has recorded and that have not expired at `now`. */
  seenSieveDuplicates(accountId: AccountId, keys: readonly string[], now: Date): Promise<Set<string>>;
  /**
   * Records keys once a delivery has succeeded (RFC 7352 §3): an absent or expired key expires
   * `seconds` after `now`; a live one keeps its expiry unless `last` (RFC 7352 §3.4 :last), which
   * moves it to `seconds` after `now`. Expired rows of the account are removed on the way.
   */
  recordSieveDuplicates(accountId: AccountId, entries: readonly SieveDuplicateEntry[], now: Date): Promise<void>;
}

export interface SieveDuplicateEntry {
  readonly key: string;
  readonly seconds: number;
  readonly last: boolean;
}
