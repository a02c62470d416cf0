// The edge of the POP3 engine: one Pop3Server per listener (110 with STLS, 995 with implicit
// TLS), implementing the net SessionHandler shape. accept() builds a Pop3Session and pumps the
// connection's bytes into it one chunk at a time, so a session busy sending a message stops the
// reading (back-pressure) instead of buffering. The maildrop locks, the login history and the
// octet-count cache live here, per server: one process, one node (see maildrop-locks.ts).
import type { SecureContext } from "node:tls";
import type { Connection, RefusalReason, SessionHandler } from "../net/index.js";
import { SessionDriver } from "../net/index.js";
import type { Logger } from "../observability/log.js";
import type { AccountId, MaildropLeaseStore, Pop3LoginStore } from "../store/index.js";
import { LoginHistory, MaildropLocks } from "./maildrop-locks.js";
import { Pop3Session } from "./pop3-session.js";
import { encodeResponse, err } from "./protocol/index.js";
import { SentSizeCache } from "./sent-size-cache.js";
import { systemTimers, type MailStoreForPop3, type Pop3Authenticator, type Pop3Limits, type Pop3SharedState, type Timers } from "./types.js";
import { channelBindingsOf, loginCredential } from "../auth/index.js";

export interface TlsProvider {
  current(): SecureContext;
}

export interface Pop3ServerOptions {
  readonly store: MailStoreForPop3;
  readonly authenticator: Pop3Authenticator;
  /** Null: no certificate, so no STLS (and no passwords without allowPlaintextAuth). */
  readonly tls: TlsProvider | null;
  readonly limits: Pop3Limits & { readonly tlsHandshakeTimeout: number };
  readonly allowPlaintextAuth?: boolean;
  readonly allowPlaintextAuthOnLoopback?: boolean;
  readonly hostname: string;
  readonly log: Logger;
  /** The 995 listener: the listener did the TLS handshake before accept(). */
  readonly implicitTls: boolean;
  readonly clock?: () => Date;
  readonly timers?: Timers;
  /** Share one state between the 110 and 995 servers, so a maildrop is locked across both. */
  readonly shared?: Pop3SharedState;
}

export interface Pop3Server extends SessionHandler {
  /** Runs one session to its end; never rejects. */
  accept(connection: Connection): Promise<void>;
  /** Over a connection limit: -ERR [SYS/TEMP] and close (RFC 2449 §8, RFC 3206 §4). */
  refuse(connection: Connection, reason: RefusalReason): Promise<void>;
  /**
   * Server stopping: every open session gets -ERR [SYS/TEMP] and is closed, committing nothing;
   * a command in flight (QUIT's UPDATE) is answered first. Resolves once closed.
   */
  shutdown(connection?: Connection): Promise<void>;
  /** The account was deleted or disabled: its sessions get -ERR [SYS/PERM] and are closed, committing nothing. Returns how many. */
  /** With `credential` ("app:<id>"), only the sessions that logged in with that secret (auth/ loginCredential). */
  endSessionsOf(accountId: AccountId, reason: string, credential?: string): Promise<number>;
  readonly shared: Pop3SharedState;
}

/** `leases`, `logins`: the store's maildrop leases and last logins when several nodes share it (PostgreSQL), else null. */
export function createPop3SharedState(leases: MaildropLeaseStore | null = null, logins: Pop3LoginStore | null = null): Pop3SharedState {
  return { locks: new MaildropLocks(leases), logins: new LoginHistory(100_000, logins), sizes: new SentSizeCache() };
}

export function createPop3Server(options: Pop3ServerOptions): Pop3Server {
  const sessions = new Map<Connection, SessionDriver>();
  /** The sessions themselves, for ending those of one account (endSessionsOf). */
  const byConnection = new Map<Connection, Pop3Session>();
  const shared = options.shared ?? createPop3SharedState();
  const clock = options.clock ?? (() => new Date());
  const timers = options.timers ?? systemTimers;

  async function accept(connection: Connection): Promise<void> {
    const session = new Pop3Session({
      hostname: options.hostname,
      remoteAddress: connection.remoteAddress,
      transport: {
        write: (bytes) => connection.write(bytes),
        startTls: async (reply) => {
          if (options.tls === null) throw new Error("no TLS certificate");
          await connection.upgradeToTls(options.tls.current(), options.limits.tlsHandshakeTimeout, reply);
        },
        channelBindings: () => channelBindingsOf(connection.tlsSocket),
        close: () => void connection.close(),
      },
      store: options.store,
      authenticator: options.authenticator,
      shared,
      limits: options.limits,
      timers,
      clock,
      log: connection.log,
      // A listener configured with tls = "none" offers no STLS even when a certificate exists.
      startTlsAvailable: options.tls !== null && !options.implicitTls && !connection.isTls && connection.tlsMode === "starttls",
      implicitTls: options.implicitTls || connection.isTls,
      allowPlaintextAuth: options.allowPlaintextAuth === true || (options.allowPlaintextAuthOnLoopback === true && connection.isLoopback),
      id: connection.id,
    });
    const driver = new SessionDriver(connection, session, "pop3");
    sessions.set(connection, driver);
    byConnection.set(connection, session);
    try {
      await driver.run();
    } finally {
      sessions.delete(connection);
      byConnection.delete(connection);
    }
  }

  async function refuse(connection: Connection, reason: RefusalReason): Promise<void> {
    connection.log.info("pop3.refused", { reason });
    try {
      await connection.write(encodeResponse(err("too many connections, try again later", "SYS/TEMP")));
    } catch {
      // Gone already.
    }
    await connection.close();
  }

  async function shutdown(connection?: Connection): Promise<void> {
    const targets = connection ? [sessions.get(connection)].filter((s) => s !== undefined) : [...sessions.values()];
    await Promise.all(targets.map((driver) => driver.stop()));
  }

  async function endSessionsOf(accountId: AccountId, reason: string, credential?: string): Promise<number> {
    const targets = [...byConnection.values()].filter((session) => session.account?.id === accountId && (credential === undefined || loginCredential(session.account) === credential));
    // RFC 3206 §4 SYS/PERM: not worth retrying; nothing of the session is committed.
    await Promise.all(targets.map((session) => session.closeWith(err(reason, "SYS/PERM"))));
    return targets.length;
  }

  return { accept, refuse, shutdown, endSessionsOf, shared };
}
