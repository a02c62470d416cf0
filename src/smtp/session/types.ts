// The ports of the SMTP session: what it is given (transport, timers, policy, limits) and what it
// shows a policy about itself. The session is sans-IO: it consumes bytes and speaks through the
// transport, so tests drive it with a fake transport and fake timers, and smtp-server.ts attaches
// a real Connection at the edge.
import type { ChannelBindings, SaslCredentials, SaslServerContext } from "../../auth/index.js";
import type { AuthContext, AuthResult } from "../../auth/index.js";
import type { Logger } from "../../observability/log.js";
import type { ForwardPath, EnvelopeMailbox, ReversePath } from "../../mail/address.js";
import type { MailCommand, MailParameters, RcptCommand, RcptParameters, SmtpReply } from "../protocol/index.js";
import type { Account, MailStore, StagedMessage } from "../../store/index.js";
import type { Timers } from "../../net/index.js";

/**
 * Per listener: "mx" receives for our domains on port 25 (no AUTH offered there, see
 * smtp-session.ts); "submission" is port 587 (RFC 6409: STARTTLS, then AUTH required);
 * "submissions" is port 465 with implicit TLS (RFC 8314 §3).
 */
export type SmtpRole = "mx" | "submission" | "submissions";

export interface SessionTransport {
  /** The TLS link's channel-binding data for SCRAM -PLUS (auth/ channelBindingsOf); null without TLS. */
  channelBindings?(): ChannelBindings | null;

  /** Writes bytes; resolves when the transport took them (back-pressure). */
  write(bytes: Buffer): Promise<void>;
  /**
   * Server side of STARTTLS: stops reading plaintext, writes `readyReply` (the 220), then runs the
   * handshake; rejects when that fails (the connection is then gone).
   */
  startTls(readyReply: Buffer): Promise<void>;
  /** TLS version and cipher once encrypted, for the Received field. */
  tlsDetails(): { protocol: string; cipher: string } | null;
  close(): void;
  /** Octets received so far (the greet pause tells an early talker by it); absent: no greet pause. */
  bytesReceived?(): number;
}

export type { TimerHandle, Timers } from "../../net/index.js";

export interface SessionLimits {
  /** Longest command line, CRLF included (RFC 5321 §4.5.3.1.4). */
  readonly smtpLineLength: number;
  /** Longest text line in DATA, CRLF included (RFC 5321 §4.5.3.1.6). */
  readonly smtpTextLineLength: number;
  readonly maxMessageSize: number;
  readonly maxRecipients: number;
  readonly maxSmtpErrors: number;
  readonly smtpIdle: number;
  readonly smtpCommandDeadline: number;
  readonly smtpTransactionDeadline: number;
}

/** What a policy may know about the session it decides for. */
export interface SessionView {
  readonly id: string;
  readonly role: SmtpRole;
  readonly hostname: string;
  readonly remoteAddress: string;
  readonly heloName: string | null;
  readonly esmtp: boolean;
  readonly tls: boolean;
  readonly tlsDetails: { protocol: string; cipher: string } | null;
  readonly account: Account | null;
}

/** Where an accepted recipient's copy goes. */
export type RecipientRoute = { readonly kind: "local"; readonly accounts: readonly Account[] } | { readonly kind: "remote" };

export interface AcceptedRecipient {
  readonly mailbox: EnvelopeMailbox;
  readonly parameters: RcptParameters;
  readonly route: RecipientRoute;
}

export type RecipientDecision = { readonly kind: "accept"; readonly recipient: AcceptedRecipient; readonly reply?: SmtpReply } | { readonly kind: "refuse"; readonly reply: SmtpReply };

/** The envelope of the transaction whose message arrived. */
export interface EnvelopeView {
  readonly id: string;
  readonly reversePath: ReversePath;
  readonly parameters: MailParameters;
  readonly recipients: readonly AcceptedRecipient[];
  readonly receivedAt: Date;
}

/**
 * The per-role rules: inbound (smtp/inbound) and submission (smtp/submission) implement it.
 * deliver() runs after the whole message is staged; it owns the staged message from then on
 * (delivers it, or discards it) and resolves with the reply to DATA or BDAT LAST, only after the
 * store has made the message durable.
 */
export interface SessionPolicy {
  checkSender(session: SessionView, mail: MailCommand): Promise<SmtpReply | null>;
  /** `declaredSize`: MAIL FROM's SIZE= (RFC 1870), for the recipient's quota check; absent or null: not declared. */
  checkRecipient(session: SessionView, envelope: { reversePath: ReversePath; count: number; declaredSize?: number | null }, rcpt: RcptCommand & { forwardPath: ForwardPath }): Promise<RecipientDecision>;
  deliver(session: SessionView, envelope: EnvelopeView, staged: StagedMessage): Promise<SmtpReply>;
}

export interface SaslAuthenticator {
  authenticateSasl(credentials: SaslCredentials, context: AuthContext): Promise<AuthResult>;
  /** SCRAM's key lookup for this link (auth/ Authenticator.saslContext); absent: no SCRAM offered. */
  saslContext?(context: AuthContext, channelBindings: ChannelBindings | null): SaslServerContext;
  readonly supportsScram?: boolean;
}

export interface SessionOptions {
  readonly role: SmtpRole;
  readonly hostname: string;
  readonly remoteAddress: string;
  readonly transport: SessionTransport;
  readonly policy: SessionPolicy;
  readonly store: Pick<MailStore, "stageMessage">;
  readonly authenticator: SaslAuthenticator;
  readonly limits: SessionLimits;
  readonly timers: Timers;
  readonly clock: () => Date;
  readonly log: Logger;
  /** STARTTLS is offered only when a certificate is available. */
  readonly startTlsAvailable: boolean;
  /** True on an implicit-TLS listener: the session starts encrypted. */
  readonly implicitTls: boolean;
  /** Operator opt-in to AUTH PLAIN/LOGIN without TLS (tls.allow_plaintext_auth, or on loopback). */
  readonly allowPlaintextAuth: boolean;
  /** Session id for logs, Received and replies; random when absent. */
  readonly id?: string;
  /** Milliseconds to wait before the greeting; a client that talks meanwhile is refused (0: none). */
  readonly greetPause?: number;
}
