// TLS-RPT reports by HTTPS POST (RFC 8460 §5.2): our `_smtp._tls` record (`mailroom dns`) names
// rua=https://<server.hostname>/tlsrpt/v1 beside the mailto: address when http.tls_reports is on.
// The body is the report, gzip (application/tlsrpt+gzip) or not (application/tlsrpt+json); it is
// read up to http.tls_report_max_size (413 beyond, while reading) and decompressed no further than
// that either (a gzip bomb stops there), then read by the same parser and store as reports that
// come by mail (delivery/tls-report.ts). Answers: 201 stored, 200 already stored (a sender's
// retry), 400 not a report, 413 too large, 415 another media type, 422 a report about no domain
// of ours, 429 over http.tls_reports_per_hour from one address, 503 the store failed (the sender
// may retry later). HTTPS only: §3 names https URIs, and a report over plain HTTP would have
// crossed the network readable and alterable.
import type { FastifyInstance } from "fastify";
import { createIpMessageRate } from "../abuse/ip-rate.js";
import type { HttpContext } from "./context.js";

export const TLS_REPORT_PATH = "/tlsrpt/v1";

const MEDIA_TYPES = { "application/tlsrpt+gzip": true, "application/tlsrpt+json": false } as const;

/** The rua URI of our reports endpoint for `mailroom dns` (RFC 8460 §3). */
export function tlsReportUri(hostname: string): string {
  return `https://${hostname.toLowerCase().replace(/\.$/, "")}${TLS_REPORT_PATH}`;
}

function mediaType(header: string | undefined): string {
  return (header ?? "").split(";")[0]!.trim().toLowerCase();
}

export function registerTlsReports(app: FastifyInstance, context: HttpContext): void {
  const intake = context.tlsReports;
  if (intake === undefined) return;
  const limit = context.settings.tlsReportMaxSize;
  // Anyone may POST here: per client address, http.tls_reports_per_hour (counted in memory, bounded).
  const rate = createIpMessageRate(context.settings.tlsReportsPerHour);
  app.addContentTypeParser(Object.keys(MEDIA_TYPES), { parseAs: "buffer", bodyLimit: limit }, (_request, body, done) => done(null, body));
  app.post(TLS_REPORT_PATH, {
    bodyLimit: limit,
    // Refused before the body is read: the wrong scheme, media type or content coding.
    onRequest: async (request, reply) => {
      if (request.protocol !== "https") return reply.code(403).type("text/plain").send(`TLS reports are accepted over HTTPS only (RFC 8460 §3): POST to ${tlsReportUri(context.hostname)}\n`);
      const type = mediaType(request.headers["content-type"]);
      if (!(type in MEDIA_TYPES)) return reply.code(415).type("text/plain").send("expected Content-Type application/tlsrpt+gzip or application/tlsrpt+json (RFC 8460 §5.2)\n");
      const coding = (request.headers["content-encoding"] ?? "identity").toString().trim().toLowerCase();
      if (coding !== "identity" && coding !== "") return reply.code(415).type("text/plain").send("send the report without Content-Encoding: application/tlsrpt+gzip is the gzip form (RFC 8460 §5.2)\n");
      if (rate !== null && !rate.admit(request.ip)) {
        context.log.warn("tlsrpt.rate_limited", { remote: request.ip, perHour: context.settings.tlsReportsPerHour });
        return reply.code(429).header("retry-after", "3600").type("text/plain").send(`more than ${context.settings.tlsReportsPerHour} reports from this address in the last hour; try again later\n`);
      }
      return undefined;
    },
  }, async (request, reply) => {
    const body = request.body;
    if (!Buffer.isBuffer(body) || body.length === 0) return reply.code(400).type("text/plain").send("empty report\n");
    const gzipped = MEDIA_TYPES[mediaType(request.headers["content-type"]) as keyof typeof MEDIA_TYPES];
    const result = await intake.takeUpload(body, gzipped, { remote: request.ip, isLocalDomain: (domain) => context.isLocalDomain(domain) });
    if (result.outcome !== "invalid") return result.outcome === "stored" ? reply.code(201).type("text/plain").send("report stored\n") : reply.code(200).type("text/plain").send("report already stored\n");
    const status = { bad: 400, "too-large": 413, "not-ours": 422, unavailable: 503 }[result.problem];
    return reply.code(status).type("text/plain").send(status === 503 ? "the report could not be stored now; try again later\n" : `${result.reason}\n`);
  });
}
