// Abuse-control state that must hold across nodes (issue 15, "auth throttling and connection
// limits per IP hold across nodes"). The embedded server keeps these counters in memory
// (auth/auth-throttle.ts, abuse/ip-rate.ts, net/connection-limits.ts): one process sees every
// connection. With many nodes on one PostgreSQL database a guesser could otherwise spread its
// attempts over the nodes, so the shared backend keeps the records in the database instead.
// Every time here is the database's clock (epoch ms), returned as `now`, so nodes with skewed
// clocks agree on when a window ends (docs/scale-out.md, "Shared abuse state").

/** One throttle record as the store holds it (see auth/auth-throttle.ts for what the three keys mean). */
export interface ThrottleRecordRow {
  failures: number;
  /** When the current failure window began. */
  windowStart: number;
  /** Pairs only: the last successful login. */
  lastSuccessAt: number | null;
}

/** Records read or written, with the database time they were read at. */
export interface ThrottleSnapshot {
  now: number;
  records: Map<string, ThrottleRecordRow>;
}

export interface AuthThrottleStore {
  /** The records of these keys (absent keys have none); one round trip. */
  readThrottle(keys: readonly string[]): Promise<ThrottleSnapshot>;
  /**
   * Counts one failure against each key, atomically (concurrent nodes never lose a count): a record
   * whose window has passed (windowMs) starts a new one; trust older than trustedMs is dropped.
   */
  countThrottleFailures(keys: readonly string[], windowMs: number, trustedMs: number): Promise<ThrottleSnapshot>;
  /**
   * A successful login of `pairKey`: its failures in the current window are taken off `otherKeys`
   * (the address and account records), and the pair is trusted from now on with no failures.
   */
  forgiveThrottle(pairKey: string, otherKeys: readonly string[], windowMs: number): Promise<void>;
  /** Drops records with nothing left (window and trust over) and the least recently written beyond maxKeys. */
  pruneThrottle(windowMs: number, trustedMs: number, maxKeys: number): Promise<number>;
  /** `mailroom user unlock`: clears the failures of `accountKey` and of every pair key ending in `pairSuffix`. */
  unlockThrottle?(accountKey: string, pairSuffix: string): Promise<void>;
}

export interface IpMessageRateStore {
  /**
   * Counts one MAIL attempt from `ip` in the current minute unless the last 60 minutes already hold
   * `perHour` (then false, and nothing is counted), as abuse/ip-rate.ts does in memory.
   */
  admitIpMessage(ip: string, perHour: number): Promise<boolean>;
  /** Drops minute counters older than an hour. */
  pruneIpMessages(): Promise<number>;
}

export interface ConnectionCountStore {
  /**
   * Publishes this node's open connections per client group (replacing what it published before,
   * with a fresh heartbeat) and returns the sums of every other node's groups whose heartbeat is
   * younger than staleMs: a killed node's connections stop counting after staleMs.
   */
  publishConnections(nodeId: string, counts: ReadonlyMap<string, number>, staleMs: number): Promise<Map<string, number>>;
  /** Removes this node's row (a clean stop). */
  withdrawConnections(nodeId: string): Promise<void>;
}

/** What a shared backend offers; the embedded one offers none of it (its in-memory state is the whole truth). */
export type SharedAbuseStateStore = AuthThrottleStore & IpMessageRateStore & ConnectionCountStore;
