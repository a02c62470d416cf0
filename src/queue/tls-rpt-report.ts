// TLS-RPT sending (RFC 8460): once a day, each recipient domain we had TLS sessions with that
// publishes a `_smtp._tls` TXT record (§3) gets a report of the previous UTC day: the JSON of
// §4.4, gzipped, sent to every rua of the record: mailto: as a multipart/report mail (§5.3)
// through our own outbound queue (which DKIM-signs it with the From domain's key, as §5.3
// requires), https: POSTed as application/tlsrpt+gzip (§5.2). The counts come from
// queue/tls-rpt-recorder.ts through the store; a domain's day is taken out of the store when its
// report is made (one report, also with several nodes), so a report that cannot be sent is lost,
// not repeated: reports are statistics, and §5.1 does not ask for more than best effort.
import { randomBytes } from "node:crypto";
import { request } from "node:https";
import type { LookupFunction } from "node:net";
import { rootCertificates } from "node:tls";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { isNegativeAnswer, type DnsResolver } from "../mail-auth/index.js";
import type { Logger } from "../observability/log.js";
import type { AccountStore, MailStore, QueueStore, TlsRptSessionStore, TlsSessionCount } from "../store/index.js";
import { utcDay } from "./tls-rpt-recorder.js";

/** RFC 8460 §3: "v=TLSRPTv1; rua=<uri>[,<uri>...]"; the rua URIs, or null when the record is not one. */
export function parseTlsRptRecord(txt: string): string[] | null {
  const fields = txt.split(";").map((f) => f.trim()).filter((f) => f !== "");
  if (fields[0] !== "v=TLSRPTv1") return null;
  const rua = fields.find((f) => /^rua\s*=/i.test(f));
  if (rua === undefined) return null;
  const uris = rua.slice(rua.indexOf("=") + 1).split(",").map((u) => u.trim()).filter((u) => /^(mailto:|https:)/i.test(u));
  return uris.length > 0 ? uris : null;
}

export interface ReportMeta {
  organization: string;
  contact: string;
  reportId: string;
  day: string;
}

/**
 * RFC 8460 §4.4: one domain's day as the report JSON, a policy entry per policy seen. A policy is
 * its type and its policy-string: each MX host's TLSA records (DANE) are a policy of their own.
 */
export function buildReport(counts: readonly TlsSessionCount[], meta: ReportMeta): Record<string, unknown> {
  const policies = new Map<string, TlsSessionCount[]>();
  for (const c of counts) {
    const key = JSON.stringify([c.policyDomain, c.policyType, c.policyType === "tlsa" ? c.policyStrings : []]);
    policies.set(key, [...(policies.get(key) ?? []), c]);
  }
  return {
    "organization-name": meta.organization,
    "date-range": { "start-datetime": `${meta.day}T00:00:00Z`, "end-datetime": `${meta.day}T23:59:59Z` },
    "contact-info": meta.contact,
    "report-id": meta.reportId,
    policies: [...policies.values()].map((rows) => {
      const first = rows[0]!;
      const failures = rows.filter((r) => r.resultType !== "");
      return {
        policy: {
          "policy-type": first.policyType,
          ...(first.policyStrings.length > 0 ? { "policy-string": first.policyStrings } : {}),
          "policy-domain": first.policyDomain,
          ...(first.policyType === "sts" ? { "mx-host": mxHostsOf(first.policyStrings) } : {}),
        },
        summary: {
          "total-successful-session-count": rows.filter((r) => r.resultType === "").reduce((sum, r) => sum + r.sessions, 0),
          "total-failure-session-count": failures.reduce((sum, r) => sum + r.sessions, 0),
        },
        ...(failures.length > 0
          ? {
              "failure-details": failures.map((r) => ({
                "result-type": r.resultType,
                ...(r.receivingIp !== "" ? { "receiving-ip": r.receivingIp } : {}),
                ...(r.mxHost !== "" ? { "receiving-mx-hostname": r.mxHost } : {}),
                "failed-session-count": r.sessions,
              })),
            }
          : {}),
      };
    }),
  };
}

function mxHostsOf(policyStrings: readonly string[]): string[] {
  return policyStrings.filter((line) => line.startsWith("mx:")).map((line) => line.slice(3).trim());
}

/** RFC 8460 §5.3: submitter!policy-domain!begin-timestamp!end-timestamp!unique-id.json.gz (seconds). */
export function reportFileName(submitter: string, policyDomain: string, day: string, uniqueId: string): string {
  const begin = Date.parse(`${day}T00:00:00Z`) / 1000;
  return `${submitter}!${policyDomain}!${begin}!${begin + 86_399}!${uniqueId}.json.gz`;
}

