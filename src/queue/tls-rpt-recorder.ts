// TLS-RPT counting (RFC 8460 §4): every TLS session with a recipient domain's MX host counts as a
// success or as a failure of a given result type, per UTC day, policy domain and policy. Counts
// are added up in memory and written to the store in one batch every few seconds (and at stop),
// so a delivery costs a map update, not a write. The daily report (queue/tls-rpt-report.ts)
// takes a day's counts out of the store.
//
// Sessions through a smarthost or a static route are not counted: those are not the recipient
// domain's MX hosts, and the report is about them. A DANE host (queue/dane.ts) carries a policy of
// type "tlsa" (queue/destination.ts) and its sessions are counted here like the others, with
// DANE's result types (queue/delivery-attempt.ts).
import type { Logger } from "../observability/log.js";
import type { TlsSessionCount, TlsRptSessionStore } from "../store/index.js";
import type { Destination, DestinationHost, TlsRptPolicy } from "./destination.js";
import type { TlsFailure } from "./smtp-client.js";
import { tlsRptResultType, type TlsRptResultType } from "./tls-outcome.js";

export interface TlsSessionRecorder {
  /** One session with `mxHost` at `receivingIp`: TLS established under the policy, or why not. */
  session(policy: TlsRptPolicy, mxHost: string, receivingIp: string, result: "success" | TlsRptResultType): void;
  /** A failure before any MX was contacted: fetching or validating the policy itself. */
  policyFailure(policy: TlsRptPolicy, result: TlsRptResultType): void;
  /** Writes what was counted so far (the worker's stop, tests). */
  flush?(): Promise<void>;
}

/** MX destinations without a policy are counted as "no-policy-found" (RFC 8460 §4.4). */
export function withReportPolicy(destination: Destination, domain: string): Destination {
  if (destination.kind !== "hosts" || (destination.via !== "mx" && destination.via !== "implicit-mx")) return destination;
  const none: TlsRptPolicy = { type: "no-policy-found", domain, strings: [], mxHost: [] };
  return { ...destination, hosts: destination.hosts.map((host) => (host.tlsPolicy ? host : { ...host, tlsPolicy: none })) };
}

/**
 * Counts one connection to a host (one session, RFC 8460 §4.3): a TLS failure as its result type
 * (the caller's when it knows better: DANE's, queue/dane.ts);
 * then, unless a failure was counted already (a plaintext fallback is the same session), TLS as a
 * success and plaintext (no STARTTLS offered) as starttls-not-supported. Hosts without a report
 * policy (smarthost, routes) are not counted.
 */
export function sessionCount(recorder: TlsSessionRecorder | null, host: DestinationHost, address: string): { failed(failure: TlsFailure, resultType?: TlsRptResultType): void; opened(secure: boolean): void } {
  let counted = false;
  const count = (result: "success" | TlsRptResultType) => {
    if (counted || recorder === null || !host.tlsPolicy) return;
    counted = true;
    recorder.session(host.tlsPolicy, host.name, address, result);
  };
  return {
    failed: (failure, resultType) => count(resultType ?? tlsRptResultType(failure)),
    opened: (secure) => count(secure ? "success" : "starttls-not-supported"),
  };
}

/** The UTC day of a time, "YYYY-MM-DD": the unit a report covers (RFC 8460 §4.1, 24 hours). */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

export interface BatchedRecorderOptions {
  store: TlsRptSessionStore;
  /** How often counts are written; 5 s by default. */
  flushIntervalMs?: number;
  clock?: () => Date;
  log: Logger;
}

export class BatchedTlsSessionRecorder implements TlsSessionRecorder {
  readonly #options: BatchedRecorderOptions;
  readonly #counts = new Map<string, TlsSessionCount>();
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> = Promise.resolve();

  constructor(options: BatchedRecorderOptions) {
    this.#options = options;
  }

  session(policy: TlsRptPolicy, mxHost: string, receivingIp: string, result: "success" | TlsRptResultType): void {
    this.#add(policy, mxHost.toLowerCase(), receivingIp, result === "success" ? "" : result);
  }

  policyFailure(policy: TlsRptPolicy, result: TlsRptResultType): void {
    this.#add(policy, "", "", result);
  }

  #add(policy: TlsRptPolicy, mxHost: string, receivingIp: string, resultType: string): void {
    const day = utcDay((this.#options.clock ?? (() => new Date()))());
    const policyDomain = policy.domain.toLowerCase();
    const key = JSON.stringify([day, policyDomain, policy.type, mxHost, receivingIp, resultType]);
    const found = this.#counts.get(key);
    if (found) {
      found.sessions++;
      found.policyStrings = policy.strings;
    } else {
      this.#counts.set(key, { day, policyDomain, policyType: policy.type, policyStrings: policy.strings, mxHost, receivingIp, resultType, sessions: 1 });
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = null;
      void this.flush();
    }, this.#options.flushIntervalMs ?? 5000);
    this.#timer.unref?.();
  }

  /** Writes what was counted so far; a failed write keeps the counts for the next flush. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      if (this.#counts.size === 0) return;
      const batch = [...this.#counts.values()];
      this.#counts.clear();
      try {
        await this.#options.store.addTlsSessions(batch);
      } catch (error) {
        this.#options.log.warn("tls_rpt.record_failed", { error, rows: batch.length });
        for (const row of batch) {
          const key = JSON.stringify([row.day, row.policyDomain, row.policyType, row.mxHost, row.receivingIp, row.resultType]);
          const found = this.#counts.get(key);
          if (found) found.sessions += row.sessions;
          else this.#counts.set(key, row);
        }
      }
    });
    return this.#flushing;
  }

  /** Stops the timer and writes the rest. */
  async stop(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.flush();
  }
}
