// Failure throttling for password logins, shared by SMTP, IMAP, POP3 and the admin API.
//
// Two tools, as in the servers we learn from:
// - Delay (Dovecot's auth_failure_delay / auth penalty): every failed attempt is answered late,
//   baseDelayMs doubling per failure in the window, capped at maxDelayMs. It costs a legitimate
//   user nothing (successes are never delayed) and caps a guessing client's rate per connection.
// - Refusal (like Postfix anvil's smtpd_client_auth_rate_limit, but keyed on failures): after
//   too many failures in windowMs the attempt is refused without checking the password, with a
//   retry-after, until the window that started with the first failure has passed.
//
// Three records per attempt: the client address, the account name, and the pair of both.
// - Address: lockoutThresholdIp failures from one address, over any accounts, refuse that
//   address. This stops a password spray from one host. IPv6 addresses count per /64 (option),
//   since one host usually owns a whole /64 and could otherwise rotate through 2^64 addresses.
// - Account: lockoutThresholdAccount failures (higher, from any addresses) refuse the account.
//   This stops a distributed guess at one account, but it hands attackers a way to lock the
//   real user out for as long as they keep failing. So a pair that logged in successfully within
//   trustedPairMs is exempt from the account and address refusals: the user keeps working from
//   their usual address while the attack goes on elsewhere. The pair's own failures still count
//   against lockoutThresholdIp, so the exemption buys an attacker at that address nothing.
// - Pair: a success forgives that pair's failures in the address and account records too (the
//   user mistyped, then got it right), and only those: logging in to one's own account does not
//   erase failures against other accounts, which Dovecot's clear-penalty-on-success would.
// Unknown account names are tracked like known ones, so throttling reveals nothing about which
// accounts exist. Memory is bounded: at most maxTrackedKeys records, least recently written first out.
import { isIPv4, isIPv6 } from "node:net";

export interface AuthThrottleOptions {
  /** Delay after the first failure; doubles with each further failure in the window. */
  baseDelayMs: number;
  /** Ceiling of the failure delay. */
  maxDelayMs: number;
  /** How long failures are remembered, counted from the first failure in the window. */
  windowMs: number;
  /** Failures from one client address (or one address+account pair) before refusal. */
  lockoutThresholdIp: number;
  /** Failures against one account, from all addresses, before refusal. */
  lockoutThresholdAccount: number;
  /** How long a successful login exempts its address+account pair from address and account refusal. */
  trustedPairMs: number;
  /** Most records kept; the least recently written is evicted first. */
  maxTrackedKeys: number;
  /** IPv6 addresses are grouped by this prefix length. */
  ipv6PrefixBits: number;
}

export const DEFAULT_AUTH_THROTTLE_OPTIONS: Readonly<AuthThrottleOptions> = Object.freeze({
  baseDelayMs: 200,
  maxDelayMs: 15_000,
  windowMs: 15 * 60_000,
  lockoutThresholdIp: 10,
  lockoutThresholdAccount: 20,
  trustedPairMs: 30 * 24 * 3_600_000,
  maxTrackedKeys: 100_000,
  ipv6PrefixBits: 64,
});

/** Who is trying: the client's address and the login name as the client sent it. */
export interface AuthSubject {
  remoteAddress: string;
  username: string;
}

/**
 * What the Authenticator asks of a throttle: the in-memory AuthThrottle (one node; synchronous) or
 * SharedAuthThrottle (records in the shared store, so every node sees every node's failures).
 */
export interface AuthThrottlePolicy {
  check(subject: AuthSubject): ThrottleVerdict | Promise<ThrottleVerdict>;
  recordFailure(subject: AuthSubject): { delayMs: number } | Promise<{ delayMs: number }>;
  recordSuccess(subject: AuthSubject): void | Promise<void>;
  /** `mailroom user unlock`: forgets the failures counted against the login name (account and pairs). */
  unlock?(username: string): void | Promise<void>;
}

export type ThrottleVerdict = { allowed: true } | { allowed: false; scope: "ip" | "account" | "pair"; retryAfterMs: number };

export interface AttemptRecord {
  failures: number;
  windowStart: number;
  /** Pairs only: time of the last successful login. */
  lastSuccessAt: number | null;
}

/** Account names longer than any address are junk; the cut keeps keys small. */
const MAX_ACCOUNT_KEY_CHARS = 320;

