// What every route family receives: a narrow view of the running server, so routes stay pure
// functions of their request and this context (src/server/compose.ts builds it).
import type { HttpSettings } from "../config/index.js";
import type { AcmeChallenges } from "../net/index.js";
import type { TlsReportIntake } from "../delivery/tls-report.js";
import type { Logger } from "../observability/log.js";
import type { ClientServer } from "./client-settings.js";
import type { AdminWebContext } from "./admin-context.js";

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface HttpContext {
  /** server.hostname: the host apps connect to. */
  hostname: string;
  settings: HttpSettings;
  /** The enabled client listeners, as apps should try them (client-settings.ts). */
  servers(): ClientServer[];
  /** Only our own domains get settings; others get 404 (no probing of what we host beyond that). */
  isLocalDomain(domain: string): Promise<boolean>;
  /** /readyz: store reachable, listeners up. */
  readiness(): Promise<ReadinessCheck[]>;
  /** /metrics in Prometheus text format, or null when metrics are not collected. */
  metrics: { contentType: string; render(): Promise<string> } | null;
  /** Signs a .mobileconfig (DER CMS) with the server certificate when it is trusted; null: served unsigned. */
  signProfile?(profile: Buffer): Promise<Buffer | null>;
  /** Pending ACME validations (net/acme.ts): HTTP-01 tokens, TLS-ALPN-01 certificates; absent without [acme]. */
  acmeChallenges?: AcmeChallenges;
  /** TLS-RPT reports POSTed to us (tls-rpt.ts); absent when http.tls_reports is off or the store keeps none. */
  tlsReports?: Pick<TlsReportIntake, "takeUpload">;
  /** The admin API, admin pages and account page (http.admin); absent: those routes are not served. */
  admin?: AdminWebContext;
  log: Logger;
}
