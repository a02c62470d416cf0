// How many refused commands a session may write to the log. Every refusal is worth a line to a
// postmaster (it is how a client's bug or a probe is found: issue 12), but a client that sends
// garbage at line rate must not turn the log into its amplifier. A token bucket per session: a
// burst of BURST lines, then one line per REFILL_MS; what was held back is counted and reported
// on the next line that is written.

const BURST = 10;
const REFILL_MS = 6_000;

export class RefusalLogBudget {
  #tokens = BURST;
  #last: number;
  #suppressed = 0;

  constructor(now: number) {
    this.#last = now;
  }

  /** Null: do not log this one. Otherwise log it, with the number suppressed since the last line. */
  take(now: number): { suppressed: number } | null {
    const refill = Math.floor((now - this.#last) / REFILL_MS);
    if (refill > 0) {
      this.#tokens = Math.min(BURST, this.#tokens + refill);
      this.#last += refill * REFILL_MS;
    }
    if (this.#tokens === 0) {
      this.#suppressed++;
      return null;
    }
    this.#tokens--;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    return { suppressed };
  }
}
