// Password authentication for every front end: throttle, look up, verify, log. SMTP AUTH, IMAP
// LOGIN/AUTHENTICATE, POP3 USER/PASS and AUTH, and the admin API all end here, so the rules
// (refusal before any password check, delay on failure, equal cost for unknown users, no
// password in any log line) hold for all of them.
//
// Result mapping for the front ends:
//   invalid-credentials  SMTP 535 5.7.8   IMAP NO [AUTHENTICATIONFAILED]   POP3 -ERR [AUTH]
//   throttled            SMTP 454 4.7.0   IMAP NO [UNAVAILABLE]            POP3 -ERR [IN-USE]/[SYS/TEMP]
//   temporary-failure    SMTP 454 4.7.0   IMAP NO [UNAVAILABLE]            POP3 -ERR [SYS/TEMP]
//   second-factor-required  the account page's sign-in only (attempts with secondFactor): the
//                        password was right, TOTP is on, and no code came; nothing is counted.
//
// Besides the argon2id hash (issue 22): app passwords (credentials.ts) are accepted by every
// mechanism for the protocols they were made for; an account set to "app passwords only" refuses
// its main password on the mail protocols; SCRAM exchanges get their keys from scramContext() and
// end in authenticateSasl() like PLAIN, so they are throttled, counted and logged the same way.
import { setTimeout as delay } from "node:timers/promises";
import type { Logger, LogFields } from "../observability/log.js";
import { EMPTY_ACCOUNT_AUTH, isStoreError } from "../store/index.js";
import type { Account, AccountAuthState, AccountStore, AppPassword, AuthStateStore } from "../store/index.js";
import type { AuthThrottlePolicy, ThrottleVerdict } from "./auth-throttle.js";
import { appPasswordSecretHash, convergeMainScramIterations, currentScramKeys, FakeSalts, passwordHashTag, storeMainScramKeys } from "./credentials.js";
import { createDummyHash, DEFAULT_HASH_PARAMS, DEFAULT_MAX_PASSWORD_BYTES, verifyPassword } from "./password-hash.js";
import type { PasswordHashParams } from "./password-hash.js";
import type { SaslCredentials, SaslScramCredentials, SaslServerContext } from "./sasl/mechanism.js";
import type { ChannelBindings, ScramKeyEntry, ScramLookup, ScramServerContext } from "./sasl/scram.js";
import { decodeScramKeySet, DEFAULT_SCRAM_ITERATIONS } from "./scram-keys.js";
import { accountTotpSlot, totpRequiredIn, verifyTotpIn, type TotpSlot } from "./totp.js";
import type { ScramHash } from "./scram-keys.js";

export type AuthProtocol = "smtp" | "imap" | "pop3" | "managesieve" | "admin" | "http";

/** Where an attempt comes from. */
export interface AuthContext {
  remoteAddress: string;
  protocol: AuthProtocol;
  tls: boolean;
}

export interface PasswordAttempt extends AuthContext {
  username: string;
  password: string;
  /**
   * A sign-in that takes a second factor (the account page): when the account has TOTP on
   * (auth/totp.ts), a right password also needs a right code, else "second-factor-required"
   * (no code) or a failure counted by the throttle like a wrong password (a wrong or used code).
   */
  secondFactor?: { code: string | undefined };
}

export type AuthFailureReason = "invalid-credentials" | "throttled" | "temporary-failure" | "second-factor-required";

export type AuthResult =
  /** credential: "password" or "app:<id>" (the app password used), for sessions to remember. */
  | { ok: true; account: Account; credential?: string }
  | { ok: false; reason: AuthFailureReason; retryAfterMs?: number };

/** The protocols "app passwords only" applies to: the mail protocols, not the admin pages. */
const MAIL_PROTOCOLS: ReadonlySet<AuthProtocol> = new Set(["smtp", "imap", "pop3", "managesieve"]);

/** Told when an account's failures reach the account lock-out (a notice goes to its INBOX). */
export type LockoutListener = (account: Account, retryAfterMs: number, remoteAddress: string) => void | Promise<void>;

