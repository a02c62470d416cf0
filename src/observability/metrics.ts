// The server's Prometheus metrics (served at /metrics by http/metrics.ts). The one owner of
// prom-client: other modules receive a `Metrics` (or one of its narrow observer functions) and
// call it; nothing else imports the library. Names follow Prometheus conventions (base units,
// _total for counters). Gauges whose value lives elsewhere (queue, store, connections) are read at
// scrape time through the `sources` callbacks, so no module pushes state it does not own.
//
// The server's own series are kept here in plain maps and written in the Prometheus text format
// (prometheus.io/docs/instrumenting/exposition_formats) at scrape time. prom-client itself, with
// its process_* and nodejs_* default series, is imported on the first scrape only: it weighs
// ~10 MiB and starts timers, which an idle server that is never scraped does not need (idle RSS,
// issue #13). The defaults' own histograms (event-loop lag, GC) therefore count from that scrape on.
import type { Registry } from "prom-client";

export interface MetricSources {
  /** Open connections per "protocol:port". */
  openConnections?(): Record<string, number>;
  /** Outbound queue: entries waiting and the age in seconds of the oldest. */
  queue?(): Promise<{ length: number; oldestAgeSeconds: number }>;
  /** Messages in the store. */
  storeMessages?(): Promise<number>;
}

export type MessageEvent = "received" | "delivered" | "relayed" | "deferred" | "bounced";

/** The text format's label value escaping: backslash, double quote and line feed. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labelText(names: readonly string[], values: readonly string[], extra = ""): string {
  const pairs = names.map((name, i) => `${name}="${escapeLabel(values[i] ?? "")}"`);
  if (extra) pairs.push(extra);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

function numberText(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** A counter with labels: one running total per label combination. */
class LabelledCounter<L extends string> {
  private readonly values = new Map<string, { labels: string[]; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
  ) {}

  inc(labels: Record<L, string>, by = 1): void {
    const values = this.labelNames.map((name) => labels[name]);
    const key = values.join("\u0000");
    const entry = this.values.get(key);
    if (entry) entry.value += by;
    else this.values.set(key, { labels: values, value: by });
  }

  /** Each label combination's running total (the admin dashboard's snapshot). */
  entries(): { labels: Record<L, string>; value: number }[] {
    return [...this.values.values()].map(({ labels, value }) => ({ labels: Object.fromEntries(this.labelNames.map((name, i) => [name, labels[i]!])) as Record<L, string>, value }));
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    for (const { labels, value } of this.values.values()) out.push(`${this.name}${labelText(this.labelNames, labels)} ${numberText(value)}`);
  }
}

/** A histogram with labels: cumulative bucket counts, sum and count per label combination. */
class LabelledHistogram<L extends string> {
  private readonly values = new Map<string, { labels: string[]; buckets: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    readonly bounds: readonly number[],
  ) {}

  observe(labels: Record<L, string>, value: number): void {
    const values = this.labelNames.map((name) => labels[name]);
    const key = values.join("\u0000");
    let entry = this.values.get(key);
    if (!entry) {
      entry = { labels: values, buckets: this.bounds.map(() => 0), sum: 0, count: 0 };
      this.values.set(key, entry);
    }
    for (let i = 0; i < this.bounds.length; i++) if (value <= this.bounds[i]!) entry.buckets[i]! += 1;
    entry.sum += value;
    entry.count += 1;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    for (const { labels, buckets, sum, count } of this.values.values()) {
      this.bounds.forEach((bound, i) => out.push(`${this.name}_bucket${labelText(this.labelNames, labels, `le="${numberText(bound)}"`)} ${buckets[i]}`));
      out.push(`${this.name}_bucket${labelText(this.labelNames, labels, 'le="+Inf"')} ${count}`);
      out.push(`${this.name}_sum${labelText(this.labelNames, labels)} ${numberText(sum)}`);
      out.push(`${this.name}_count${labelText(this.labelNames, labels)} ${count}`);
    }
  }
}

function gauge(out: string[], name: string, help: string, rows: readonly { labels?: string; value: number }[]): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
  for (const row of rows) out.push(`${name}${row.labels ?? ""} ${numberText(row.value)}`);
}

