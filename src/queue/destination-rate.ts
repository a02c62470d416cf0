// Per-destination rate limit: at most `perMinute` messages a minute to one recipient domain,
// spaced evenly (one every 60 s / perMinute) rather than in bursts, since receivers that throttle
// (RFC 5321 §4.5.4.1 lets them answer 421/451) count recent connections, not whole minutes.
//
// A message that comes too early is not attempted: it gets a reserved slot (the next free one,
// after every slot already promised) and is leased again at that time. The reservation is kept
// per entry, so a burst of N messages costs N reservations, not N² re-checks, and a message
// comes back when its turn is due, neither sooner nor later. Reservations are in memory: after a
// restart the entries are simply due again and take new slots.
export type RateDecision = { kind: "go" } | { kind: "wait"; until: number };

interface Domain {
  /** When the next unpromised slot starts (GCRA's theoretical arrival time), epoch ms. */
  nextFree: number;
}

/** How long a reservation is kept after its slot, for an entry that never came back (deleted). */
const STALE_MS = 10 * 60_000;

export class DestinationRate {
  readonly #intervalMs: number;
  readonly #domains = new Map<string, Domain>();
  /** `${entryId} ${domain}` → the slot promised to that entry. */
  readonly #reserved = new Map<string, number>();
  #lastSweep = 0;

  /** `perMinute` 0 means unlimited. */
  constructor(perMinute: number) {
    if (!(perMinute >= 0) || !Number.isFinite(perMinute)) throw new RangeError("a rate is 0 (unlimited) or more messages a minute");
    this.#intervalMs = perMinute === 0 ? 0 : 60_000 / perMinute;
  }

  get limited(): boolean {
    return this.#intervalMs > 0;
  }

  /**
   * Whether entry `entryId` may send to `domain` at `now` (epoch ms). "go" uses the slot; "wait"
   * reserves one for this entry and says when it starts. Asking again before then gives the
   * same slot; asking at or after it uses it.
   */
  admit(domain: string, entryId: number, now: number): RateDecision {
    if (!this.limited) return { kind: "go" };
    this.#sweep(now);
    const key = `${entryId} ${domain}`;
    const promised = this.#reserved.get(key);
    if (promised !== undefined) {
      if (promised > now) return { kind: "wait", until: promised };
      this.#reserved.delete(key);
      return { kind: "go" };
    }
    const state = this.#domains.get(domain);
    const slot = Math.max(now, state?.nextFree ?? now);
    this.#domains.set(domain, { nextFree: slot + this.#intervalMs });
    if (slot <= now) return { kind: "go" };
    this.#reserved.set(key, slot);
    return { kind: "wait", until: slot };
  }

  /** Entries holding a reserved slot, for tests and logs. */
  get reservations(): number {
    return this.#reserved.size;
  }

  /** Drops domains whose slots are all in the past (equivalent to never seen) and stale reservations. */
  #sweep(now: number): void {
    if (now - this.#lastSweep < 60_000) return;
    this.#lastSweep = now;
    for (const [domain, state] of this.#domains) if (state.nextFree <= now) this.#domains.delete(domain);
    for (const [key, slot] of this.#reserved) if (slot + STALE_MS < now) this.#reserved.delete(key);
  }
}