export interface AuthenticatorOptions {
  accounts: Pick<AccountStore, "findAccountByAddress">;
  throttle: AuthThrottlePolicy;
  log: Logger;
  /** The parameters new hashes use; the dummy hash for unknown users uses them too. */
  hashParams?: PasswordHashParams;
  /** Longer passwords fail without hashing. */
  maxPasswordBytes?: number;
  /** Longer login names fail without a store lookup (RFC 5321 §4.5.3.1 caps addresses near 320). */
  maxUsernameBytes?: number;
  /** Waits out the failure delay; injected so tests do not sleep. */
  sleep?: (ms: number) => Promise<void>;
  /** The delay of a failure the throttle could not count (its shared store down); default 2 s. */
  failureDelayWhenUnavailableMs?: number;
  /** SCRAM keys, app passwords and the account's auth settings; absent: main password only, no SCRAM. */
  authState?: AuthStateStore;
  /** PBKDF2 iterations of SCRAM keys derived from now on (config auth.scram_iterations). */
  scramIterations?: number;
  clock?: () => Date;
  /**
   * Where an account's TOTP state lives (auth/totp.ts), for attempts with `secondFactor`; by
   * default account_auth through `authState`. The admin sign-in (server/admin-web.ts) points it at
   * the admin's own state, so admins get the same second factor, counted in the same throttle.
   */
  totpSlot?: (account: Account) => TotpSlot;
}

/**
 * Whether the account may log in at all: `user disable` puts a mark before the hash
 * (admin/operations), so a hash that is not argon2id means no login by any secret.
 */
function loginEnabled(account: Account): boolean {
  return account.passwordHash.startsWith("$argon2");
}

/**
 * Which secret each successful login used, keyed by the Account object the login returned (each
 * login gets its own object from the store): sessions keep that object, so `app-password revoke`
 * can end exactly the sessions that logged in with the revoked app password (loginCredential).
 */
const CREDENTIALS = new WeakMap<Account, string>();

/** "password" or "app:<id>" for an Account object a login returned; undefined for any other object. */
export function loginCredential(account: Account | null | undefined): string | undefined {
  return account ? CREDENTIALS.get(account) : undefined;
}

/** Login names are logged, but a hostile megabyte of "username" is not. */
const MAX_LOGGED_USERNAME_CHARS = 320;

export class Authenticator {
  private readonly accounts: Pick<AccountStore, "findAccountByAddress">;
  private readonly throttle: AuthThrottlePolicy;
  private readonly log: Logger;
  private readonly hashParams: PasswordHashParams;
  private readonly maxPasswordBytes: number;
  private readonly maxUsernameBytes: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly failureDelayWhenUnavailable: number;
  /** Created on first use and kept: one hash per Authenticator, not one per unknown login. */
  private dummyHash: Promise<string> | null = null;
  private readonly authState: AuthStateStore | null;
  private readonly scramIterations: number;
  private readonly clock: () => Date;
  private readonly totpSlot: ((account: Account) => TotpSlot) | null;
  private readonly fakeSalts = new FakeSalts();
  private distribution: { at: number; value: readonly { iterations: number; accounts: number }[] } | null = null;
  /** See LockoutListener; set by the server (compose.ts). */
  onLockout: LockoutListener | null = null;

  constructor(options: AuthenticatorOptions) {
    this.accounts = options.accounts;
    this.throttle = options.throttle;
    this.log = options.log;
    this.hashParams = options.hashParams ?? DEFAULT_HASH_PARAMS;
    this.maxPasswordBytes = options.maxPasswordBytes ?? DEFAULT_MAX_PASSWORD_BYTES;
    this.maxUsernameBytes = options.maxUsernameBytes ?? 320;
    this.sleep = options.sleep ?? ((ms) => delay(ms));
    this.failureDelayWhenUnavailable = options.failureDelayWhenUnavailableMs ?? 2000;
    this.authState = options.authState ?? null;
    this.scramIterations = options.scramIterations ?? DEFAULT_SCRAM_ITERATIONS;
    this.clock = options.clock ?? (() => new Date());
    const authState = this.authState;
    this.totpSlot = options.totpSlot ?? (authState ? (account) => accountTotpSlot(authState, account) : null);
  }

  /** `mailroom user unlock`: the failures counted against the login name are forgotten. */
  async unlock(username: string): Promise<void> {
    await this.throttle.unlock?.(username);
    this.log.info("auth.unlocked", { username: username.slice(0, MAX_LOGGED_USERNAME_CHARS) });
  }

  /** Whether SCRAM can be offered: keys can be looked up. */
  get supportsScram(): boolean {
    return this.authState !== null;
  }

