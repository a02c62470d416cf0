// The ports of the ManageSieve session (session.ts): what it is given. Sans-IO like the POP3
// session: tests drive it with a fake transport and manual timers; server.ts attaches a Connection.
import type { AuthContext, AuthResult, ChannelBindings, PasswordAttempt, SaslCredentials, SaslServerContext } from "../auth/index.js";
import type { Timers } from "../net/index.js";
import type { Logger } from "../observability/log.js";
import type { SieveStore } from "../store/index.js";

export interface ManageSieveTransport {
  /** The TLS link's channel-binding data for SCRAM -PLUS (auth/ channelBindingsOf); null without TLS. */
  channelBindings?(): ChannelBindings | null;

  write(bytes: Buffer): Promise<void>;
  /** Writes `reply` once plaintext reading has stopped, then runs the server side of the handshake. */
  startTls(reply: Buffer): Promise<void>;
  close(): void;
}

export interface ManageSieveLimits {
  /** managesieve.*: the framing bounds, the timers and the per-connection counts. */
  readonly lineLength: number;
  readonly maxQuotedBytes: number;
  readonly maxLiteralBytes: number;
  readonly idle: number;
  readonly unauthenticatedIdle: number;
  readonly commandDeadline: number;
  readonly maxAuthFailures: number;
  readonly maxErrors: number;
  /** sieve.*: what a stored script may be. */
  readonly maxScriptBytes: number;
  readonly maxScripts: number;
  readonly maxNesting: number;
  /** sieve.max_redirects, advertised as MAXREDIRECTS (RFC 5804 §1.7). */
  readonly maxRedirects: number;
}

export interface ManageSieveAuthenticator {
  authenticate(attempt: PasswordAttempt): Promise<AuthResult>;
  authenticateSasl(credentials: SaslCredentials, context: AuthContext): Promise<AuthResult>;
  /** SCRAM's key lookup for this link (auth/ Authenticator.saslContext); absent: no SCRAM offered. */
  saslContext?(context: AuthContext, channelBindings: ChannelBindings | null): SaslServerContext;
  readonly supportsScram?: boolean;
}

export interface ManageSieveSessionOptions {
  readonly hostname: string;
  readonly remoteAddress: string;
  readonly id: string;
  readonly transport: ManageSieveTransport;
  readonly scripts: SieveStore;
  readonly authenticator: ManageSieveAuthenticator;
  readonly limits: ManageSieveLimits;
  readonly timers: Timers;
  readonly log: Logger;
  /** STARTTLS is offered only with a certificate, on a listener configured for it. */
  readonly startTlsAvailable: boolean;
  readonly implicitTls: boolean;
  /** tls.allow_plaintext_auth (or its loopback variant for a loopback client). */
  readonly allowPlaintextAuth: boolean;
}
