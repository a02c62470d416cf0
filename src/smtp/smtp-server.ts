// The edge of the SMTP engine: one SmtpServer per listener role, implementing the net
// SessionHandler shape (accept, refuse, shutdown). accept() builds a session with the role's
// policy and pumps the connection's bytes into it, one chunk at a time, so a session busy with the
// store stops the reading (back-pressure) instead of buffering. Implicit TLS (465) is applied by
// the listener before accept(); STARTTLS is done here through Connection.upgradeToTls.
import type { QuotaService } from "../delivery/quota-warning.js";
import type { SieveFilter } from "../delivery/sieve-filter.js";
import type { TlsReportIntake } from "../delivery/tls-report.js";
import type { SecureContext } from "node:tls";
import type { Connection, RefusalReason, SessionHandler } from "../net/index.js";
import { SessionDriver, systemTimers } from "../net/index.js";
import type { Logger } from "../observability/log.js";
import type { AccountId, AccountStore, MailStore, QueueStore } from "../store/index.js";
import type { DeliveryReporter } from "../queue/index.js";
import { ReplyCodes, encodeReply, reply } from "./protocol/index.js";
import { createInboundPolicy } from "./inbound/inbound-policy.js";
import type { InboundVerifier, SpamChecker } from "./inbound/message-checks.js";
import { SmtpSession } from "./session/smtp-session.js";
import type { SaslAuthenticator, SessionLimits, SessionPolicy, SmtpRole, Timers } from "./session/types.js";
import { createSubmissionPolicy, type SendLimits } from "./submission/submission-policy.js";
import type { IpMessageRate } from "../abuse/ip-rate.js";
import { channelBindingsOf, loginCredential } from "../auth/index.js";

export interface TlsProvider {
  current(): SecureContext;
}

export interface SmtpServerOptions {
  readonly role: SmtpRole;
  readonly store: MailStore;
  readonly accounts: AccountStore;
  /** Needed by submission roles (non-local recipients). */
  readonly queue: QueueStore | null;
  /** RFC 3461 "delivered" reports for local recipients of submissions that asked (NOTIFY=SUCCESS). */
  readonly deliveryReports?: DeliveryReporter | null;
  /** The quota usage warning after local delivery (delivery/quota-warning.ts); absent: none. */
  readonly quota?: QuotaService | null;
  /** Sieve at local delivery (inbound and submission alike); absent or null: no filtering. */
  readonly sieve?: SieveFilter | null;
  /** Port 25 only: the pause before the greeting for this client (early-talker test); absent: none. */
  readonly greetPause?: (clientIp: string) => number;
  /** Port 25 only: messages per hour one client address may start (null: unlimited). */
  readonly ipMessageRate?: IpMessageRate | null;
  /** Submission only: outbound abuse limits (null: none). */
  readonly sendLimits?: SendLimits | null;
  /** Port 25 only: the spam verdict (null: not scored). */
  readonly spam?: SpamChecker | null;
  /** Port 25: TLS-RPT reports to a postmaster of ours are read and stored after delivery (RFC 8460). */
  readonly tlsReports?: TlsReportIntake | null;
  readonly authenticator: SaslAuthenticator;
  readonly verifier: InboundVerifier | null;
  readonly limits: SessionLimits & { readonly tlsHandshakeTimeout: number };
  /** Null: no certificate, so no STARTTLS (and no AUTH without allowPlaintextAuth). */
  readonly tls: TlsProvider | null;
  readonly allowPlaintextAuth?: boolean;
  readonly allowPlaintextAuthOnLoopback?: boolean;
  readonly hostname: string;
  readonly log: Logger;
  readonly clock?: () => Date;
  readonly timers?: Timers;
}