  /** Checks a login name and password. Never throws; never logs the password. */
  async authenticate(attempt: PasswordAttempt): Promise<AuthResult> {
    const subject = { remoteAddress: attempt.remoteAddress, username: attempt.username };
    // Field order matters to log readers such as fail2ban (contrib/fail2ban): the client address,
    // protocol and reason come before the client-chosen login name, so a filter anchored on them
    // never has to look past text an attacker wrote (JSON escaping keeps that text inside its value).
    const where: LogFields = { remoteAddress: attempt.remoteAddress, protocol: attempt.protocol };
    const who: LogFields = { tls: attempt.tls, username: attempt.username.slice(0, MAX_LOGGED_USERNAME_CHARS) };
    const fields: LogFields = { ...where, ...who };

    let verdict;
    try {
      verdict = await this.throttle.check(subject);
    } catch (error) {
      // A shared throttle whose store is down: no attempt goes unchecked (fail closed, temporarily).
      return this.unavailable({ ...where, reason: "temporary-failure", ...who }, error);
    }
    if (!verdict.allowed) {
      // Refused before the password is looked at, so a locked-out guesser learns nothing.
      this.log.warn("auth.failure", { ...where, reason: "throttled", scope: verdict.scope, retryAfterMs: verdict.retryAfterMs, ...who });
      return { ok: false, reason: "throttled", retryAfterMs: verdict.retryAfterMs };
    }

    const lookup = await this.findAccount(attempt.username);
    if (lookup.kind === "unavailable") return this.unavailable({ ...where, reason: "temporary-failure", ...who }, lookup.error);
    const account = lookup.account;

    let credential: string | null = null;
    let reason = account ? "wrong-password" : "unknown-user";
    if (account) {
      let state: AccountAuthState;
      let app: AppPassword | null;
      try {
        state = this.authState ? await this.authState.getAccountAuth(account.id) : EMPTY_ACCOUNT_AUTH;
        app = await this.findAppPassword(account, attempt.password, attempt.protocol);
      } catch (error) {
        return this.unavailable({ ...where, reason: "temporary-failure", ...who }, error);
      }
      if (!loginEnabled(account)) {
        // `user disable` marks the hash (admin/operations): app passwords stop with the main one.
        await this.verifyAgainstDummy(attempt.password);
      } else if (app !== null) credential = `app:${app.id}`;
      else if (state.appPasswordsOnly && MAIL_PROTOCOLS.has(attempt.protocol)) {
        // The main password is not checked at all: the answer is the same whether it was right.
        await this.verifyAgainstDummy(attempt.password);
        reason = "app-password-required";
      } else if (await verifyPassword(account.passwordHash, attempt.password, { maxPasswordBytes: this.maxPasswordBytes })) {
        credential = "password";
        // Accounts from before SCRAM (or after a password change by another path) get their keys
        // now; accounts whose SCRAM iteration count is not the configured one get it now (so that
        // server-first does not tell them from unknown names). What remains: accounts that never
        // log in with PLAIN/LOGIN, and accounts with app-password SCRAM keys
        // (credentials.ts convergeMainScramIterations), keep their old count until then.
        if (this.authState && state.scramIterations !== null && state.scramIterations !== this.scramIterations) {
          await this.convergeScram(account, attempt.password, where, currentScramKeys(account, state) === null);
        } else if (this.authState && currentScramKeys(account, state) === null) await this.upgradeScram(account, attempt.password, where);
      }
    } else {
      // An unknown user is checked against the dummy hash so both paths cost one argon2 run.
      await this.verifyAgainstDummy(attempt.password);
    }

    if (account && credential !== null && attempt.secondFactor !== undefined && this.totpSlot) {
      const code = attempt.secondFactor.code;
      const slot = this.totpSlot(account);
      let outcome: "ok" | "invalid" | "not-enabled" | "missing";
      try {
        if (!(await totpRequiredIn(slot))) outcome = "not-enabled";
        else if (code === undefined || code.trim() === "") outcome = "missing";
        else outcome = await verifyTotpIn(slot, code, this.clock());
      } catch (error) {
        return this.unavailable({ ...where, reason: "temporary-failure", ...who }, error);
      }
      if (outcome === "missing") {
        // Neither a success (earlier failures are not forgiven) nor a failure: the client asks for the code.
        this.log.info("auth.second_factor_required", { ...where, ...who });
        return { ok: false, reason: "second-factor-required" };
      }
      // "not-enabled" after totpRequired said yes: turned off in between; the password stands alone.
      if (outcome === "invalid") return this.failed(account, "wrong-second-factor", subject, where, who);
    }
    if (account && credential !== null) return this.succeeded(account, credential, subject, where, fields);
    return this.failed(account, reason, subject, where, who);
  }

