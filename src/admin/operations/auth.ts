// `mailroom app-password add|list|revoke`, `mailroom user app-passwords-only`, `mailroom user totp
// enable|confirm|disable|status` and `mailroom user unlock` (issue 22): thin use-cases over
// auth/ (credentials.ts, totp.ts) and the AuthStateStore. The web pages (admin and account
// self-service) can call the same functions.
import { APP_PASSWORD_PROTOCOLS, appPasswordSecretHash, generateAppPassword, scramKeysFor } from "../../auth/index.js";
import { confirmTotp, disableTotp, enableTotp, totpStatus, type TotpEnrollment, type TotpStatus } from "../../auth/totp.js";
import type { Account, AppPassword, AuthStateStore } from "../../store/index.js";
import { isStoreError } from "../../store/index.js";
import { AdminError } from "./validation.js";

export interface AuthAdminDependencies {
  authState: AuthStateStore;
  scramIterations?: number;
  /** Ends the sessions that logged in with one app password (server/live-sessions.ts). */
  endSessions?: (account: Account, reason: string, credential: string) => Promise<number>;
  /** Forgets the failed logins counted against a login name. */
  unlock?: (address: string) => Promise<void>;
  /** The issuer shown in authenticator apps (the server's hostname). */
  issuer: string;
}

/** What `app-password list` shows: never the secret or its hash. */
export interface AppPasswordView {
  name: string;
  protocols: string[];
  createdAt: Date;
  lastUsedAt: Date | null;
  lastUsedAddress: string | null;
}

const MAX_APP_PASSWORDS = 50;
const NAME = /^[\p{L}\p{N} ._@+-]{1,64}$/u;

function viewOf(app: AppPassword): AppPasswordView {
  return { name: app.name, protocols: app.protocols, createdAt: app.createdAt, lastUsedAt: app.lastUsedAt, lastUsedAddress: app.lastUsedAddress };
}

export function createAuthOperations(deps: AuthAdminDependencies | null, requireAccount: (address: string) => Promise<Account>) {
  const need = (): AuthAdminDependencies => {
    if (deps === null) throw new AdminError("refused", "app passwords and TOTP are not available here");
    return deps;
  };
  return {
    /** A new app password: the secret is returned once and stored only hashed (with its SCRAM keys). */
    async addAppPassword(address: string, name: string, protocols?: string[]): Promise<AppPasswordView & { password: string }> {
      const { authState, scramIterations } = need();
      if (!NAME.test(name)) throw new AdminError("invalid-argument", "an app password name has 1 to 64 letters, digits, spaces or . _ @ + -");
      const wanted = protocols === undefined || protocols.length === 0 ? [...APP_PASSWORD_PROTOCOLS] : [...new Set(protocols.map((p) => p.toLowerCase()))];
      const unknown = wanted.filter((p) => !(APP_PASSWORD_PROTOCOLS as readonly string[]).includes(p));
      if (unknown.length > 0) throw new AdminError("invalid-argument", `unknown protocol ${unknown.join(", ")} (one of ${APP_PASSWORD_PROTOCOLS.join(", ")})`);
      const account = await requireAccount(address);
      if ((await authState.listAppPasswords(account.id)).length >= MAX_APP_PASSWORDS) throw new AdminError("conflict", `an account has at most ${MAX_APP_PASSWORDS} app passwords`);
      const password = generateAppPassword();
      const scramKeys = await scramKeysFor(authState, account, password, scramIterations);
      try {
        const app = await authState.addAppPassword(account.id, { name, protocols: wanted, secretHash: appPasswordSecretHash(password)!, scramKeys });
        return { ...viewOf(app), password };
      } catch (error) {
        if (isStoreError(error, "ALREADYEXISTS")) throw new AdminError("conflict", `${account.address} already has an app password named ${name}`);
        throw error;
      }
    },
    async listAppPasswords(address: string): Promise<AppPasswordView[]> {
      const account = await requireAccount(address);
      return (await need().authState.listAppPasswords(account.id)).map(viewOf);
    },
    /** Deletes it (no new login with it) and ends the open sessions that logged in with it. */
    async revokeAppPassword(address: string, name: string): Promise<{ name: string; sessionsEnded: number }> {
      const { authState, endSessions } = need();
      const account = await requireAccount(address);
      const removed = await authState.deleteAppPassword(account.id, name);
      if (removed === null) throw new AdminError("not-found", `${account.address} has no app password named ${name}`);
      const sessionsEnded = endSessions ? await endSessions(account, "app password revoked", `app:${removed.id}`) : 0;
      return { name, sessionsEnded };
    },
    /**
     * With `on`, IMAP, POP3, SMTP and ManageSieve refuse the main password: app passwords only.
     * The open sessions that logged in with the main password end too (as revoke ends an app
     * password's), or a session opened just before would keep the refused secret's access.
     */
    async setAppPasswordsOnly(address: string, on: boolean): Promise<{ address: string; appPasswordsOnly: boolean; sessionsEnded: number }> {
      const { authState, endSessions } = need();
      const account = await requireAccount(address);
      await authState.updateAccountAuth(account.id, { appPasswordsOnly: on });
      const sessionsEnded = on && endSessions ? await endSessions(account, "app passwords only", "password") : 0;
      return { address: account.address, appPasswordsOnly: on, sessionsEnded };
    },
    async totpEnable(address: string): Promise<TotpEnrollment> {
      const { authState, issuer } = need();
      return enableTotp(authState, await requireAccount(address), issuer);
    },
    async totpConfirm(address: string, code: string): Promise<boolean> {
      return confirmTotp(need().authState, await requireAccount(address), code);
    },
    async totpDisable(address: string): Promise<void> {
      await disableTotp(need().authState, await requireAccount(address));
    },
    async totpStatus(address: string): Promise<TotpStatus> {
      return totpStatus(need().authState, await requireAccount(address));
    },
    /** Lifts a lock-out: the failures counted against this login name are forgotten. */
    async unlockUser(address: string): Promise<{ address: string }> {
      const account = await requireAccount(address);
      if (!deps?.unlock) throw new AdminError("refused", "unlock needs the running server (its failure counts live there)");
      await deps.unlock(account.address);
      await deps.authState.updateAccountAuth(account.id, { lockoutNoticeAt: null });
      return { address: account.address };
    },
  };
}

export type AuthOperations = ReturnType<typeof createAuthOperations>;
