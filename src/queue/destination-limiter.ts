// Per-destination concurrency: at most `max` connections to one destination host at a time, so a
// burst of queued mail for one domain does not open hundreds of connections to its MX (receivers
// answer that with 421). Waiters are served first come, first served.
export class DestinationLimiter {
  readonly #max: number;
  readonly #active = new Map<string, number>();
  readonly #waiting = new Map<string, (() => void)[]>();

  constructor(max: number) {
    if (!(max >= 1)) throw new RangeError("a destination needs at least one connection");
    this.#max = max;
  }

  /** Resolves with the release function once a slot for `key` is free. */
  async acquire(key: string): Promise<() => void> {
    const active = this.#active.get(key) ?? 0;
    if (active < this.#max) {
      this.#active.set(key, active + 1);
    } else {
      // The releasing holder hands its slot over directly, so the count stays the same.
      await new Promise<void>((resolve) => {
        const queue = this.#waiting.get(key) ?? [];
        queue.push(resolve);
        this.#waiting.set(key, queue);
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#release(key);
    };
  }

  /** Connections open to `key` now. */
  activeFor(key: string): number {
    return this.#active.get(key) ?? 0;
  }

  #release(key: string): void {
    const queue = this.#waiting.get(key);
    const next = queue?.shift();
    if (queue && queue.length === 0) this.#waiting.delete(key);
    if (next) {
      next();
      return;
    }
    const active = (this.#active.get(key) ?? 1) - 1;
    if (active === 0) this.#active.delete(key);
    else this.#active.set(key, active);
  }
}
