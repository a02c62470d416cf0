// State that an embedded server keeps in its data dir or in memory, but that a cluster of nodes on
// one PostgreSQL database must share (issue 15: "a node can be wiped and replaced with no loss";
// docs/scale-out.md, "What lives where"):
//   - DKIM keys (mail-auth/dkim-keys.ts): every node signs with the same selectors;
//   - ACME account key, certificates and pending HTTP-01 and TLS-ALPN-01 answers (net/acme.ts): a
//     new node serves the same certificate, one renewed by one node is picked up by the others, and
//     the CA's validation request may reach any node behind the balancer;
//   - counters that limit what one account does (abuse/send-limits.ts, the Sieve redirect limit,
//     POP3 LOGIN-DELAY): spread over nodes they would otherwise multiply by the node count.
// The SQLite backend keeps all of this where it always did (files, memory): it is one process.

/** One DKIM key as stored: the selector, its algorithm and the PKCS#8 PEM private key. */
export interface StoredDkimKey {
  selector: string;
  algorithm: "ed25519-sha256" | "rsa-sha256";
  privateKeyPem: string;
}

export interface DkimKeyStore {
  /** The keys that sign for `domain` now (lower-case), or null when it has none. */
  loadDkimKeys(domain: string): Promise<StoredDkimKey[] | null>;
  /** Adds `keys` and makes exactly them the active ones, in one transaction; older keys stay (rotation). */
  saveDkimKeys(domain: string, keys: readonly StoredDkimKey[]): Promise<void>;
}

export interface StoredCertificate {
  name: string;
  certPem: string;
  keyPem: string;
  /** When it was stored (epoch ms): a node that loaded an older one adopts this one. */
  updatedAt: number;
}

export interface AcmeStateStore {
  /** The ACME account key (PEM), or null before the first order. */
  readAcmeAccountKey(): Promise<string | null>;
  /** Stores `keyPem` unless a key is there already; returns the key that is stored (the first writer's). */
  saveAcmeAccountKey(keyPem: string): Promise<string>;
  /** Every stored certificate (few: one per host name). */
  listAcmeCertificates(): Promise<StoredCertificate[]>;
  readAcmeCertificate(name: string): Promise<StoredCertificate | null>;
  saveAcmeCertificate(name: string, certPem: string, keyPem: string): Promise<void>;
  deleteAcmeCertificate(name: string): Promise<void>;
  /**
   * Claims the right to order `name` for ttlMs (one node orders at a time, so the CA's rate limit is
   * not spent once per node); true when this holder has it. An expired claim is taken over.
   */
  claimAcmeOrder(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseAcmeOrder(name: string, holder: string): Promise<void>;
  /** An HTTP-01 answer any node can serve (RFC 8555 §8.3) until it is deleted or ttlMs pass. */
  saveAcmeHttpChallenge(token: string, keyAuthorization: string, ttlMs: number): Promise<void>;
  readAcmeHttpChallenge(token: string): Promise<string | null>;
  deleteAcmeHttpChallenge(token: string): Promise<void>;
  /**
   * A TLS-ALPN-01 answer any node can serve (RFC 8737 §3): the acmeIdentifier certificate and its
   * key (PEM) for the DNS name `name` (lower-case), until it is deleted or ttlMs pass.
   */
  saveAcmeAlpnChallenge(name: string, certPem: string, keyPem: string, ttlMs: number): Promise<void>;
  readAcmeAlpnChallenge(name: string): Promise<{ certPem: string; keyPem: string } | null>;
  deleteAcmeAlpnChallenge(name: string): Promise<void>;
}

/** One windowed counter: `key` summed over the last `buckets` buckets of `bucketMs`. */
export interface CounterWindow {
  key: string;
  bucketMs: number;
  buckets: number;
}

export interface SharedCounterStore {
  /**
   * Adds `amount` to each key's current bucket (the database's clock), kept for the window. One
   * round trip; concurrent nodes never lose a count (upserts).
   */
  addCounters(entries: readonly (CounterWindow & { amount: number })[]): Promise<void>;
  /** Each window's sum now, in the order asked. */
  sumCounters(windows: readonly CounterWindow[]): Promise<number[]>;
  /**
   * Adds one to the key's current bucket unless the window already holds `limit`; true when
   * counted. Atomic across nodes: with limit N exactly N takes succeed in a window.
   */
  takeCounter(window: CounterWindow, limit: number): Promise<boolean>;
  /** Drops buckets whose window has passed. */
  pruneCounters(): Promise<number>;
}

export interface Pop3LoginStore {
  /** Milliseconds before the account may log in again under a LOGIN-DELAY of delaySeconds (0: now). */
  pop3LoginWait(accountId: number, delaySeconds: number): Promise<number>;
  /** The account logged in now (the database's clock). */
  recordPop3Login(accountId: number): Promise<void>;
}

export type SharedNodeStateStore = DkimKeyStore & AcmeStateStore & SharedCounterStore & Pop3LoginStore;
