// Greylisting state (RFC 6647): when each (client network, sender, recipient) triplet was first
// seen and whether it has passed, plus the client networks and sender domains that retried
// correctly and are let through at once for a while. Kept in the store, not in memory, so that a
// restart does not greylist everyone again and several nodes share one view.

export type GreylistDecision =
  /** First attempt (or the triplet expired): refuse temporarily and remember it. */
  | { readonly kind: "new" }
  /** Retried before the delay ran out: refuse again; `retryInSeconds` until it may pass. */
  | { readonly kind: "early"; readonly retryInSeconds: number }
  /** Retried after the delay (or known good): let through. */
  | { readonly kind: "pass" };

export interface GreylistCheck {
  /** The triplet, already normalised by the caller. */
  readonly triplet: string;
  /** The auto-whitelist key (client network and sender domain). */
  readonly sender: string;
  readonly now: Date;
  readonly delaySeconds: number;
  /** A triplet not retried within this long starts over. */
  readonly retryWindowSeconds: number;
  /** How long a sender that retried correctly skips greylisting. */
  readonly whitelistSeconds: number;
}

export interface GreylistStore {
  /** Atomically decides one triplet and records what it saw; a pass whitelists the sender. */
  checkGreylist(check: GreylistCheck): Promise<GreylistDecision>;
  /** Forgets triplets and whitelist entries older than their windows; returns how many rows went. */
  expireGreylist(now: Date, maxAgeSeconds: number): Promise<number>;
}