/** The report mail (RFC 8460 §5.3), unsigned: the queue signs it as it leaves. */
export function composeReportMail(options: { from: string; to: string[]; policyDomain: string; reportId: string; fileName: string; gzipped: Buffer; organization: string; day: string; now: Date; hostname: string }): Buffer {
  const submitter = options.from.slice(options.from.lastIndexOf("@") + 1);
  const boundary = `=_tlsrpt_${randomBytes(12).toString("hex")}`;
  const base64 = options.gzipped.toString("base64").replace(/.{1,76}/g, "$&\r\n");
  const lines = [
    `From: <${options.from}>`,
    `To: ${options.to.map((address) => `<${address}>`).join(", ")}`,
    `Subject: Report Domain: ${options.policyDomain} Submitter: ${submitter} Report-ID: <${options.reportId}>`,
    `Date: ${options.now.toUTCString().replace(/GMT$/, "+0000")}`,
    `Message-ID: <${randomBytes(12).toString("hex")}.tlsrpt@${options.hostname}>`,
    `TLS-Report-Domain: ${options.policyDomain}`,
    `TLS-Report-Submitter: ${submitter}`,
    // RFC 3834 §5: nobody should answer a report automatically.
    "Auto-Submitted: auto-generated",
    // RFC 8460 §3: reports are delivered despite TLS failures (they report exactly those), so the
    // recipient domain's MTA-STS/DANE policies are not applied to them (RFC 8689 §5).
    "TLS-Required: No",
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=us-ascii",
    "",
    `This is an aggregate TLS report (RFC 8460) from ${options.organization}`,
    `for ${options.policyDomain}, ${options.day} (UTC).`,
    "",
    `--${boundary}`,
    "Content-Type: application/tlsrpt+gzip",
    "Content-Transfer-Encoding: base64",
    `Content-Disposition: attachment; filename="${options.fileName}"`,
    "",
  ];
  return Buffer.from(`${lines.join("\r\n")}\r\n${base64}--${boundary}--\r\n`, "latin1");
}

/** One HTTPS POST of a gzipped report (RFC 8460 §5.2); resolves with the status. */
export type ReportPoster = (url: string, body: Buffer) => Promise<number>;

/** The real poster: certificate validated, names resolved through our resolver, no redirects followed. */
export function createHttpsReportPoster(options: { resolver: DnsResolver; ca?: string | Buffer; timeoutMs: number }): ReportPoster {
  const lookup: LookupFunction = (hostname, lookupOptions, callback) => {
    options.resolver(hostname, "A").then(
      (addresses) => {
        const first = addresses[0];
        if (first === undefined) callback(Object.assign(new Error(`${hostname}: no address`), { code: "ENOTFOUND" }), "", 4);
        else if ((lookupOptions as { all?: boolean }).all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, addresses.map((address) => ({ address, family: 4 })));
        else callback(null, first, 4);
      },
      (error: unknown) => callback(error as NodeJS.ErrnoException, "", 4),
    );
  };
  return (url, body) =>
    new Promise((resolve, reject) => {
      const target = new URL(url);
      const req = request(
        { method: "POST", host: target.hostname, servername: target.hostname, port: target.port === "" ? 443 : Number(target.port), path: `${target.pathname}${target.search}`, lookup, timeout: options.timeoutMs, headers: { "content-type": "application/tlsrpt+gzip", "content-length": body.length }, ...(options.ca ? { ca: [...rootCertificates, options.ca] } : {}) },
        (response) => {
          response.resume();
          response.on("end", () => resolve(response.statusCode ?? 0));
          response.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`TLS-RPT POST to ${target.host}: no answer within ${options.timeoutMs} ms`)));
      req.on("error", reject);
      req.end(body);
    });
}

export interface TlsRptSenderOptions {
  store: TlsRptSessionStore;
  resolver: DnsResolver;
  queue: Pick<QueueStore, "enqueue">;
  mail: Pick<MailStore, "stageMessage">;
  accounts: Pick<AccountStore, "listDomains">;
  /** outbound.tls_rpt_organization (null → hostname), tls_rpt_contact (null → from), tls_rpt_from (null → postmaster@ first local domain). */
  organization: string | null;
  contact: string | null;
  from: string | null;
  hostname: string;
  post: ReportPoster;
  log: Logger;
  clock?: () => Date;
  /** How often finished days are looked for; hourly by default (a day is reported within the hour after it ends). */
  checkIntervalMs?: number;
}

