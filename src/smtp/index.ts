// The public surface of the SMTP engine for the composition root: the server factory per
// listener role and the port mail-auth/ is adapted to. The grammar is in ./protocol/index.ts.
export { createSmtpServer, type SmtpServer, type SmtpServerOptions, type TlsProvider } from "./smtp-server.js";
export type { SendLimits } from "./submission/submission-policy.js";
export type { InboundVerifier, InboundVerification, InboundVerificationInput, SpamChecker, SpamCheckInput, SpamCheckResult } from "./inbound/message-checks.js";
export type { SmtpRole, SessionLimits, SaslAuthenticator, Timers } from "./session/types.js";
export { SmtpSession } from "./session/smtp-session.js";
