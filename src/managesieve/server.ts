// The edge of the ManageSieve engine: one server per managesieve listener (4190, STARTTLS only:
// RFC 5804 §1.8 registers no implicit-TLS port), implementing the net SessionHandler shape. It
// pumps a connection's bytes into a ManageSieveSession through the shared SessionDriver.
import type { SecureContext } from "node:tls";
import type { Connection, RefusalReason, SessionHandler, Timers } from "../net/index.js";
import { SessionDriver, systemTimers } from "../net/index.js";
import type { Logger } from "../observability/log.js";
import type { AccountId, SieveStore } from "../store/index.js";
import { bye, encodeResponse } from "./protocol/response.js";
import { ManageSieveSession } from "./session.js";
import type { ManageSieveAuthenticator, ManageSieveLimits } from "./types.js";
import { channelBindingsOf, loginCredential } from "../auth/index.js";

export interface ManageSieveServerOptions {
  readonly scripts: SieveStore;
  readonly authenticator: ManageSieveAuthenticator;
  /** Null: no certificate, so no STARTTLS (and no passwords without allowPlaintextAuth). */
  readonly tls: { current(): SecureContext } | null;
  readonly limits: ManageSieveLimits & { readonly tlsHandshakeTimeout: number };
  readonly allowPlaintextAuth?: boolean;
  readonly allowPlaintextAuthOnLoopback?: boolean;
  readonly hostname: string;
  readonly log: Logger;
  readonly timers?: Timers;
}

export interface ManageSieveServer extends SessionHandler {
  accept(connection: Connection): Promise<void>;
  refuse(connection: Connection, reason: RefusalReason): Promise<void>;
  shutdown(connection?: Connection): Promise<void>;
  /** The account was deleted or disabled: its sessions get BYE and are closed. Returns how many. */
  /** With `credential` ("app:<id>"), only the sessions that logged in with that secret (auth/ loginCredential). */
  endSessionsOf(accountId: AccountId, reason: string, credential?: string): Promise<number>;
}

export function createManageSieveServer(options: ManageSieveServerOptions): ManageSieveServer {
  const drivers = new Map<Connection, SessionDriver>();
  const sessions = new Map<Connection, ManageSieveSession>();
  const timers = options.timers ?? systemTimers;

  async function accept(connection: Connection): Promise<void> {
    const session = new ManageSieveSession({
      hostname: options.hostname,
      remoteAddress: connection.remoteAddress,
      id: connection.id,
      transport: {
        write: (bytes) => connection.write(bytes),
        startTls: async (reply) => {
          if (options.tls === null) throw new Error("no TLS certificate");
          await connection.upgradeToTls(options.tls.current(), options.limits.tlsHandshakeTimeout, reply);
        },
        channelBindings: () => channelBindingsOf(connection.tlsSocket),
        close: () => void connection.close(),
      },
      scripts: options.scripts,
      authenticator: options.authenticator,
      limits: options.limits,
      timers,
      log: connection.log,
      startTlsAvailable: options.tls !== null && !connection.isTls && connection.tlsMode === "starttls",
      implicitTls: connection.isTls,
      allowPlaintextAuth: options.allowPlaintextAuth === true || (options.allowPlaintextAuthOnLoopback === true && connection.isLoopback),
    });
    const driver = new SessionDriver(connection, session, "managesieve");
    drivers.set(connection, driver);
    sessions.set(connection, session);
    try {
      await driver.run();
    } finally {
      drivers.delete(connection);
      sessions.delete(connection);
    }
  }

  async function refuse(connection: Connection, reason: RefusalReason): Promise<void> {
    connection.log.info("managesieve.refused", { reason });
    try {
      await connection.write(encodeResponse(bye("too many connections, try again later", "TRYLATER")));
    } catch {
      // Gone already.
    }
    await connection.close();
  }

  async function shutdown(connection?: Connection): Promise<void> {
    const targets = connection ? [drivers.get(connection)].filter((d) => d !== undefined) : [...drivers.values()];
    await Promise.all(targets.map((driver) => driver.stop()));
  }

  async function endSessionsOf(accountId: AccountId, reason: string, credential?: string): Promise<number> {
    const targets = [...sessions.values()].filter((s) => s.account?.id === accountId && (credential === undefined || loginCredential(s.account) === credential));
    await Promise.all(targets.map((s) => s.closeWith(bye(reason))));
    return targets.length;
  }

  return { accept, refuse, shutdown, endSessionsOf };
}
