// TLS-RPT report intake (RFC 8460). Other servers send the reports our `_smtp._tls` record asks for
// (rua=mailto:postmaster@<domain>, `mailroom dns`) as mail: a multipart/report with
// report-type=tlsrpt whose report part is application/tlsrpt+gzip (JSON, gzipped) or
// application/tlsrpt+json (§5.3). The message is delivered as any other; beside that, a message to a
// postmaster of ours carrying such a part has the report read, checked against §4's schema and
// stored (`mailroom tls-reports`, metrics). Hostile input never fails the delivery: the part is
// bounded (inbound.tls_report_max_size, compressed and decompressed), JSON errors and schema
// violations are logged and counted, and a report sent twice is stored once.
import { gunzip } from "node:zlib";
import { promisify } from "node:util";
import type { MimePart, ParsedMessage } from "../mail/mime-tree.js";
import type { Logger } from "../observability/log.js";
import type { TlsReport, TlsReportFailure, TlsReportPolicy, TlsReportStore } from "../store/index.js";

const gunzipAsync = promisify(gunzip);

export class TlsReportError extends Error {
  override readonly name: string = "TlsReportError";
}

/** The report, or its decompressed JSON, is over the configured limit (HTTP: 413). */
export class TlsReportTooLargeError extends TlsReportError {
  override readonly name = "TlsReportTooLargeError";
}

/** The report part of a TLS-RPT message, if it has one (RFC 8460 §5.3), depth-first. */
export function findTlsReportPart(root: MimePart): { part: MimePart; gzipped: boolean } | null {
  const type = `${root.contentType.type}/${root.contentType.subtype}`;
  if (type === "application/tlsrpt+gzip") return { part: root, gzipped: true };
  if (type === "application/tlsrpt+json") return { part: root, gzipped: false };
  for (const child of root.children) {
    const found = findTlsReportPart(child);
    if (found !== null) return found;
  }
  return null;
}

/** Whether a parsed message is a TLS report (cheap: the MIME tree only). */
export function isTlsReportMessage(parsed: ParsedMessage): boolean {
  return findTlsReportPart(parsed.root) !== null;
}

/** The part's body, transfer-decoded (base64 is what §5.3 senders use; 7bit/8bit/binary pass as is). */
export function decodePartBody(message: Buffer, part: MimePart, maxBytes: number): Buffer {
  const body = message.subarray(part.bodyStart, part.bodyEnd);
  const encoding = part.contentTransferEncoding;
  if (encoding === "base64") {
    const text = body.toString("latin1").replace(/[^A-Za-z0-9+/=]/g, "");
    if ((text.length * 3) / 4 > maxBytes) throw new TlsReportTooLargeError(`the report part is larger than ${maxBytes} bytes`);
    return Buffer.from(text, "base64");
  }
  if (encoding === "quoted-printable") throw new TlsReportError("quoted-printable report parts are not read (RFC 8460 §5.3 senders use base64)");
  if (body.length > maxBytes) throw new TlsReportTooLargeError(`the report part is larger than ${maxBytes} bytes`);
  return body;
}

/** The report JSON: gunzipped when it is gzip, never beyond maxBytes decompressed (a gzip bomb stops there). */
export async function reportJson(bytes: Buffer, gzipped: boolean, maxBytes: number): Promise<unknown> {
  let text: Buffer = bytes;
  // A sender may gzip a +json part or not gzip a +gzip one; the gzip magic decides (RFC 1952 §2.3.1).
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      text = await gunzipAsync(bytes, { maxOutputLength: maxBytes });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ERR_BUFFER_TOO_LARGE") throw new TlsReportTooLargeError(`the report is larger than ${maxBytes} bytes decompressed`);
      throw new TlsReportError(`the gzip data is damaged: ${(error as Error).message}`);
    }
  } else if (gzipped && bytes.length > 0 && bytes[0] !== 0x7b) {
    throw new TlsReportError("application/tlsrpt+gzip, but the part is neither gzip nor JSON");
  }
  if (text.length > maxBytes) throw new TlsReportTooLargeError(`the report is larger than ${maxBytes} bytes`);
  try {
    return JSON.parse(text.toString("utf8"));
  } catch (error) {
    throw new TlsReportError(`the report is not JSON: ${(error as Error).message.slice(0, 100)}`);
  }
}

