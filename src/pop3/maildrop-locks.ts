// Per-server state about maildrops: who holds each account's maildrop (RFC 1939 §8: the server
// should lock the maildrop so one session at a time sees it; a second gets -ERR [IN-USE], RFC 2449
// §8.1.1), and when each account last logged in (RFC 2449 §6.5 LOGIN-DELAY). Both are in memory in
// this process: correct for the embedded single-node server. Several nodes over one PostgreSQL
// store would need the lock and the last-login time in the store (a row lock or lease per account).
import type { AccountId } from "../store/index.js";

export class MaildropLocks {
  readonly #holders = new Map<AccountId, string>();

  /** True when the session now holds the account's maildrop; false when another session does. */
  acquire(accountId: AccountId, sessionId: string): boolean {
    const holder = this.#holders.get(accountId);
    if (holder !== undefined && holder !== sessionId) return false;
    this.#holders.set(accountId, sessionId);
    return true;
  }

  release(accountId: AccountId, sessionId: string): void {
    if (this.#holders.get(accountId) === sessionId) this.#holders.delete(accountId);
  }

  isHeld(accountId: AccountId): boolean {
    return this.#holders.has(accountId);
  }
}

export class LoginHistory {
  readonly #lastLogin = new Map<AccountId, number>();
  readonly #maxEntries: number;

  constructor(maxEntries = 100_000) {
    this.#maxEntries = maxEntries;
  }

  /** Milliseconds to wait before the account may log in again, or 0. */
  remainingDelay(accountId: AccountId, delaySeconds: number | null, nowMs: number): number {
    if (delaySeconds === null || delaySeconds <= 0) return 0;
    const last = this.#lastLogin.get(accountId);
    if (last === undefined) return 0;
    return Math.max(0, last + delaySeconds * 1000 - nowMs);
  }

  record(accountId: AccountId, nowMs: number): void {
    this.#lastLogin.delete(accountId);
    this.#lastLogin.set(accountId, nowMs);
    // Oldest first (Map keeps insertion order); a forgotten login only lets a client in early.
    if (this.#lastLogin.size > this.#maxEntries) {
      const oldest = this.#lastLogin.keys().next();
      if (!oldest.done) this.#lastLogin.delete(oldest.value);
    }
  }
}