  /**
   * The SCRAM side of a login (sasl/scram.ts): the throttle is asked first, then the account's
   * keys are looked up: the main password's (unless the account takes app passwords only on this
   * protocol) and those of its app passwords for this protocol, all under the account's salt.
   */
  scramContext(context: AuthContext, channelBindings: ChannelBindings | null): ScramServerContext | undefined {
    if (this.authState === null) return undefined;
    const store = this.authState;
    return {
      channelBindings,
      lookup: async (username: string, hash: ScramHash): Promise<ScramLookup> => {
        const subject = { remoteAddress: context.remoteAddress, username };
        const where: LogFields = { remoteAddress: context.remoteAddress, protocol: context.protocol };
        const who: LogFields = { tls: context.tls, username: username.slice(0, MAX_LOGGED_USERNAME_CHARS) };
        let verdict: ThrottleVerdict;
        try {
          verdict = await this.throttle.check(subject);
        } catch (error) {
          this.log.error("auth.failure", { ...where, reason: "temporary-failure", ...who, error });
          return { kind: "refused", reason: "temporary-failure" };
        }
        if (!verdict.allowed) {
          this.log.warn("auth.failure", { ...where, reason: "throttled", scope: verdict.scope, retryAfterMs: verdict.retryAfterMs, ...who });
          return { kind: "refused", reason: "throttled" };
        }
        const lookup = await this.findAccount(username);
        if (lookup.kind === "unavailable") {
          this.log.error("auth.failure", { ...where, reason: "temporary-failure", ...who, error: lookup.error });
          return { kind: "refused", reason: "temporary-failure" };
        }
        const fake: ScramLookup = { kind: "credentials", salt: this.fakeSalts.saltFor(username), iterations: this.fakeSalts.iterationsFor(username, await this.iterationDistribution(), this.scramIterations), keys: [] };
        const account = lookup.account;
        if (!account || !loginEnabled(account)) return fake;
        try {
          const state = await store.getAccountAuth(account.id);
          if (state.scramSalt === null || state.scramIterations === null) return fake;
          const keys: ScramKeyEntry[] = [];
          const main = decodeScramKeySet(currentScramKeys(account, state));
          if (main && !(state.appPasswordsOnly && MAIL_PROTOCOLS.has(context.protocol))) keys.push({ ...main[hash], credential: "password", tag: passwordHashTag(account.passwordHash) });
          for (const app of await store.listAppPasswords(account.id)) {
            const set = decodeScramKeySet(app.scramKeys);
            if (set && app.protocols.includes(context.protocol)) keys.push({ ...set[hash], credential: `app:${app.id}` });
          }
          return { kind: "credentials", salt: Buffer.from(state.scramSalt, "base64"), iterations: state.scramIterations, keys, accountId: account.id };
        } catch (error) {
          this.log.error("auth.failure", { ...where, reason: "temporary-failure", ...who, error });
          return { kind: "refused", reason: "temporary-failure" };
        }
      },
    };
  }

  /**
   * The stored iteration counts (FakeSalts.iterationsFor), read at most once a minute: a store
   * query per SCRAM attempt would be a cost an attacker could drive; a minute-old picture is
   * close enough (counts change when the operator changes the setting and accounts log in).
   */
  private async iterationDistribution(): Promise<readonly { iterations: number; accounts: number }[]> {
    const now = this.clock().getTime();
    if (this.distribution !== null && now - this.distribution.at < 60_000) return this.distribution.value;
    try {
      const value = (await this.authState?.scramIterationCounts?.()) ?? [];
      this.distribution = { at: now, value };
      return value;
    } catch {
      // The last picture (or none: the configured count) rather than failing the exchange.
      return this.distribution?.value ?? [];
    }
  }

  /** The server context for creating mechanisms on a link (registry.ts createMechanism). */
  saslContext(context: AuthContext, channelBindings: ChannelBindings | null): SaslServerContext {
    const scram = this.scramContext(context, channelBindings);
    return scram ? { scram } : {};
  }

