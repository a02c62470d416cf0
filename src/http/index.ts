// The public surface of http/: the HTTP(S) service and the pure renderers `mailroom dns` shares.
export { buildHttpApp, startHttpService, type BoundHttpPort, type HttpService, type StartHttpOptions } from "./http-service.js";
export type { HttpContext, ReadinessCheck } from "./context.js";
export { clientServers, type ClientServer } from "./client-settings.js";
export { createProfileSigner } from "./mobileconfig.js";
export { mtaStsPolicyId, mtaStsPolicyLines, mtaStsPolicyText } from "./mta-sts.js";
export { TLS_REPORT_PATH, tlsReportUri } from "./tls-rpt.js";
