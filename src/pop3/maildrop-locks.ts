// Per-server state about maildrops: who holds each account's maildrop (RFC 1939 §8: the server
// should lock the maildrop so one session at a time sees it; a second gets -ERR [IN-USE], RFC 2449
// §8.1.1), and when each account last logged in (RFC 2449 §6.5 LOGIN-DELAY). Both are in memory in
// this process: correct for the embedded single-node server. With a store shared by several nodes
// (PostgreSQL), the lock is also a lease in the store (store/maildrop-leases.ts), renewed while the
// session runs, so it holds across nodes and dies with its node within LEASE_TTL_MS. The
// last-login time (LOGIN-DELAY) is then kept in the store too (Pop3LoginStore), so a client
// cannot log in more often than the delay by going to another node.
import { randomUUID } from "node:crypto";
import type { AccountId, MaildropLeaseStore, Pop3LoginStore } from "../store/index.js";

/** How long a killed node's maildrop lock outlives it at most. */
export const LEASE_TTL_MS = 10_000;
/** Renewed three times per TTL: two renewals may fail (a database hiccup) before it lapses. */
const RENEW_EVERY_MS = LEASE_TTL_MS / 3;

export class MaildropLocks {
  readonly #holders = new Map<AccountId, string>();
  readonly #renewals = new Map<AccountId, NodeJS.Timeout>();
  /** Names this process's sessions in the shared store, so session ids of two nodes never clash. */
  readonly #node = randomUUID();

  constructor(private readonly leases: MaildropLeaseStore | null = null) {}

  /**
   * True when the session now holds the account's maildrop; false when another session does, on
   * this node or (with a shared store) on another.
   */
  async acquire(accountId: AccountId, sessionId: string): Promise<boolean> {
    const holder = this.#holders.get(accountId);
    if (holder !== undefined && holder !== sessionId) return false;
    this.#holders.set(accountId, sessionId);
    if (this.leases === null || holder === sessionId) return true;
    let leased: boolean;
    try {
      leased = await this.leases.acquireMaildrop(accountId, this.#holderName(sessionId), LEASE_TTL_MS);
    } catch (error) {
      this.#holders.delete(accountId);
      throw error;
    }
    if (!leased) {
      this.#holders.delete(accountId);
      return false;
    }
    const timer = setInterval(() => {
      // A lease lost to expiry while this node could not reach the store is not taken back here:
      // the session keeps its snapshot, and its QUIT removes only what it was shown (RFC 1939 §6).
      this.leases!.renewMaildrop(accountId, this.#holderName(sessionId), LEASE_TTL_MS).catch(() => undefined);
    }, RENEW_EVERY_MS);
    timer.unref();
    this.#renewals.set(accountId, timer);
    return true;
  }

  release(accountId: AccountId, sessionId: string): void {
    if (this.#holders.get(accountId) !== sessionId) return;
    this.#holders.delete(accountId);
    const timer = this.#renewals.get(accountId);
    if (timer) clearInterval(timer);
    this.#renewals.delete(accountId);
    // Best effort: a release that cannot reach the store lapses with the lease.
    this.leases?.releaseMaildrop(accountId, this.#holderName(sessionId)).catch(() => undefined);
  }

  #holderName(sessionId: string): string {
    return `${this.#node}/${sessionId}`;
  }

  isHeld(accountId: AccountId): boolean {
    return this.#holders.has(accountId);
  }
}

export class LoginHistory {
  readonly #lastLogin = new Map<AccountId, number>();
  readonly #maxEntries: number;

  readonly #shared: Pop3LoginStore | null;

  constructor(maxEntries = 100_000, shared: Pop3LoginStore | null = null) {
    this.#maxEntries = maxEntries;
    this.#shared = shared;
  }

  /** As remainingDelay, asking the shared store when there is one (its clock decides). */
  async wait(accountId: AccountId, delaySeconds: number | null, nowMs: number): Promise<number> {
    if (delaySeconds === null || delaySeconds <= 0) return 0;
    if (this.#shared !== null) return this.#shared.pop3LoginWait(accountId, delaySeconds);
    return this.remainingDelay(accountId, delaySeconds, nowMs);
  }

  /** As record, into the shared store when there is one. */
  async note(accountId: AccountId, nowMs: number): Promise<void> {
    if (this.#shared !== null) return this.#shared.recordPop3Login(accountId);
    this.record(accountId, nowMs);
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
