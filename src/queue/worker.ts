// The outbound workers: lease due queue entries, attempt them, record per-recipient results,
// report to the sender (RFC 3464 DSNs) and remove finished entries.
//
// Order of durable steps for one attempt, chosen so a crash (kill -9) anywhere loses nothing:
//   1. the remote's replies arrive (a 250 after DATA means the remote has the message);
//   2. DSNs are written (sender's INBOX or the queue) — a crash here repeats them, never skips them;
//   3. recordAttempt() stores every recipient's state and the next attempt time, ending the lease;
//   4. complete() removes an entry with nothing left to do (listFinished() catches a crash before it).
// A crash before 3 leaves the lease to expire and the attempt to run again: recipients the remote
// had already accepted get a duplicate, never a loss (at-least-once).
import { Readable } from "node:stream";
import type { Logger } from "../observability/log.js";
import { systemTimers, type TimerHandle, type Timers } from "../net/index.js";
import type { QueuedMessage, QueueStore, RecipientResult } from "../store/index.js";
import { composeDsn, wantsNotice, type DsnRecipient } from "./bounce.js";
import type { BounceSink } from "./bounce-delivery.js";
import { attemptDelivery, domainOf, resultText, statusOf, type ClientSettings, type RecipientOutcome } from "./delivery-attempt.js";
import type { RoutingOptions } from "./destination.js";
import type { TlsSessionRecorder } from "./tls-rpt-recorder.js";
import { DestinationLimiter } from "./destination-limiter.js";
import { DestinationRate } from "./destination-rate.js";
import { isDelayWarningDue, isExpired, nextAttemptAt, type RetryPolicy } from "./retry-schedule.js";

export interface OutboundWorkerOptions {
  queue: QueueStore;
  routing: RoutingOptions;
  client: ClientSettings;
  retry: RetryPolicy;
  bounces: BounceSink;
  /** DKIM-Signature fields for an entry (empty when its domain has no key), over its stored bytes or `open`'s. */
  sign: (entry: QueuedMessage, open?: () => Readable) => Promise<Buffer>;
  /** Entries attempted at the same time. */
  concurrency: number;
  /** Connections at the same time to one destination host. */
  perDestination: number;
  /** Messages a minute to one recipient domain; 0 or absent: unlimited. */
  perDestinationRate?: number;
  /** How long a leased entry stays invisible to other workers; longer than any attempt takes. */
  leaseMs: number;
  /** How often the queue is polled when nothing woke the worker. */
  pollIntervalMs?: number;
  /** Our host name: Reporting-MTA of DSNs. */
  hostname: string;
  /** Now, for leases, rate slots, retries and expiry; and the poll timer. Tests pass a manual pair. */
  clock?: () => Date;
  timers?: Timers;
  log: Logger;
  /** TLS-RPT session counts (queue/tls-rpt-recorder.ts); absent: not counted. */
  tlsSessions?: TlsSessionRecorder | null;
}

export interface AttemptReport {
  id: number;
  outcomes: RecipientOutcome[];
  completed: boolean;
  /** When the message was queued (delivery latency metrics). */
  createdAt?: Date;
  /** The attempt's time. */
  at?: Date;
  /** The submitting account (outbound abuse limits count its refused recipients). */
  submittedBy?: string | null;
}

export class OutboundWorker {
  readonly #options: OutboundWorkerOptions;
  readonly #limiter: DestinationLimiter;
  readonly #rate: DestinationRate;
  readonly #clock: () => Date;
  readonly #timers: Timers;
  readonly #running = new Set<Promise<void>>();
  #timer: TimerHandle | null = null;
  /** When the poll timer fires (epoch ms), so an earlier rate slot can bring it forward. */
  #timerAt = Infinity;
  /** Rate slots (epoch ms) held-back entries are due at, still ahead: each needs a poll then. */
  readonly #slots = new Set<number>();
  #stopped = true;
  #polling: Promise<void> | null = null;
  #pollAgain = false;
  /** Called after every attempt; tests and the benchmark wait on it. */
  onAttempt: ((report: AttemptReport) => void) | null = null;

  constructor(options: OutboundWorkerOptions) {
    this.#options = options;
    this.#limiter = new DestinationLimiter(options.perDestination);
    this.#rate = new DestinationRate(options.perDestinationRate ?? 0);
    this.#clock = options.clock ?? (() => new Date());
    this.#timers = options.timers ?? systemTimers;
  }

