// Cluster-wide POP3 maildrop locks (RFC 1939 §8: one session at a time per maildrop). With many
// nodes on one store, the lock must live in the store and die with its holder: a lease that the
// holding session renews while it runs, so a killed node's lock expires within its TTL instead of
// locking the account out. The embedded (SQLite) server needs none of this: its in-process lock
// (pop3/maildrop-locks.ts) is the whole truth there.
import type { AccountId } from "./types.js";

export interface MaildropLeaseStore {
  /** Takes the account's maildrop for `holder` for ttlMs, unless another holder's lease is still live. */
  acquireMaildrop(accountId: AccountId, holder: string, ttlMs: number): Promise<boolean>;
  /** Extends the holder's lease; false when it was lost (expired and taken by another). */
  renewMaildrop(accountId: AccountId, holder: string, ttlMs: number): Promise<boolean>;
  releaseMaildrop(accountId: AccountId, holder: string): Promise<void>;
}
