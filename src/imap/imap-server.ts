// The edge of the IMAP engine: implements the net SessionHandler (accept, refuse, shutdown) by
// attaching a sans-IO ImapSession to a Connection. Implicit TLS (993) is applied by the listener
// before accept(); STARTTLS (143) goes through Connection.upgradeToTls.
import type { QuotaService } from "../delivery/quota-warning.js";
import type { SecureContext } from "node:tls";
import type { Connection, RefusalReason, SessionHandler } from "../net/index.js";
import type { Logger } from "../observability/log.js";
import type { AccountId, MailStore } from "../store/index.js";
import type { ImapMetadataLimits } from "./commands/metadata.js";
import type { QuotaAdministration } from "./commands/setquota.js";
import { statusLine } from "./protocol/response.js";
import type { SearchLimits } from "./protocol/search-key.js";
import { ImapSession, type ImapSessionLimits, type SaslAuthenticator } from "./session/imap-session.js";
import { systemTimers, type Timers } from "./session/timers.js";
import { channelBindingsOf, loginCredential } from "../auth/index.js";

export interface ImapTlsProvider {
  current(): SecureContext;
}

export interface ImapServerOptions {
  readonly store: MailStore;
  readonly authenticator: SaslAuthenticator;
  /** Null: no certificate, so no STARTTLS (and no login without allowPlaintextAuth). */
  readonly tls: ImapTlsProvider | null;
  readonly limits: ImapSessionLimits & { readonly tlsHandshakeTimeout: number };
  readonly allowPlaintextAuth?: boolean;
  readonly allowPlaintextAuthOnLoopback?: boolean;
  readonly hostname: string;
  readonly log: Logger;
  readonly clock?: () => Date;
  readonly timers?: Timers;
  /** The imaps listener (993): the connection is already encrypted. */
  readonly implicitTls: boolean;
  /** SEARCH nesting and key limits ([imap] in the config); absent: DEFAULT_SEARCH_LIMITS. */
  readonly searchLimits?: SearchLimits;
  /** Fresh usage for GETQUOTA and the usage warning after APPEND/COPY (RFC 9208); absent: the login-time figures, no warning. */
  readonly quota?: QuotaService;
  /** RFC 5464 METADATA limits ([imap] metadata_*); absent: the defaults. */
  readonly metadataLimits?: ImapMetadataLimits;
  /** RFC 9738 MESSAGELIMIT ([imap] message_limit); absent: no limit. */
  readonly messageLimit?: number;
  /** RFC 9208 SETQUOTA administrators ([imap] quota_admins, commands/setquota.ts); absent: nobody. */
  readonly quotaAdmin?: QuotaAdministration;
}

export interface ImapServer extends SessionHandler {
  /** Runs one session to its end; never rejects. */
  accept(connection: Connection): Promise<void>;
  /** RFC 9051 §7.1.5: a refused connection gets BYE and is closed. */
  refuse(connection: Connection, reason: RefusalReason): Promise<void>;
  /**
   * Server stopping: open sessions get `* BYE` and are closed (all of them without an argument);
   * a command in flight (APPEND committing) is answered first (ImapSession.stop).
   */
  shutdown(connection?: Connection): Promise<void>;
  /** The account was deleted or disabled: its sessions get `* BYE` with the reason and are closed. Returns how many. */
  /** With `credential` ("app:<id>"), only the sessions that logged in with that secret (auth/ loginCredential). */
  endSessionsOf(accountId: AccountId, reason: string, credential?: string): Promise<number>;
}

export function createImapServer(options: ImapServerOptions): ImapServer {
  const sessions = new Map<Connection, ImapSession>();
  const clock = options.clock ?? (() => new Date());
  const timers = options.timers ?? systemTimers;

  async function accept(connection: Connection): Promise<void> {
    const tls = options.tls;
    const session = new ImapSession({
      transport: {
        read: () => connection.read(),
        write: (bytes) => connection.write(bytes),
        startTls: async () => {
          if (tls === null) throw new Error("no TLS certificate");
          await connection.upgradeToTls(tls.current(), options.limits.tlsHandshakeTimeout);
        },
        channelBindings: () => channelBindingsOf(connection.tlsSocket),
        close: () => void connection.close(),
      },
      store: options.store,
      authenticator: options.authenticator,
      limits: options.limits,
      timers,
      clock,
      log: connection.log,
      hostname: options.hostname,
      remoteAddress: connection.remoteAddress,
      tls: options.implicitTls || connection.isTls,
      // A listener configured with tls = "none" offers no STARTTLS even when a certificate exists.
      startTlsAvailable: tls !== null && !options.implicitTls && connection.tlsMode === "starttls",
      allowPlaintextAuth: options.allowPlaintextAuth === true || (options.allowPlaintextAuthOnLoopback === true && connection.isLoopback),
      id: connection.id,
      ...(options.searchLimits === undefined ? {} : { searchLimits: options.searchLimits }),
      ...(options.quota === undefined ? {} : { quota: options.quota }),
      ...(options.metadataLimits === undefined ? {} : { metadataLimits: options.metadataLimits }),
      ...(options.messageLimit === undefined ? {} : { messageLimit: options.messageLimit }),
      ...(options.quotaAdmin === undefined ? {} : { quotaAdmin: options.quotaAdmin }),
    });
    sessions.set(connection, session);
    try {
      await session.run();
    } catch (error) {
      connection.log.error("imap.connection_error", { error });
    } finally {
      sessions.delete(connection);
      await connection.close();
    }
  }

  async function refuse(connection: Connection, reason: RefusalReason): Promise<void> {
    connection.log.info("imap.refused", { reason });
    try {
      await connection.write(statusLine("*", "BYE", "UNAVAILABLE", "Too many connections, try again later"));
    } catch {
      // Gone already.
    }
    await connection.close();
  }

  async function shutdown(connection?: Connection): Promise<void> {
    const targets = connection ? [sessions.get(connection)].filter((s) => s !== undefined) : [...sessions.values()];
    await Promise.all(targets.map((session) => session.stop()));
  }

  async function endSessionsOf(accountId: AccountId, reason: string, credential?: string): Promise<number> {
    const targets = [...sessions.values()].filter((session) => session.accountId === accountId && (credential === undefined || loginCredential(session.loggedInAccount) === credential));
    await Promise.all(targets.map((session) => session.closeWith(reason, "UNAVAILABLE")));
    return targets.length;
  }

  return { accept, refuse, shutdown, endSessionsOf };
}