export class Metrics {
  private readonly connections = new LabelledCounter("mailroom_connections_total", "Connections accepted, per protocol and listener port", ["protocol", "listener"]);
  private readonly sessions = new LabelledCounter("mailroom_sessions_total", "Protocol sessions started (connections admitted past limits and TLS), per protocol and listener port", ["protocol", "listener"]);
  private readonly tlsHandshakes = new LabelledCounter("mailroom_tls_handshakes_total", "TLS handshakes (implicit TLS, STARTTLS and HTTPS), per protocol and result", ["protocol", "result"]);
  private readonly logins = new LabelledCounter("mailroom_logins_total", "Password logins, per protocol, SASL mechanism and result", ["protocol", "mechanism", "result"]);
  private readonly messages = new LabelledCounter("mailroom_messages_total", "Messages received, delivered locally, relayed, deferred and bounced", ["event"]);
  private readonly deliveryLatency = new LabelledHistogram(
    "mailroom_delivery_latency_seconds",
    "Time from acceptance to final delivery (local or relayed)",
    ["kind"],
    [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 1800, 3600, 14_400, 86_400],
  );
  readonly httpRequests = new LabelledCounter("mailroom_http_requests_total", "HTTP requests, per route and status code", ["route", "status"]);
  private readonly spamVerdicts = new LabelledCounter("mailroom_spam_verdicts_total", "Inbound spam verdicts, per action (accept, junk, reject, greylist, tempfail: the content scanner was unavailable)", ["action"]);
  private readonly sendLimitRefusals = new LabelledCounter("mailroom_send_limit_refusals_total", "Submissions refused by the outbound abuse limits, per limit", ["limit"]);
  readonly tlsRptReports = new LabelledCounter("mailroom_tlsrpt_reports_total", "TLS-RPT reports received (RFC 8460)", ["result"]);
  private readonly tlsRptSessions = new LabelledCounter(
    "mailroom_tlsrpt_sessions_total",
    "TLS sessions to our MX hosts as other servers' TLS-RPT reports count them, per policy domain and result (successful, failed)",
    ["domain", "result"],
  );
  /** prom-client's registry with the default series, from the first scrape on. */
  private defaults: Promise<Registry> | null = null;

  constructor(private readonly sources: MetricSources = {}) {}

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
    for (const v of this.messages.entries()) out[String(v.labels.event)] = (out[String(v.labels.event)] ?? 0) + v.value;
    for (const v of this.logins.entries()) if (v.labels.result === "failed") out.loginsFailed! += v.value;
    for (const v of this.connections.entries()) {
      const key = `connections.${String(v.labels.protocol)}`;
      out[key] = (out[key] ?? 0) + v.value;
    }
    return out;
  }

  /** Prometheus text format 0.0.4, what prom-client's registry also answers with. */
  get contentType(): string {
    return "text/plain; version=0.0.4; charset=utf-8";
  }

  async render(): Promise<string> {
    this.defaults ??= import("prom-client").then(({ Registry: PromRegistry, collectDefaultMetrics }) => {
      const registry = new PromRegistry();
      // process_resident_memory_bytes (RSS), nodejs_eventloop_lag_seconds and the rest of the defaults.
      collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
      return registry;
    });
    const out: string[] = [];
    const openConnections = Object.entries(this.sources.openConnections?.() ?? {}).map(([key, value]) => {
      const [protocol, listener] = key.split(":");
      return { labels: labelText(["protocol", "listener"], [protocol ?? "", listener ?? ""]), value };
    });
    gauge(out, "mailroom_connections_open", "Connections open now, per protocol and listener port", openConnections);
    // Registered only with a source, so a scrape never shows a made-up zero.
    if (this.sources.queue) {
      const state = await this.sources.queue();
      gauge(out, "mailroom_queue_length", "Outbound queue entries waiting for delivery", [{ value: state.length }]);
      gauge(out, "mailroom_queue_oldest_age_seconds", "Age of the oldest outbound queue entry", [{ value: state.oldestAgeSeconds }]);
    }
    if (this.sources.storeMessages) gauge(out, "mailroom_store_messages", "Messages in the mail store", [{ value: await this.sources.storeMessages() }]);
    for (const counter of [this.connections, this.sessions, this.tlsHandshakes, this.logins, this.messages, this.httpRequests, this.spamVerdicts, this.sendLimitRefusals, this.tlsRptReports, this.tlsRptSessions]) counter.render(out);
    this.deliveryLatency.render(out);
    const defaults = await (await this.defaults).metrics();
    return `${defaults.endsWith("\n") || defaults === "" ? defaults : `${defaults}\n`}${out.join("\n")}\n`;
  }
}