/** RFC 8460 §4.4's schema, checked field by field; the error names the first field that is wrong. */
export function parseTlsReport(json: unknown): TlsReport {
  const report = object(json, "the report");
  const range = object(report["date-range"], "date-range");
  const start = dateTime(range["start-datetime"], "date-range.start-datetime");
  const end = dateTime(range["end-datetime"], "date-range.end-datetime");
  if (end.getTime() < start.getTime()) throw new TlsReportError("date-range ends before it starts");
  const policiesRaw = report["policies"];
  if (!Array.isArray(policiesRaw) || policiesRaw.length === 0 || policiesRaw.length > 1000) throw new TlsReportError("policies: expected an array of 1 to 1000 policies");
  const policies = policiesRaw.map((raw, index): TlsReportPolicy => {
    const at = `policies[${index}]`;
    const entry = object(raw, at);
    const policy = object(entry["policy"], `${at}.policy`);
    const summary = object(entry["summary"], `${at}.summary`);
    const detailsRaw = entry["failure-details"] ?? [];
    if (!Array.isArray(detailsRaw) || detailsRaw.length > 10_000) throw new TlsReportError(`${at}.failure-details: expected an array`);
    const failures = detailsRaw.map((detailRaw, d): TlsReportFailure => {
      const detail = object(detailRaw, `${at}.failure-details[${d}]`);
      return {
        resultType: text(detail["result-type"], `${at}.failure-details[${d}].result-type`, 100),
        sendingMtaIp: optionalText(detail["sending-mta-ip"], `${at}.failure-details[${d}].sending-mta-ip`, 100),
        receivingMxHostname: optionalText(detail["receiving-mx-hostname"], `${at}.failure-details[${d}].receiving-mx-hostname`, 255),
        failedSessionCount: count(detail["failed-session-count"], `${at}.failure-details[${d}].failed-session-count`),
      };
    });
    return {
      policyType: text(policy["policy-type"], `${at}.policy.policy-type`, 50),
      policyDomain: text(policy["policy-domain"], `${at}.policy.policy-domain`, 255).toLowerCase().replace(/\.$/, ""),
      successfulSessions: count(summary["total-successful-session-count"], `${at}.summary.total-successful-session-count`),
      failedSessions: count(summary["total-failure-session-count"], `${at}.summary.total-failure-session-count`),
      failures,
    };
  });
  return {
    organization: text(report["organization-name"], "organization-name", 255),
    reportId: text(report["report-id"], "report-id", 255),
    contact: optionalText(report["contact-info"], "contact-info", 255),
    start,
    end,
    policies,
  };
}

function object(value: unknown, at: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new TlsReportError(`${at}: expected an object`);
  return value as Record<string, unknown>;
}

function text(value: unknown, at: string, max: number): string {
  if (typeof value !== "string" || value.length === 0 || value.length > max || /[\x00-\x1f\x7f]/.test(value)) throw new TlsReportError(`${at}: expected text of 1 to ${max} printable characters`);
  return value;
}

function optionalText(value: unknown, at: string, max: number): string | null {
  return value === undefined || value === null ? null : text(value, at, max);
}

function count(value: unknown, at: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw new TlsReportError(`${at}: expected a count (a whole number, 0 or more)`);
  return value;
}

/** RFC 3339 date-time (§4.4: "date-time" of RFC 3339 §5.6). */
function dateTime(value: unknown, at: string): Date {
  if (typeof value !== "string" || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(value)) throw new TlsReportError(`${at}: expected an RFC 3339 date-time`);
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new TlsReportError(`${at}: not a real date`);
  return date;
}

export type TlsReportOutcome = "stored" | "duplicate" | "invalid";

export interface TlsReportIntakeOptions {
  store: TlsReportStore;
  /** inbound.tls_report_max_size: bytes of the report part, and of the JSON once decompressed. */
  maxBytes: number;
  log: Logger;
  /** Told of every report read (metrics). */
  observe?(outcome: TlsReportOutcome, report: TlsReport | null): void;
  clock?: () => Date;
}

/** What became of a report POSTed over HTTPS (RFC 8460 §5.2), for the HTTP answer. */
export type TlsReportUploadResult =
  | { outcome: "stored" | "duplicate" }
  /** bad: not a report (damaged gzip, not JSON, not §4.4's schema); not-ours: about no domain of ours; unavailable: the store failed (the sender should retry). */
  | { outcome: "invalid"; reason: string; problem: "bad" | "too-large" | "not-ours" | "unavailable" };