export class AuthThrottle implements AuthThrottlePolicy {
  private readonly options: AuthThrottleOptions;
  private readonly clock: () => number;
  private readonly records = new Map<string, AttemptRecord>();

  constructor(options: Partial<AuthThrottleOptions> & { clock?: () => number } = {}) {
    const { clock, ...rest } = options;
    this.options = { ...DEFAULT_AUTH_THROTTLE_OPTIONS, ...rest };
    this.clock = clock ?? Date.now;
  }

  /** Number of records held: never more than maxTrackedKeys. */
  get trackedKeys(): number {
    return this.records.size;
  }

  /** Whether an attempt may go ahead. Refused attempts are not counted as failures. */
  check(subject: AuthSubject): ThrottleVerdict {
    const now = this.clock();
    const keys = throttleKeys(subject, this.options.ipv6PrefixBits);
    return throttleVerdict(this.options, { ip: this.current(keys.ip, now), account: this.current(keys.account, now), pair: this.current(keys.pair, now) }, now);
  }

  /** Counts a failed attempt and returns how long to wait before answering it. */
  recordFailure(subject: AuthSubject): { delayMs: number } {
    const now = this.clock();
    const keys = throttleKeys(subject, this.options.ipv6PrefixBits);
    const ip = this.countFailure(keys.ip, now);
    this.countFailure(keys.account, now);
    const pair = this.countFailure(keys.pair, now);
    return { delayMs: failureDelay(this.options, ip, pair, now) };
  }

  /** Records a successful login: forgives the pair's failures and trusts the pair. */
  recordSuccess(subject: AuthSubject): void {
    const now = this.clock();
    const keys = throttleKeys(subject, this.options.ipv6PrefixBits);
    const pair = this.current(keys.pair, now);
    const forgiven = pair?.failures ?? 0;
    for (const key of [keys.ip, keys.account]) {
      const record = this.current(key, now);
      if (!record || forgiven === 0) continue;
      record.failures = Math.max(0, record.failures - forgiven);
      if (record.failures === 0) this.records.delete(key);
    }
    this.write(keys.pair, { failures: 0, windowStart: now, lastSuccessAt: now });
  }

  unlock(username: string): void {
    const { account } = throttleKeys({ remoteAddress: "", username }, this.options.ipv6PrefixBits);
    const suffix = `\t${account.slice("account\t".length)}`;
    for (const [key, record] of this.records) {
      if (key === account) this.records.delete(key);
      else if (key.startsWith("pair\t") && key.endsWith(suffix)) record.failures = 0;
    }
  }

  /** Drops expired records; a server may call this from a timer. Returns how many were dropped. */
  prune(): number {
    const now = this.clock();
    let dropped = 0;
    for (const key of [...this.records.keys()]) {
      if (this.current(key, now) === null) dropped += 1;
    }
    return dropped;
  }

  /** The record as of now, with an expired window or trust dropped; null when nothing is left. */
  private current(key: string, now: number): AttemptRecord | null {
    const record = this.records.get(key);
    if (!record) return null;
    if (record.failures > 0 && now - record.windowStart >= this.options.windowMs) record.failures = 0;
    if (record.lastSuccessAt !== null && now - record.lastSuccessAt >= this.options.trustedPairMs) record.lastSuccessAt = null;
    if (record.failures === 0 && record.lastSuccessAt === null) {
      this.records.delete(key);
      return null;
    }
    return record;
  }

  private countFailure(key: string, now: number): AttemptRecord {
    const record = this.current(key, now) ?? { failures: 0, windowStart: now, lastSuccessAt: null };
    if (record.failures === 0) record.windowStart = now;
    record.failures += 1;
    this.write(key, record);
    return record;
  }

  /** Stores a record as the most recent, evicting the least recently written beyond the cap. */
  private write(key: string, record: AttemptRecord): void {
    this.records.delete(key);
    this.records.set(key, record);
    while (this.records.size > Math.max(1, this.options.maxTrackedKeys)) {
      const oldest = this.records.keys().next();
      if (oldest.done) break;
      this.records.delete(oldest.value);
    }
  }
}

/** The three records an attempt is counted under (see the top of this file). */
export function throttleKeys(subject: AuthSubject, ipv6PrefixBits: number): { ip: string; account: string; pair: string } {
  const ip = clientAddressKey(subject.remoteAddress, ipv6PrefixBits);
  const account = subject.username.slice(0, MAX_ACCOUNT_KEY_CHARS).toLowerCase();
  // Tab cannot occur in an address key, so the pair key cannot collide with another pair's.
  return { ip: `ip\t${ip}`, account: `account\t${account}`, pair: `pair\t${ip}\t${account}` };
}

