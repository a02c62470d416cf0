// The public surface of the outbound queue: workers that deliver queued mail to other servers,
// the pieces compose.ts wires together, and the SMTP client for whoever needs one.
export { OutboundWorker, type OutboundWorkerOptions, type AttemptReport } from "./worker.js";
export { createBounceSink, type BounceSink, type BounceSinkOptions } from "./bounce-delivery.js";
export { createDkimSigner } from "./dkim-signer.js";
export { resolveDestination, resolveHostAddresses, type Destination, type DestinationHost, type RoutingOptions, type RouteTarget } from "./destination.js";
export type { ClientSettings, RecipientOutcome } from "./delivery-attempt.js";
export type { RetryPolicy } from "./retry-schedule.js";
export { SmtpClient, SmtpClientError, replyText, type SmtpClientOptions, type ClientTlsMode } from "./smtp-client.js";
export { createHttpsPolicyFetcher, createMtaStsLookup, mxMatches, parsePolicy, parseStsRecord, type HttpsFetcherOptions, type MtaStsLookup, type MtaStsPolicy, type PolicyFetcher } from "./mta-sts.js";
export { createDeliveryReporter, type DeliveryReporter, type LocallyDelivered } from "./delivery-report.js";
export { createDaneResolver, daneSession, verifyDanePeer, type DaneOutcome, type DanePolicy, type DaneResolver, type DaneResultType, type DaneSession } from "./dane.js";
export { isUsableTlsa, spkiSha256, tlsaMatches, tlsaText, verifyChain, type TlsaRecord, type TlsaVerification } from "./tlsa.js";
export { BatchedTlsSessionRecorder, type TlsSessionRecorder } from "./tls-rpt-recorder.js";
export { TlsRptSender, createHttpsReportPoster, buildReport, parseTlsRptRecord, type ReportPoster } from "./tls-rpt-report.js";
export { stsFetchResultType, type TlsRptResultType } from "./tls-outcome.js";