export interface TlsReportIntake {
  /** Reads, checks and stores the report of a delivered message; never throws. Null when the message is not one for us. */
  take(message: { parsed: ParsedMessage; read(): Promise<Buffer>; size: number }, recipients: readonly string[]): Promise<TlsReportOutcome | null>;
  /**
   * Reads, checks and stores a report POSTed to us (RFC 8460 §5.2): the body (at most maxBytes,
   * which the HTTP side enforces while reading it) is gzip or JSON. Only a report about at least
   * one of our domains is stored (anyone may POST; others' reports are not ours to keep). Never throws.
   */
  takeUpload(body: Buffer, gzipped: boolean, context: { remote: string; isLocalDomain(domain: string): Promise<boolean> }): Promise<TlsReportUploadResult>;
}

export function createTlsReportIntake(options: TlsReportIntakeOptions): TlsReportIntake {
  const clock = options.clock ?? (() => new Date());
  async function record(report: TlsReport, via: "mail" | "https", from: string | null): Promise<"stored" | "duplicate"> {
    const stored = await options.store.addTlsReport(report, clock());
    const outcome = stored ? "stored" : "duplicate";
    const failed = report.policies.reduce((sum, policy) => sum + policy.failedSessions, 0);
    options.log.info("tlsrpt.report", {
      outcome,
      via,
      ...(from === null ? {} : { remote: from }),
      organization: report.organization,
      reportId: report.reportId,
      domains: [...new Set(report.policies.map((policy) => policy.policyDomain))],
      successful: report.policies.reduce((sum, policy) => sum + policy.successfulSessions, 0),
      failed,
    });
    if (failed > 0 && stored) options.log.warn("tlsrpt.failures", { organization: report.organization, failures: report.policies.flatMap((policy) => policy.failures.map((f) => `${policy.policyDomain} ${f.resultType} x${f.failedSessionCount}${f.receivingMxHostname ? ` at ${f.receivingMxHostname}` : ""}`)).slice(0, 20) });
    options.observe?.(outcome, report);
    return outcome;
  }
  function reasonOf(error: unknown): string {
    return error instanceof TlsReportError ? error.message : `unexpected: ${error instanceof Error ? error.message : String(error)}`;
  }
  return {
    async take(message, recipients) {
      // Our _smtp._tls record names postmaster@<domain>; reports to other users are ordinary mail.
      if (!recipients.some((address) => /^postmaster@/i.test(address))) return null;
      const found = findTlsReportPart(message.parsed.root);
      if (found === null) return null;
      try {
        if (message.size > options.maxBytes * 2 + 64 * 1024) throw new TlsReportError(`the message is larger than inbound.tls_report_max_size allows for a report`);
        const bytes = await message.read();
        const json = await reportJson(decodePartBody(bytes, found.part, options.maxBytes), found.gzipped, options.maxBytes);
        return await record(parseTlsReport(json), "mail", null);
      } catch (error) {
        options.log.warn("tlsrpt.invalid", { via: "mail", reason: reasonOf(error), messageId: message.parsed.envelope.messageId });
        options.observe?.("invalid", null);
        return "invalid";
      }
    },

    async takeUpload(body, gzipped, context) {
      let notOurs = false;
      try {
        if (body.length > options.maxBytes) throw new TlsReportTooLargeError(`the report is larger than ${options.maxBytes} bytes`);
        const report = parseTlsReport(await reportJson(body, gzipped, options.maxBytes));
        const domains = [...new Set(report.policies.map((policy) => policy.policyDomain))];
        let ours = false;
        for (const domain of domains) {
          if (await context.isLocalDomain(domain)) {
            ours = true;
            break;
          }
        }
        if (!ours) {
          notOurs = true;
          throw new TlsReportError(`no policy-domain of the report is a domain of this server (${domains.slice(0, 5).join(", ")})`);
        }
        return { outcome: await record(report, "https", context.remote) };
      } catch (error) {
        const reason = reasonOf(error);
        const problem = notOurs ? "not-ours" : error instanceof TlsReportTooLargeError ? "too-large" : error instanceof TlsReportError ? "bad" : "unavailable";
        if (problem === "unavailable") options.log.error("tlsrpt.store_failed", { via: "https", remote: context.remote, reason });
        else options.log.warn("tlsrpt.invalid", { via: "https", remote: context.remote, reason });
        if (problem !== "unavailable") options.observe?.("invalid", null);
        return { outcome: "invalid", reason, problem };
      }
    },
  };
}
