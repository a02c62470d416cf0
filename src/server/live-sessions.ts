// The running server's side of `user del` and `user disable` (docs/architecture.md, "One owner per
// data dir"): the account's open IMAP, POP3 and submission sessions end at once, on every listener.
import { setTimeout as sleep } from "node:timers/promises";
import type { LiveSessions } from "../admin/operations/index.js";
import { Authenticator, type AuthContext, type AuthResult, type PasswordAttempt, type SaslCredentials } from "../auth/index.js";
import type { ListenerProtocol } from "../config/index.js";
import type { SessionHandler } from "../net/index.js";
import type { Logger } from "../observability/log.js";
import type { Account, AccountId } from "../store/index.js";

/** A protocol server that can end the sessions of one account (IMAP, POP3 and SMTP servers can). */
interface EndsAccountSessions {
  endSessionsOf(accountId: AccountId, reason: string, credential?: string): Promise<number>;
}

const endsAccountSessions = (handler: SessionHandler | undefined): handler is SessionHandler & EndsAccountSessions =>
  typeof (handler as Partial<EndsAccountSessions> | undefined)?.endSessionsOf === "function";

/**
 * The Authenticator, remembering the logins in progress: a login that looked the account up just
 * before `user del`/`user disable` changed it must not leave a session behind (see liveSessions).
 */
export class TrackingAuthenticator extends Authenticator {
  readonly pending = new Set<Promise<AuthResult>>();
  /** Told of each finished login (metrics); set by compose.ts. */
  observe?: (protocol: string, ok: boolean) => void;
  override authenticate(attempt: PasswordAttempt): Promise<AuthResult> {
    return this.track(attempt.protocol, super.authenticate(attempt));
  }
  /** SCRAM's verdicts (PLAIN and LOGIN come through authenticate above). */
  override authenticateSasl(credentials: SaslCredentials, context: AuthContext): Promise<AuthResult> {
    const result = super.authenticateSasl(credentials, context);
    return credentials.kind === "scram" ? this.track(context.protocol, result) : result;
  }
  private track(protocol: string, result: Promise<AuthResult>): Promise<AuthResult> {
    void result.then((r) => this.observe?.(protocol, r.ok), () => this.observe?.(protocol, false));
    this.pending.add(result);
    void result.finally(() => this.pending.delete(result));
    return result;
  }
}

/** Ends an account's sessions on every listener, then once more after the logins in progress. */
export function liveSessions(handlers: Partial<Record<ListenerProtocol, SessionHandler>>, authenticator: TrackingAuthenticator, log: Logger): LiveSessions {
  const servers = [...new Set(Object.values(handlers))].filter(endsAccountSessions);
  const endAll = async (accountId: AccountId, reason: string, credential?: string) =>
    (await Promise.all(servers.map((s) => s.endSessionsOf(accountId, reason, credential)))).reduce((a, b) => a + b, 0);
  return {
    async endSessionsOf(account: Account, reason: string, credential?: string): Promise<number> {
      const inProgress = [...authenticator.pending];
      let ended = await endAll(account.id, reason, credential);
      if (inProgress.length > 0) {
        await Promise.allSettled(inProgress);
        // The session records its login right after the result arrives; give it that moment.
        await sleep(100);
        ended += await endAll(account.id, reason, credential);
      }
      log.info("sessions.ended", { account: account.address, reason, sessions: ended, ...(credential ? { credential } : {}) });
      return ended;
    },
  };
}

