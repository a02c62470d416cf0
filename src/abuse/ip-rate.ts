// Messages per hour from one client address on port 25 (issue 17's connection stage): a host
// that opens transaction after transaction is a spam run or a broken loop, whoever it claims to
// be. Counted at MAIL (attempts, not accepted messages, so refused floods count too), in memory,
// in minute buckets; addresses idle for an hour are forgotten, and the map is bounded. Several
// nodes on one shared store count together instead (createSharedIpMessageRate): per-minute
// counters in the database, one statement per MAIL.
import { SlidingCounter } from "./send-limits.js";

export interface IpMessageRate {
  /** Counts one attempt; false when the address is over its hourly limit (the attempt is refused). */
  admit(ip: string, now?: Date): boolean | Promise<boolean>;
  readonly tracked: number;
}

const MINUTE = 60_000;
/** Addresses tracked at most; past it the idle ones go first, then the oldest entries. */
const MAX_TRACKED = 100_000;

export function createIpMessageRate(perHour: number): IpMessageRate | null {
  if (perHour <= 0) return null;
  const counters = new Map<string, SlidingCounter>();
  return {
    admit(ip, at = new Date()) {
      const now = at.getTime();
      let counter = counters.get(ip);
      if (!counter) {
        if (counters.size >= MAX_TRACKED) {
          for (const [key, c] of counters) if (c.idle(now)) counters.delete(key);
          while (counters.size >= MAX_TRACKED) counters.delete(counters.keys().next().value!);
        }
        counter = new SlidingCounter(60, MINUTE);
        counters.set(ip, counter);
      }
      if (counter.sum(now) >= perHour) return false;
      counter.add(now, 1);
      return true;
    },
    get tracked() {
      return counters.size;
    },
  };
}

/** The shared store's counter (store/abuse-state-store.ts IpMessageRateStore), named here structurally: abuse/ sits below store/. */
export interface SharedIpMessageCounter {
  admitIpMessage(ip: string, perHour: number): Promise<boolean>;
}

/**
 * The hourly limit counted in the shared store, so a sender spreading its connections over the
 * nodes meets one limit. A store failure admits the attempt (and says so through onError): the
 * delivery that follows fails temporarily on its own if the store is really gone.
 */
export function createSharedIpMessageRate(counter: SharedIpMessageCounter, perHour: number, onError: (error: unknown) => void): IpMessageRate | null {
  if (perHour <= 0) return null;
  return {
    async admit(ip) {
      try {
        return await counter.admitIpMessage(ip, perHour);
      } catch (error) {
        onError(error);
        return true;
      }
    },
    // Nothing is held in this process.
    tracked: 0,
  };
}