/**
 * A record as of `now`: an expired window counts no failures, expired trust is dropped; null when
 * nothing is left. Pure, so the in-memory throttle and the shared one (shared-auth-throttle.ts)
 * apply one rule to records from either place.
 */
export function liveRecord(options: Pick<AuthThrottleOptions, "windowMs" | "trustedPairMs">, record: AttemptRecord | null | undefined, now: number): AttemptRecord | null {
  if (!record) return null;
  const failures = record.failures > 0 && now - record.windowStart >= options.windowMs ? 0 : record.failures;
  const lastSuccessAt = record.lastSuccessAt !== null && now - record.lastSuccessAt >= options.trustedPairMs ? null : record.lastSuccessAt;
  if (failures === 0 && lastSuccessAt === null) return null;
  return { failures, windowStart: record.windowStart, lastSuccessAt };
}

function trusted(options: Pick<AuthThrottleOptions, "trustedPairMs">, pair: AttemptRecord | null, now: number): boolean {
  return pair !== null && pair.lastSuccessAt !== null && now - pair.lastSuccessAt < options.trustedPairMs;
}

/** The verdict for an attempt, from its three live records. */
export function throttleVerdict(options: AuthThrottleOptions, records: { ip: AttemptRecord | null; account: AttemptRecord | null; pair: AttemptRecord | null }, now: number): ThrottleVerdict {
  const { ip, account, pair } = records;
  const { lockoutThresholdIp, lockoutThresholdAccount } = options;
  const refusal = (scope: "ip" | "account" | "pair", record: AttemptRecord): ThrottleVerdict => ({ allowed: false, scope, retryAfterMs: Math.max(1, record.windowStart + options.windowMs - now) });
  if (pair && pair.failures >= lockoutThresholdIp) return refusal("pair", pair);
  if (trusted(options, pair, now)) return { allowed: true };
  if (ip && ip.failures >= lockoutThresholdIp) return refusal("ip", ip);
  if (account && account.failures >= lockoutThresholdAccount) return refusal("account", account);
  return { allowed: true };
}

/** How long to wait before answering a failure, given the address and pair records after counting it. */
export function failureDelay(options: AuthThrottleOptions, ip: AttemptRecord | null, pair: AttemptRecord | null, now: number): number {
  // A trusted pair is slowed by its own failures only, so a spray from a shared (NAT) address
  // does not make the real user wait 15 s after one typo.
  const failures = Math.max(1, (trusted(options, pair, now) ? pair?.failures : ip?.failures) ?? 1);
  const exponent = Math.min(failures - 1, 30);
  return Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** exponent);
}

/**
 * The address a client is counted under: IPv4 as is (IPv4-mapped IPv6 unwrapped), IPv6 cut to
 * its prefix, anything else (a Unix socket path, an empty string) as given, length-capped.
 */
export function clientAddressKey(remoteAddress: string, ipv6PrefixBits: number): string {
  if (isIPv4(remoteAddress)) return remoteAddress;
  const unzoned = remoteAddress.split("%")[0] ?? "";
  if (!isIPv6(unzoned)) return remoteAddress.slice(0, 100);
  const groups = ipv6Groups(unzoned);
  // RFC 4291 §2.5.5.2: ::ffff:a.b.c.d is an IPv4 client on a dual-stack socket.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const high = groups[6] ?? 0;
    const low = groups[7] ?? 0;
    return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  }
  const bits = Math.max(0, Math.min(128, ipv6PrefixBits));
  const masked = groups.map((group, index) => {
    const kept = Math.max(0, Math.min(16, bits - index * 16));
    return kept === 0 ? 0 : group & ((0xffff << (16 - kept)) & 0xffff);
  });
  return `${masked.map((g) => g.toString(16)).join(":")}/${bits}`;
}

/** The eight 16-bit groups of a textual IPv6 address already validated by isIPv6 (RFC 4291 §2.2). */
function ipv6Groups(address: string): number[] {
  let text = address;
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split(".").map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", rest] = text.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const restGroups = rest === undefined || rest === "" ? [] : rest.split(":");
  const zeros = rest === undefined ? [] : new Array<string>(8 - headGroups.length - restGroups.length).fill("0");
  return [...headGroups, ...zeros, ...restGroups].map((g) => parseInt(g, 16));
}
