// The ports of the POP3 session: what it is given (transport, timers, store, authenticator, limits)
// and the per-server state it shares with other sessions (maildrop locks, login history, the
// octet-count cache). The session is sans-IO: tests drive it with a fake transport and manual
// timers; pop3-server.ts attaches a real net Connection at the edge.
import type { AuthContext, AuthResult, ChannelBindings, PasswordAttempt, SaslCredentials, SaslServerContext } from "../auth/index.js";
import type { Logger } from "../observability/log.js";
import type { MailStore } from "../store/index.js";
import type { LoginHistory, MaildropLocks } from "./maildrop-locks.js";
import type { SentSizeCache } from "./sent-size-cache.js";
import type { Timers } from "../net/index.js";

export interface Pop3Transport {
  /** The TLS link's channel-binding data for SCRAM -PLUS (auth/ channelBindingsOf); null without TLS. */
  channelBindings?(): ChannelBindings | null;

  /** Writes bytes; resolves when the transport took them (back-pressure). */
  write(bytes: Buffer): Promise<void>;
  /**
   * RFC 2595 §4: writes `reply` once plaintext reading has stopped, then runs the server side of
   * the TLS handshake. Rejects when the handshake fails (the connection is then gone).
   */
  startTls(reply: Buffer): Promise<void>;
  close(): void;
}

export { systemTimers, type TimerHandle, type Timers } from "../net/index.js";

export interface Pop3Limits {
  /** Longest command line, CRLF included (RFC 2449 §4: 255). */
  readonly pop3LineLength: number;
  /** RFC 1939 §3 inactivity autologout once logged in; also bounds one blocked write. */
  readonly pop3Idle: number;
  /** Inactivity autologout in the AUTHORIZATION state. */
  readonly pop3UnauthenticatedIdle: number;
  /** Time from the first byte of a command line to its line end, whatever arrives in between. */
  readonly pop3CommandDeadline: number;
}

export interface Pop3Authenticator {
  authenticate(attempt: PasswordAttempt): Promise<AuthResult>;
  authenticateSasl(credentials: SaslCredentials, context: AuthContext): Promise<AuthResult>;
  /** SCRAM's key lookup for this link (auth/ Authenticator.saslContext); absent: no SCRAM offered. */
  saslContext?(context: AuthContext, channelBindings: ChannelBindings | null): SaslServerContext;
  readonly supportsScram?: boolean;
}

/** State one server shares among its sessions; in-process, so one node only (see maildrop-locks.ts). */
export interface Pop3SharedState {
  readonly locks: MaildropLocks;
  readonly logins: LoginHistory;
  readonly sizes: SentSizeCache;
}

export type MailStoreForPop3 = Pick<MailStore, "getMailbox" | "listMessages" | "getSummaries" | "getCrlfSizes" | "readMessages" | "getMessages" | "openMessage" | "removeMessages" | "updateFlags">;

export interface Pop3SessionOptions {
  readonly hostname: string;
  readonly remoteAddress: string;
  readonly transport: Pop3Transport;
  readonly store: MailStoreForPop3;
  readonly authenticator: Pop3Authenticator;
  readonly shared: Pop3SharedState;
  readonly limits: Pop3Limits;
  readonly timers: Timers;
  readonly clock: () => Date;
  readonly log: Logger;
  /** STLS is offered only with a certificate and on a listener that is not implicit TLS. */
  readonly startTlsAvailable: boolean;
  /** True on an implicit-TLS listener (995): the session starts encrypted. */
  readonly implicitTls: boolean;
  /** Operator opt-in to USER/PASS and AUTH PLAIN/LOGIN without TLS. */
  readonly allowPlaintextAuth: boolean;
  /** Session id for logs and lock ownership. */
  readonly id: string;
}