export class TlsRptSender {
  readonly #options: TlsRptSenderOptions;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<number> | null = null;

  constructor(options: TlsRptSenderOptions) {
    this.#options = options;
  }

  start(): void {
    const run = () => {
      this.#running ??= this.sendDue((this.#options.clock ?? (() => new Date()))())
        .catch((error: unknown) => {
          this.#options.log.warn("tls_rpt.send_failed", { error });
          return 0;
        })
        .finally(() => (this.#running = null));
    };
    this.#timer = setInterval(run, this.#options.checkIntervalMs ?? 3_600_000);
    this.#timer.unref();
    run();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  /** Reports every finished day (before `now`'s UTC day) still in the store; returns how many were sent. */
  async sendDue(now: Date): Promise<number> {
    let sent = 0;
    for (const { day, policyDomain } of await this.#options.store.listTlsSessionDomains(utcDay(now))) {
      if (await this.#report(day, policyDomain, now)) sent++;
    }
    return sent;
  }

  async #report(day: string, policyDomain: string, now: Date): Promise<boolean> {
    const { log } = this.#options;
    const rua = await this.#rua(policyDomain);
    // A lookup that failed for now leaves the day in the store for the next round.
    if (rua === undefined) return false;
    // Taken whether or not anyone wants the report: the day is done either way.
    const counts = await this.#options.store.takeTlsSessions(day, policyDomain);
    if (rua === null || counts.length === 0) return false;
    const from = this.#options.from ?? `postmaster@${(await this.#options.accounts.listDomains())[0]?.name ?? this.#options.hostname}`;
    const organization = this.#options.organization ?? this.#options.hostname;
    const uniqueId = randomBytes(8).toString("hex");
    const reportId = `${day}.${policyDomain}.${uniqueId}@${this.#options.hostname}`;
    const json = buildReport(counts, { organization, contact: this.#options.contact ?? from, reportId, day });
    const gzipped = gzipSync(Buffer.from(JSON.stringify(json), "utf8"));
    const mailto = rua.filter((uri) => /^mailto:/i.test(uri)).map((uri) => decodeURIComponent(uri.slice(7).split("?")[0]!)).filter((address) => /^[^@\s<>]+@[^@\s<>]+$/.test(address));
    const https = rua.filter((uri) => /^https:/i.test(uri));
    if (mailto.length > 0) {
      const submitter = from.slice(from.lastIndexOf("@") + 1);
      const bytes = composeReportMail({ from, to: mailto, policyDomain, reportId, fileName: reportFileName(submitter, policyDomain, day, uniqueId), gzipped, organization, day, now, hostname: this.#options.hostname });
      const staged = await this.#options.mail.stageMessage(Readable.from([bytes]));
      try {
        // NOTIFY=NEVER: a report that cannot be delivered is not worth a bounce to ourselves.
        await this.#options.queue.enqueue({ message: staged, mailFrom: from, submittedBy: null, recipients: mailto.map((address) => ({ address, notify: ["NEVER"], originalRecipient: null })), envelopeId: null, ret: null, bodyType: "7BIT", smtputf8: false });
      } finally {
        staged.discard();
      }
    }
    for (const url of https) {
      try {
        const status = await this.#options.post(url, gzipped);
        if (status < 200 || status >= 300) log.warn("tls_rpt.post_refused", { policyDomain, url, status });
      } catch (error) {
        log.warn("tls_rpt.post_failed", { policyDomain, url, error: error instanceof Error ? error.message : String(error) });
      }
    }
    log.info("tls_rpt.sent", { policyDomain, day, reportId, mailto, https: https.length, policies: (json.policies as unknown[]).length });
    return true;
  }

  /** The rua URIs of `_smtp._tls.<domain>` (RFC 8460 §3: exactly one TLSRPTv1 record), null for none, undefined when the lookup failed. */
  async #rua(domain: string): Promise<string[] | null | undefined> {
    try {
      const records = (await this.#options.resolver(`_smtp._tls.${domain}`, "TXT")).map((strings) => strings.join("")).filter((txt) => txt.startsWith("v=TLSRPTv1"));
      if (records.length !== 1) return null;
      return parseTlsRptRecord(records[0]!);
    } catch (error) {
      if (isNegativeAnswer(error)) return null;
      this.#options.log.warn("tls_rpt.txt_failed", { domain, error: String(error) });
      return undefined;
    }
  }
}