  private async findAppPassword(account: Account, password: string, protocol: AuthProtocol): Promise<AppPassword | null> {
    if (this.authState === null) return null;
    const hash = appPasswordSecretHash(password);
    if (hash === null) return null;
    const app = await this.authState.findAppPasswordBySecret(hash);
    // Another account's app password, or one not made for this protocol, is just a wrong password.
    return app !== null && app.accountId === account.id && app.protocols.includes(protocol) ? app : null;
  }

  private async upgradeScram(account: Account, password: string, where: LogFields): Promise<void> {
    try {
      await storeMainScramKeys(this.authState!, account, password, this.scramIterations);
      this.log.info("auth.scram_keys_stored", { ...where, account: account.address });
    } catch (error) {
      // The login stands; the keys are derived again at the next one.
      this.log.warn("auth.scram_keys_failed", { ...where, account: account.address, error });
    }
  }

  /** See authenticate(): the configured iteration count, or else (stale keys) keys under the old one. */
  private async convergeScram(account: Account, password: string, where: LogFields, stale: boolean): Promise<void> {
    try {
      if (await convergeMainScramIterations(this.authState!, account, password, this.scramIterations)) {
        this.log.info("auth.scram_keys_stored", { ...where, account: account.address, iterations: this.scramIterations });
        return;
      }
    } catch (error) {
      // The login stands; the next one tries again.
      this.log.warn("auth.scram_keys_failed", { ...where, account: account.address, error });
      return;
    }
    if (stale) await this.upgradeScram(account, password, where);
  }

  private async succeeded(account: Account, credential: string, subject: { remoteAddress: string; username: string }, where: LogFields, fields: LogFields): Promise<AuthResult> {
    try {
      await this.throttle.recordSuccess(subject);
    } catch (error) {
      // The login stands; only the forgiveness of earlier failures is lost.
      this.log.warn("auth.throttle_unavailable", { ...where, error });
    }
    if (credential.startsWith("app:") && this.authState) {
      const id = Number(credential.slice(4));
      await this.authState.noteAppPasswordUse(id, this.clock(), subject.remoteAddress).catch((error: unknown) => this.log.warn("auth.app_password_note_failed", { ...where, error }));
    }
    this.log.info("auth.success", { ...fields, account: account.address, credential });
    const own = { ...account };
    CREDENTIALS.set(own, credential);
    return { ok: true, account: own, credential };
  }

  private async failed(account: Account | null, reason: string, subject: { remoteAddress: string; username: string }, where: LogFields, who: LogFields, extra: LogFields = {}): Promise<AuthResult> {
    let delayMs: number;
    try {
      ({ delayMs } = await this.throttle.recordFailure(subject));
    } catch (error) {
      // Not counted (the shared store is down): still answered late, by the longest delay.
      this.log.warn("auth.throttle_unavailable", { ...where, error });
      delayMs = this.failureDelayWhenUnavailable;
    }
    // The distinction is for the operator's log only; the client sees one answer for all.
    this.log.info("auth.failure", { ...where, reason, ...extra, delayMs, ...who });
    if (account && this.onLockout) await this.noticeLockout(account, subject);
    await this.sleep(delayMs);
    return { ok: false, reason: "invalid-credentials" };
  }

  /** After a counted failure: if the account is now refused as such, tell the listener. */
  private async noticeLockout(account: Account, subject: { remoteAddress: string; username: string }): Promise<void> {
    try {
      // Asked from an address that never logged in, so a trusted pair does not hide the lock-out.
      const verdict = await this.throttle.check({ remoteAddress: "lockout-probe", username: subject.username });
      if (!verdict.allowed && verdict.scope === "account") {
        this.log.warn("auth.locked_out", { remoteAddress: subject.remoteAddress, account: account.address, retryAfterMs: verdict.retryAfterMs });
        // Not awaited: the notice must not delay the answer to the failed attempt.
        void this.onLockout?.(account, verdict.retryAfterMs, subject.remoteAddress);
      }
    } catch {
      // No verdict (shared store down): no notice this time.
    }
  }

  /** Checks what a finished SASL exchange produced (PLAIN, LOGIN; SCRAM's verdict). */
  async authenticateSasl(credentials: SaslCredentials, context: AuthContext): Promise<AuthResult> {
    // The mechanism already refused any authzid other than the authcid: no proxy authorization.
    if (credentials.kind === "scram") return this.settleScram(credentials, context);
    return this.authenticate({ ...context, username: credentials.authcid, password: credentials.password });
  }