  /** Completes what a previous run left finished, then polls until stop(). */
  async start(): Promise<void> {
    this.#stopped = false;
    for (const entry of await this.#options.queue.listFinished()) await this.#options.queue.complete(entry.id);
    this.wake();
  }

  /** Looks for due entries now (after an enqueue, or `mailroom queue flush`). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#polling) {
      this.#pollAgain = true;
      return;
    }
    this.#polling = this.#poll().finally(() => {
      this.#polling = null;
      if (this.#pollAgain) {
        this.#pollAgain = false;
        this.wake();
      } else this.#schedule();
    });
  }

  /**
   * Stops leasing and waits for attempts in flight (their results are recorded), at most
   * `graceMs`: an attempt still running then is abandoned, its lease expires and it runs again
   * after the restart (at-least-once).
   */
  async stop(graceMs = Infinity): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = null;
    this.#timerAt = Infinity;
    let timer: NodeJS.Timeout | undefined;
    const grace = Number.isFinite(graceMs) ? new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))) : new Promise<void>(() => undefined);
    try {
      await Promise.race([(async () => {
        await this.#polling;
        await Promise.all([...this.#running]);
      })(), grace]);
    } finally {
      clearTimeout(timer);
    }
    await this.flushTlsSessions().catch((error: unknown) => this.#options.log.warn("tls_rpt.record_failed", { error }));
  }

  /** Writes the TLS-RPT counts gathered so far to the store (stop() does too). */
  async flushTlsSessions(): Promise<void> {
    await this.#options.tlsSessions?.flush?.();
  }

  get inFlight(): number {
    return this.#running.size;
  }

  /** Resolves once no poll and no attempt is running (what a wake() started has settled). */
  async idle(): Promise<void> {
    while (this.#polling || this.#running.size > 0) {
      await this.#polling;
      await Promise.all([...this.#running]);
    }
  }

  /**
   * The next poll, one interval from now, unless a timer is already set sooner: a rate slot
   * (attempt() sets one) must not be pushed back to the poll interval, or a throttled domain
   * would be served at the poll's pace instead of its rate.
   */
  #schedule(): void {
    const now = this.#clock().getTime();
    let next = now + (this.#options.pollIntervalMs ?? 1000);
    for (const slot of this.#slots) next = Math.min(next, slot);
    this.#wakeIn(next - now);
  }

  /** Sets the poll timer to `ms` from now, when that is sooner than it is set for. */
  #wakeIn(ms: number): void {
    if (this.#stopped) return;
    const at = this.#clock().getTime() + Math.max(0, ms);
    if (this.#timer && at >= this.#timerAt) return;
    this.#timer?.cancel();
    this.#timerAt = at;
    this.#timer = this.#timers.set(Math.max(0, ms), () => {
      this.#timer = null;
      this.#timerAt = Infinity;
      this.wake();
    });
  }

  async #poll(): Promise<void> {
    // Slots up to now are served by this poll (their entries are due).
    const now = this.#clock().getTime();
    for (const slot of this.#slots) if (slot <= now) this.#slots.delete(slot);
    const free = this.#options.concurrency - this.#running.size;
    if (free <= 0) return;
    let due: QueuedMessage[];
    try {
      due = await this.#options.queue.leaseDue(this.#clock(), free, this.#options.leaseMs);
    } catch (error) {
      this.#options.log.error("queue.lease_failed", { error });
      return;
    }
    for (const entry of due) {
      const run = this.attempt(entry)
        .then(() => undefined)
        .catch((error: unknown) => this.#options.log.error("queue.attempt_failed", { queueId: entry.id, error }))
        .finally(() => {
          this.#running.delete(run);
          this.wake();
        });
      this.#running.add(run);
    }
    // A full batch means more may be due right away.
    if (due.length === free) this.#pollAgain = true;
  }

  /**
   * The open recipients whose domain is over its rate now, and when the earliest of their
   * reserved slots starts (destination-rate.ts); the others may be attempted.
   */
  #throttled(entry: QueuedMessage, now: Date): { held: Set<string>; until: number } {
    const held = new Set<string>();
    let until = Infinity;
    if (!this.#rate.limited) return { held, until };
    const decided = new Map<string, boolean>();
    for (const r of entry.recipients) {
      if (r.state !== "pending" && r.state !== "deferred") continue;
      const domain = domainOf(r.address);
      let wait = decided.get(domain);
      if (wait === undefined) {
        // One slot per domain per message: its recipients there share one transaction.
        const decision = this.#rate.admit(domain, entry.id, now.getTime());
        wait = decision.kind === "wait";
        if (decision.kind === "wait") until = Math.min(until, decision.until);
        decided.set(domain, wait);
      }
      if (wait) held.add(r.address);
    }
    return { held, until };
  }

  /**
   * One attempt of a leased entry, from delivery to the recorded result. Recipients whose domain
   * is over its rate are left out: no result, no attempt counted, the entry due again at their
   * slot. An entry with only such recipients is put back without signing or connecting, and
   * returns null (it was not attempted; onAttempt is not called).
   */
  async attempt(entry: QueuedMessage): Promise<AttemptReport | null> {
    const { queue, log } = this.#options;
    const throttle = this.#throttled(entry, this.#clock());
    const rest = entry.recipients.filter((r) => !throttle.held.has(r.address));
    if (throttle.held.size > 0) {
      log.info("queue.rate_limited", { queueId: entry.id, recipients: throttle.held.size, until: new Date(throttle.until).toISOString() });
      this.#slots.add(throttle.until);
      this.#wakeIn(throttle.until - this.#clock().getTime());
      if (!rest.some((r) => r.state === "pending" || r.state === "deferred")) {
        await queue.recordAttempt(entry.id, [], new Date(throttle.until));
        return null;
      }
    }
    return this.#deliver(throttle.held.size > 0 ? { ...entry, recipients: rest } : entry, throttle.until);
  }

  /** Delivers to the entry's open recipients; `heldUntil`: when others left out are due. */
  async #deliver(entry: QueuedMessage, heldUntil: number): Promise<AttemptReport> {
    const { queue, retry, log } = this.#options;
    const signatures = await this.#options.sign(entry).catch((error: unknown) => {
      // A broken key must not stop mail; the message goes unsigned and the operator is told.
      log.error("queue.dkim_failed", { queueId: entry.id, error });
      return Buffer.alloc(0);
    });
    const outcomes = await attemptDelivery(entry, {
      routing: this.#options.routing,
      client: this.#options.client,
      limiter: this.#limiter,
      open: () => queue.openQueued(entry),
      signatures,
      signBytes: (bytes) =>
        this.#options.sign(entry, () => Readable.from([bytes])).catch((error: unknown) => {
          log.error("queue.dkim_failed", { queueId: entry.id, error });
          return Buffer.alloc(0);
        }),
      log,
      tlsSessions: this.#options.tlsSessions ?? null,
    });
    const now = this.#clock();
    // RFC 5321 §4.5.4.1: past the lifetime, what is still deferred fails.
    const expired = isExpired(retry, entry.createdAt, now);
    const final = outcomes.map((o): RecipientOutcome => (expired && o.state === "deferred" ? { ...o, state: "failed", status: "4.4.7", diagnostic: `message expired after ${Math.round(retry.maxLifetimeMs / 3_600_000)} h; last error: ${resultText(o)}`, remoteMta: null } : o));
    const stillDeferred = final.filter((o) => o.state === "deferred");
    const warn = stillDeferred.length > 0 && isDelayWarningDue(retry, entry.createdAt, now, entry.delayWarned);
    await this.#report(entry, final, warn, now);
    const attempts = Math.max(0, ...entry.recipients.map((r) => r.attempts)) + 1;
    const results: RecipientResult[] = final.map((o) => (o.state === "delivered" ? { address: o.address, state: "delivered", reply: resultText(o) } : { address: o.address, state: o.state, reply: resultText(o) }));
    let next = stillDeferred.length > 0 ? nextAttemptAt(retry, entry.createdAt, attempts, now, entry.delayWarned || warn) : now;
    // Recipients held back by the rate limit are due at their slot. The queue keeps one time per
    // entry, so recipients deferred now are retried then too, sooner than the retry interval
    // RFC 5321 §4.5.4.1 recommends; only for an entry mixing a throttled domain with a failing one,
    // and better than holding the throttled recipients back for a whole retry interval.
    if (heldUntil < next.getTime() || (stillDeferred.length === 0 && Number.isFinite(heldUntil))) next = new Date(heldUntil);
    const recorded = await queue.recordAttempt(entry.id, results, next, { delayWarned: warn });
    const open = recorded.recipients.some((r) => r.state === "pending" || r.state === "deferred");
    if (!open) await queue.complete(entry.id);
    // One line per recipient and attempt, as Postfix's "to=<…>, relay=…, delay=…, dsn=…, status=…":
    // the queue id is the one the submission's smtp.accepted line gave.
    const attemptsBefore = new Map(entry.recipients.map((r) => [r.address, r.attempts]));
    for (const o of final) {
      log.info("queue.delivery", {
        queueId: entry.id,
        recipient: o.address,
        state: o.state,
        dsn: o.status,
        relay: o.relay ?? null,
        tls: o.tls ?? null,
        result: resultText(o),
        delayMs: now.getTime() - entry.createdAt.getTime(),
        attempt: (attemptsBefore.get(o.address) ?? 0) + 1,
        mailFrom: entry.mailFrom,
        size: entry.size,
      });
    }
    const report = { id: entry.id, outcomes: final, completed: !open, createdAt: entry.createdAt, at: now, submittedBy: entry.submittedBy };
    this.onAttempt?.(report);
    return report;
  }

  /**
   * `queue bounce` (admin/operations/outbound.ts): the postmaster returns an entry to its sender.
   * Every open recipient fails at once with RFC 3463 5.3.0 ("other or undefined mail system
   * status") and our words, the sender gets the usual RFC 3464 DSN (NOTIFY rules apply), and the
   * entry is removed: the same durable order as an attempt (DSN, then recordAttempt, then complete).
   */
  async bounceNow(entry: QueuedMessage, reason: string): Promise<AttemptReport> {
    const now = this.#clock();
    const open = entry.recipients.filter((r) => r.state === "pending" || r.state === "deferred");
    const outcomes: RecipientOutcome[] = open.map((r) => ({ address: r.address, state: "failed", status: "5.3.0", diagnostic: reason, remoteMta: null, remoteDsn: false, relay: null, tls: null }));
    await this.#report(entry, outcomes, false, now);
    const results: RecipientResult[] = outcomes.map((o) => ({ address: o.address, state: "failed", reply: resultText(o) }));
    if (results.length > 0) await this.#options.queue.recordAttempt(entry.id, results, now);
    await this.#options.queue.complete(entry.id);
    const attemptsBefore = new Map(entry.recipients.map((r) => [r.address, r.attempts]));
    for (const o of outcomes) {
      this.#options.log.info("queue.delivery", { queueId: entry.id, recipient: o.address, state: o.state, dsn: o.status, relay: null, tls: null, result: resultText(o), delayMs: now.getTime() - entry.createdAt.getTime(), attempt: (attemptsBefore.get(o.address) ?? 0) + 1, mailFrom: entry.mailFrom, size: entry.size });
    }
    // Counted as bounced in the metrics, but not against the sender's abuse.max_failed_ratio: the postmaster chose it.
    const report = { id: entry.id, outcomes, completed: true, createdAt: entry.createdAt, at: now, submittedBy: null };
    this.onAttempt?.(report);
    return report;
  }

  /** Sends the DSNs an attempt calls for: one for failures (and successes asked for), one delay warning. */
  async #report(entry: QueuedMessage, outcomes: RecipientOutcome[], warn: boolean, now: Date): Promise<void> {
    if (entry.mailFrom === "") return;
    const byAddress = new Map(entry.recipients.map((r) => [r.address, r]));
    const notices: DsnRecipient[] = [];
    const delays: DsnRecipient[] = [];
    for (const o of outcomes) {
      const recipient = byAddress.get(o.address);
      if (!recipient) continue;
      // RFC 3461 §6.2.2: a receiver that offers DSN takes over success reporting; otherwise we say "relayed".
      const action = o.state === "failed" ? "failed" : o.state === "deferred" ? "delayed" : o.remoteDsn ? null : "relayed";
      if (action === null || !wantsNotice(recipient, action)) continue;
      const notice = { recipient, action, status: o.status || statusOf(o.diagnostic, o.state === "failed" ? 5 : 4), diagnostic: o.diagnostic, remoteMta: o.remoteMta } as const;
      if (action === "delayed") {
        if (warn) delays.push(notice);
      } else notices.push(notice);
    }
    const retryUntil = new Date(entry.createdAt.getTime() + this.#options.retry.maxLifetimeMs);
    for (const recipients of [notices, delays]) {
      if (recipients.length === 0) continue;
      const dsn = composeDsn({ entry, recipients, reportingMta: this.#options.hostname, now, retryUntil, open: () => this.#options.queue.openQueued(entry) });
      try {
        const where = await this.#options.bounces.send(entry, dsn);
        this.#options.log.info("queue.dsn_sent", { queueId: entry.id, to: entry.mailFrom, where, action: recipients[0]!.action, recipients: recipients.length });
      } catch (error) {
        this.#options.log.error("queue.dsn_failed", { queueId: entry.id, to: entry.mailFrom, error });
      }
    }
  }
}
