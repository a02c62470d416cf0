// The auth throttle of auth-throttle.ts with its records in the shared store (PostgreSQL), for
// several nodes behind one balancer: a guesser who spreads attempts over the nodes meets one count
// (issue 15; docs/scale-out.md, "Shared abuse state"). Same keys, thresholds, delays and
// forgiveness rules as the in-memory throttle (the pure functions there); what changes is where a
// record lives and that each step is one statement, atomic under concurrent nodes:
//   check          one read of the three records
//   recordFailure  one upsert of the three records, returning them (the delay comes from those)
//   recordSuccess  one statement: the pair's failures forgiven, the pair trusted
// So a login costs two round trips besides the account lookup. Windows are measured on the
// database's clock, which every node shares. Expired rows are pruned by a timer (prune()).
import type { AuthThrottleStore } from "../store/index.js";
import { DEFAULT_AUTH_THROTTLE_OPTIONS, failureDelay, liveRecord, throttleKeys, throttleVerdict } from "./auth-throttle.js";
import type { AuthSubject, AuthThrottleOptions, AuthThrottlePolicy, ThrottleVerdict } from "./auth-throttle.js";

export class SharedAuthThrottle implements AuthThrottlePolicy {
  private readonly options: AuthThrottleOptions;

  constructor(
    private readonly store: AuthThrottleStore,
    options: Partial<AuthThrottleOptions> = {},
  ) {
    this.options = { ...DEFAULT_AUTH_THROTTLE_OPTIONS, ...options };
  }

  async check(subject: AuthSubject): Promise<ThrottleVerdict> {
    const keys = throttleKeys(subject, this.options.ipv6PrefixBits);
    const { now, records } = await this.store.readThrottle([keys.ip, keys.account, keys.pair]);
    const live = (key: string) => liveRecord(this.options, records.get(key), now);
    return throttleVerdict(this.options, { ip: live(keys.ip), account: live(keys.account), pair: live(keys.pair) }, now);
  }

  async recordFailure(subject: AuthSubject): Promise<{ delayMs: number }> {
    const keys = throttleKeys(subject, this.options.ipv6PrefixBits);
    const { now, records } = await this.store.countThrottleFailures([keys.ip, keys.account, keys.pair], this.options.windowMs, this.options.trustedPairMs);
    return { delayMs: failureDelay(this.options, liveRecord(this.options, records.get(keys.ip), now), liveRecord(this.options, records.get(keys.pair), now), now) };
  }

  async recordSuccess(subject: AuthSubject): Promise<void> {
    const keys = throttleKeys(subject, this.options.ipv6PrefixBits);
    await this.store.forgiveThrottle(keys.pair, [keys.ip, keys.account], this.options.windowMs);
  }

  async unlock(username: string): Promise<void> {
    const { account } = throttleKeys({ remoteAddress: "", username }, this.options.ipv6PrefixBits);
    await this.store.unlockThrottle?.(account, `\t${account.slice("account\t".length)}`);
  }

  /** Drops rows with nothing left in them, and the oldest beyond maxTrackedKeys; returns how many. */
  prune(): Promise<number> {
    return this.store.pruneThrottle(this.options.windowMs, this.options.trustedPairMs, this.options.maxTrackedKeys);
  }
}