export interface SmtpServer extends SessionHandler {
  readonly role: SmtpRole;
  /** Runs one session to its end; never rejects. */
  accept(connection: Connection): Promise<void>;
  /** The listener refuses a connection (limits): RFC 5321 §3.8 421 and close. */
  refuse(connection: Connection, reason: RefusalReason): Promise<void>;
  /**
   * Server stopping: every open session gets 421 4.3.2 and is closed; one whose command is in
   * flight (a message committing) first gets that command's real reply. Resolves once closed.
   */
  shutdown(connection?: Connection): Promise<void>;
  /** The account was deleted or disabled: its authenticated sessions get 421 4.7.0 with the reason and are closed. Returns how many. */
  /** With `credential` ("app:<id>"), only the sessions that logged in with that secret (auth/ loginCredential). */
  endSessionsOf(accountId: AccountId, reason: string, credential?: string): Promise<number>;
}

export function createSmtpServer(options: SmtpServerOptions): SmtpServer {
  const policy = policyFor(options);
  const sessions = new Map<Connection, SessionDriver>();
  /** The sessions themselves, for ending those of one account (endSessionsOf). */
  const byConnection = new Map<Connection, SmtpSession>();
  const clock = options.clock ?? (() => new Date());
  const timers = options.timers ?? systemTimers;

  async function accept(connection: Connection): Promise<void> {
    const session = new SmtpSession({
      role: options.role,
      hostname: options.hostname,
      remoteAddress: connection.remoteAddress,
      transport: {
        write: (bytes) => connection.write(bytes),
        startTls: async (readyReply) => {
          if (options.tls === null) throw new Error("no TLS certificate");
          await connection.upgradeToTls(options.tls.current(), options.limits.tlsHandshakeTimeout, readyReply);
        },
        channelBindings: () => channelBindingsOf(connection.tlsSocket),
        tlsDetails: () => connection.tlsDetails,
        close: () => void connection.close(),
        bytesReceived: () => connection.bytesIn,
      },
      policy,
      store: options.store,
      authenticator: options.authenticator,
      limits: options.limits,
      timers,
      clock,
      log: connection.log,
      // A listener configured with tls = "none" offers no STARTTLS even when a certificate exists.
      startTlsAvailable: options.tls !== null && options.role !== "submissions" && connection.tlsMode === "starttls",
      implicitTls: options.role === "submissions" || connection.isTls,
      allowPlaintextAuth: options.allowPlaintextAuth === true || (options.allowPlaintextAuthOnLoopback === true && connection.isLoopback),
      id: connection.id,
      ...(options.role === "mx" && options.greetPause ? { greetPause: options.greetPause(connection.remoteAddress) } : {}),
    });
    const driver = new SessionDriver(connection, session, "smtp");
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
    connection.log.info("smtp.refused", { reason });
    try {
      // RFC 5321 §3.8: the 421 may come instead of the greeting; the client retries later.
      await connection.write(encodeReply(reply(ReplyCodes.TooManyConnections, `${options.hostname} ${ReplyCodes.TooManyConnections.text}`)));
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
    const targets = [...byConnection.values()].filter((session) => session.view.account?.id === accountId && (credential === undefined || loginCredential(session.view.account) === credential));
    // RFC 5321 §3.8: 421 and close; RFC 3463 X.7.0: a security or policy status.
    await Promise.all(targets.map((session) => session.closeWith({ code: 421, enhanced: "4.7.0", lines: [`${options.hostname} ${reason}, closing transmission channel`] })));
    return targets.length;
  }

  return { role: options.role, accept, refuse, shutdown, endSessionsOf };
}

function policyFor(options: SmtpServerOptions): SessionPolicy {
  if (options.role === "mx") return createInboundPolicy({ store: options.store, accounts: options.accounts, verifier: options.verifier, log: options.log, sieve: options.sieve ?? null, spam: options.spam ?? null, ipMessageRate: options.ipMessageRate ?? null, tlsReports: options.tlsReports ?? null, quota: options.quota ?? null, deliveryReports: options.deliveryReports ?? null });
  if (options.queue === null) throw new Error("a submission listener needs the outbound queue");
  return createSubmissionPolicy({ store: options.store, accounts: options.accounts, queue: options.queue, deliveryReports: options.deliveryReports ?? null, log: options.log, sieve: options.sieve ?? null, sendLimits: options.sendLimits ?? null, quota: options.quota ?? null });
}
