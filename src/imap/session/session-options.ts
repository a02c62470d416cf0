// What an ImapSession is built from: the transport it reads and writes (sans-IO, so tests use a
// fake), the store, the authenticator, limits, timers, clock and logger (ARCHITECTURE §4 rule 4:
// everything passed in, nothing module-level).
import type { AuthContext, AuthResult, ChannelBindings, SaslCredentials, SaslServerContext } from "../../auth/index.js";
import type { Logger } from "../../observability/log.js";
import type { MailStore } from "../../store/index.js";
import type { QuotaService } from "../../delivery/quota-warning.js";
import type { CommandTable } from "../commands/index.js";
import type { ImapMetadataLimits } from "../commands/metadata.js";
import type { QuotaAdministration } from "../commands/setquota.js";
import type { SearchLimits } from "../protocol/search-key.js";
import type { Timers } from "./timers.js";

export interface ImapTransport {
  /** The TLS link's channel-binding data for SCRAM -PLUS (auth/ channelBindingsOf); null without TLS. */
  channelBindings?(): ChannelBindings | null;

  /** The next chunk from the client, or null once it is gone. */
  read(): Promise<Buffer | null>;
  /** Resolves when the bytes are taken (back-pressure); rejects once the connection is gone. */
  write(bytes: Buffer): Promise<void>;
  /** Server side of STARTTLS, after the tagged OK was written; rejects if the handshake fails. */
  startTls(): Promise<void>;
  close(): void;
}

export interface ImapSessionLimits {
  readonly imapLineLength: number;
  /** The largest literal, hence message, a client may send: advertised as APPENDLIMIT (RFC 7889). */
  readonly imapLiteralSize: number;
  readonly imapIdle: number;
  readonly imapUnauthenticatedIdle: number;
}

export interface SaslAuthenticator {
  authenticateSasl(credentials: SaslCredentials, context: AuthContext): Promise<AuthResult>;
  /** SCRAM's key lookup for this link (auth/ Authenticator.saslContext); absent: no SCRAM offered. */
  saslContext?(context: AuthContext, channelBindings: ChannelBindings | null): SaslServerContext;
  readonly supportsScram?: boolean;
}

export interface ImapSessionOptions {
  readonly transport: ImapTransport;
  readonly store: MailStore;
  readonly authenticator: SaslAuthenticator;
  readonly limits: ImapSessionLimits;
  readonly timers: Timers;
  readonly clock: () => Date;
  readonly log: Logger;
  readonly hostname: string;
  readonly remoteAddress: string;
  /** The link is encrypted from the start (imaps, port 993). */
  readonly tls: boolean;
  readonly startTlsAvailable: boolean;
  /** Operator opt-in to LOGIN / AUTH=PLAIN without TLS (or on loopback). */
  readonly allowPlaintextAuth: boolean;
  readonly commands?: CommandTable;
  /** SEARCH nesting and key limits ([imap] search_max_depth, search_max_keys); absent: the defaults. */
  readonly searchLimits?: SearchLimits;
  /** RFC 9208 usage figures and the usage warning (delivery/quota-warning.ts); absent: login-time figures. */
  readonly quota?: QuotaService;
  /** RFC 5464 METADATA limits ([imap] metadata_*); absent: the defaults. */
  readonly metadataLimits?: ImapMetadataLimits;
  /** RFC 9738 MESSAGELIMIT ([imap] message_limit, commands/message-limit.ts); absent: no limit. */
  readonly messageLimit?: number;
  /** RFC 9208 SETQUOTA administrators ([imap] quota_admins, commands/setquota.ts); absent: nobody. */
  readonly quotaAdmin?: QuotaAdministration;
  readonly id?: string;
}

/** Thrown through command code once the connection is unusable; ends the read loop quietly. */
export class SessionEnded extends Error {
  override readonly name = "SessionEnded";
}
