// The server's Prometheus metrics (served at /metrics by http/metrics.ts). The one owner of
// prom-client: other modules receive a `Metrics` (or one of its narrow observer functions) and
// call it; nothing else imports the library. Names follow Prometheus conventions (base units,
// _total for counters). Gauges whose value lives elsewhere (queue, store, connections) are read at
// scrape time through the `sources` callbacks, so no module pushes state it does not own.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface MetricSources {
  /** Open connections per "protocol:port". */
  openConnections?(): Record<string, number>;
  /** Outbound queue: entries waiting and the age in seconds of the oldest. */
  queue?(): Promise<{ length: number; oldestAgeSeconds: number }>;
  /** Messages in the store. */
  storeMessages?(): Promise<number>;
}

export type MessageEvent = "received" | "delivered" | "relayed" | "deferred" | "bounced";

export class Metrics {
  readonly registry = new Registry();
  private readonly connections = new Counter({ name: "mailroom_connections_total", help: "Connections accepted, per protocol and listener port", labelNames: ["protocol", "listener"] as const, registers: [this.registry] });
  private readonly sessions = new Counter({ name: "mailroom_sessions_total", help: "Protocol sessions started (connections admitted past limits and TLS), per protocol and listener port", labelNames: ["protocol", "listener"] as const, registers: [this.registry] });
  private readonly tlsHandshakes = new Counter({ name: "mailroom_tls_handshakes_total", help: "TLS handshakes (implicit TLS, STARTTLS and HTTPS), per protocol and result", labelNames: ["protocol", "result"] as const, registers: [this.registry] });
  private readonly logins = new Counter({ name: "mailroom_logins_total", help: "Password logins, per protocol, SASL mechanism and result", labelNames: ["protocol", "mechanism", "result"] as const, registers: [this.registry] });
  private readonly messages = new Counter({ name: "mailroom_messages_total", help: "Messages received, delivered locally, relayed, deferred and bounced", labelNames: ["event"] as const, registers: [this.registry] });
  private readonly deliveryLatency = new Histogram({
    name: "mailroom_delivery_latency_seconds",
    help: "Time from acceptance to final delivery (local or relayed)",
    labelNames: ["kind"] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 1800, 3600, 14_400, 86_400],
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({ name: "mailroom_http_requests_total", help: "HTTP requests, per route and status code", labelNames: ["route", "status"] as const, registers: [this.registry] });
  private readonly spamVerdicts = new Counter({ name: "mailroom_spam_verdicts_total", help: "Inbound spam verdicts, per action (accept, junk, reject, greylist, tempfail: the content scanner was unavailable)", labelNames: ["action"] as const, registers: [this.registry] });
  private readonly sendLimitRefusals = new Counter({ name: "mailroom_send_limit_refusals_total", help: "Submissions refused by the outbound abuse limits, per limit", labelNames: ["limit"] as const, registers: [this.registry] });
  readonly tlsRptReports = new Counter({ name: "mailroom_tlsrpt_reports_total", help: "TLS-RPT reports received (RFC 8460)", labelNames: ["result"] as const, registers: [this.registry] });
  private readonly tlsRptSessions = new Counter({
    name: "mailroom_tlsrpt_sessions_total",
    help: "TLS sessions to our MX hosts as other servers' TLS-RPT reports count them, per policy domain and result (successful, failed)",
    labelNames: ["domain", "result"] as const,
    registers: [this.registry],
  });

  constructor(sources: MetricSources = {}) {
    // process_resident_memory_bytes (RSS), nodejs_eventloop_lag_seconds and the rest of the defaults.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
    new Gauge({
      name: "mailroom_connections_open",
      help: "Connections open now, per protocol and listener port",
      labelNames: ["protocol", "listener"] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [key, count] of Object.entries(sources.openConnections?.() ?? {})) {
          const [protocol, listener] = key.split(":");
          this.set({ protocol: protocol ?? "", listener: listener ?? "" }, count);
        }
      },
    });
    // Registered only with a source, so a scrape never shows a made-up zero.
    const queueSource = sources.queue;
    if (queueSource) {
    const queueLength = new Gauge({ name: "mailroom_queue_length", help: "Outbound queue entries waiting for delivery", registers: [this.registry] });
    new Gauge({
      name: "mailroom_queue_oldest_age_seconds",
      help: "Age of the oldest outbound queue entry",
      registers: [this.registry],
      async collect() {
        const state = await queueSource();
        queueLength.set(state.length);
        this.set(state.oldestAgeSeconds);
      },
    });
    }
    const storeSource = sources.storeMessages;
    if (storeSource) new Gauge({
      name: "mailroom_store_messages",
      help: "Messages in the mail store",
      registers: [this.registry],
      async collect() {
        this.set(await storeSource());
      },
    });
  }

  connectionAccepted(protocol: string, listener: number | string): void {
    this.connections.inc({ protocol, listener: String(listener) });
  }

  sessionStarted(protocol: string, listener: number | string): void {
    this.sessions.inc({ protocol, listener: String(listener) });
  }

  tlsHandshake(protocol: string, ok: boolean): void {
    this.tlsHandshakes.inc({ protocol, result: ok ? "ok" : "failed" });
  }

  login(protocol: string, mechanism: string, ok: boolean): void {
    this.logins.inc({ protocol, mechanism: mechanism.toUpperCase(), result: ok ? "ok" : "failed" });
  }

  sendLimitRefusal(limit: string): void {
    this.sendLimitRefusals.inc({ limit });
  }

  spamVerdict(action: "accept" | "junk" | "reject" | "greylist" | "tempfail"): void {
    this.spamVerdicts.inc({ action });
  }

  message(event: MessageEvent, count = 1): void {
    this.messages.inc({ event }, count);
  }

  /** A TLS-RPT report read: its outcome, and (when newly stored) its session counts per policy domain. */
  tlsReport(outcome: "stored" | "duplicate" | "invalid", policies: readonly { policyDomain: string; successfulSessions: number; failedSessions: number }[]): void {
    this.tlsRptReports.inc({ result: outcome });
    if (outcome !== "stored") return;
    for (const policy of policies) {
      this.tlsRptSessions.inc({ domain: policy.policyDomain, result: "successful" }, policy.successfulSessions);
      this.tlsRptSessions.inc({ domain: policy.policyDomain, result: "failed" }, policy.failedSessions);
    }
  }

  delivered(kind: "local" | "relayed", seconds: number): void {
    this.deliveryLatency.observe({ kind }, seconds);
  }

  /**
   * The cumulative counts the admin dashboard charts (observability/admin-series.ts samples them
   * each minute): messages per event, failed logins, connections per protocol. The same counters
   * /metrics renders, so the two never disagree.
   */
  async snapshot(): Promise<Record<string, number>> {
    const out: Record<string, number> = { received: 0, delivered: 0, relayed: 0, deferred: 0, bounced: 0, loginsFailed: 0 };
    for (const v of (await this.messages.get()).values) out[String(v.labels.event)] = (out[String(v.labels.event)] ?? 0) + v.value;
    for (const v of (await this.logins.get()).values) if (v.labels.result === "failed") out.loginsFailed! += v.value;
    for (const v of (await this.connections.get()).values) {
      const key = `connections.${String(v.labels.protocol)}`;
      out[key] = (out[key] ?? 0) + v.value;
    }
    return out;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