  private async settleScram(credentials: SaslScramCredentials, context: AuthContext): Promise<AuthResult> {
    // Refused at the lookup (already logged there): not counted again.
    if (credentials.failure === "throttled") return { ok: false, reason: "throttled" };
    if (credentials.failure === "temporary-failure") return { ok: false, reason: "temporary-failure" };
    const subject = { remoteAddress: context.remoteAddress, username: credentials.authcid };
    const where: LogFields = { remoteAddress: context.remoteAddress, protocol: context.protocol };
    const who: LogFields = { tls: context.tls, username: credentials.authcid.slice(0, MAX_LOGGED_USERNAME_CHARS) };
    const lookup = await this.findAccount(credentials.authcid);
    if (lookup.kind === "unavailable") return this.unavailable({ ...where, reason: "temporary-failure", ...who }, lookup.error);
    const account = lookup.account;
    if (account && credentials.credential !== null && credentials.failure === null) {
      // The keys were read at client-first; the client may have waited any time before
      // client-final, and the admin may have revoked, disabled or changed the password since
      // (the exchange was in no `pending` list then, so endSessionsOf could not wait for it).
      // So the matched secret is checked again now, against the store as it is.
      let still: boolean;
      try {
        still = await this.scramSecretStillValid(account, credentials, context);
      } catch (error) {
        return this.unavailable({ ...where, reason: "temporary-failure", ...who }, error);
      }
      if (still) return this.succeeded(account, credentials.credential, subject, where, { ...where, mechanism: credentials.mechanism, ...who });
      return this.failed(account, "credential-changed", subject, where, who, { mechanism: credentials.mechanism });
    }
    // A wrong proof reads like a wrong password; a broken exchange is its own reason (fail2ban counts both).
    const failure = credentials.failure ?? "invalid-proof";
    const reason = failure === "invalid-proof" ? (account ? "wrong-password" : "unknown-user") : "protocol-error";
    return this.failed(account, reason, subject, where, who, { mechanism: credentials.mechanism, ...(reason === "protocol-error" ? { detail: failure } : {}) });
  }

  /**
   * Whether the secret a SCRAM proof matched is still accepted: the same account, still enabled,
   * and for an app password one that still exists for this protocol; for the main password keys
   * derived beside the current hash (any password change or `user disable` changes the hash) and
   * no "app passwords only" on a mail protocol.
   */
  private async scramSecretStillValid(account: Account, credentials: SaslScramCredentials, context: AuthContext): Promise<boolean> {
    if (this.authState === null || credentials.accountId === undefined || credentials.accountId !== account.id) return false;
    if (!loginEnabled(account)) return false;
    const credential = credentials.credential;
    if (credential === null) return false;
    if (credential.startsWith("app:")) {
      const id = Number(credential.slice(4));
      const apps = await this.authState.listAppPasswords(account.id);
      return apps.some((app) => app.id === id && app.protocols.includes(context.protocol) && app.scramKeys !== null);
    }
    if (credential !== "password") return false;
    const state = await this.authState.getAccountAuth(account.id);
    if (state.appPasswordsOnly && MAIL_PROTOCOLS.has(context.protocol)) return false;
    const tag = passwordHashTag(account.passwordHash);
    return credentials.keyTag === tag && currentScramKeys(account, state) !== null;
  }

  private async findAccount(username: string): Promise<{ kind: "found"; account: Account | null } | { kind: "unavailable"; error: unknown }> {
    if (username === "" || Buffer.byteLength(username, "utf8") > this.maxUsernameBytes) return { kind: "found", account: null };
    try {
      return { kind: "found", account: await this.accounts.findAccountByAddress(username) };
    } catch (error) {
      // A name that is not an address is simply not an account; anything else is the backend failing.
      if (isStoreError(error, "INVALID") || isStoreError(error, "NONEXISTENT")) return { kind: "found", account: null };
      return { kind: "unavailable", error };
    }
  }

  private unavailable(fields: LogFields, error: unknown): AuthResult {
    this.log.error("auth.failure", { ...fields, error });
    return { ok: false, reason: "temporary-failure" };
  }

  private async verifyAgainstDummy(password: string): Promise<false> {
    try {
      this.dummyHash ??= createDummyHash(this.hashParams);
      await verifyPassword(await this.dummyHash, password, { maxPasswordBytes: this.maxPasswordBytes });
    } catch {
      // Losing the timing cover is better than failing the login path; a retry rebuilds it.
      this.dummyHash = null;
    }
    return false;
  }
}
