// Password authentication for every front end: throttle, look up, verify, log. SMTP AUTH, IMAP
// LOGIN/AUTHENTICATE, POP3 USER/PASS and AUTH, and the admin API all end here, so the rules
// (refusal before any password check, delay on failure, equal cost for unknown users, no
// password in any log line) hold for all of them.
//
// Result mapping for the front ends:
//   invalid-credentials  SMTP 535 5.7.8   IMAP NO [AUTHENTICATIONFAILED]   POP3 -ERR [AUTH]
//   throttled            SMTP 454 4.7.0   IMAP NO [UNAVAILABLE]            POP3 -ERR [IN-USE]/[SYS/TEMP]
//   temporary-failure    SMTP 454 4.7.0   IMAP NO [UNAVAILABLE]            POP3 -ERR [SYS/TEMP]
import { setTimeout as delay } from "node:timers/promises";
import type { Logger, LogFields } from "../observability/log.js";
import { isStoreError } from "../store/index.js";
import type { Account, AccountStore } from "../store/index.js";
import type { AuthThrottlePolicy } from "./auth-throttle.js";
import { createDummyHash, DEFAULT_HASH_PARAMS, DEFAULT_MAX_PASSWORD_BYTES, verifyPassword } from "./password-hash.js";
import type { PasswordHashParams } from "./password-hash.js";
import type { SaslCredentials } from "./sasl/mechanism.js";

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
}

export type AuthFailureReason = "invalid-credentials" | "throttled" | "temporary-failure";

export type AuthResult = { ok: true; account: Account } | { ok: false; reason: AuthFailureReason; retryAfterMs?: number };

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

  constructor(options: AuthenticatorOptions) {
    this.accounts = options.accounts;
    this.throttle = options.throttle;
    this.log = options.log;
    this.hashParams = options.hashParams ?? DEFAULT_HASH_PARAMS;
    this.maxPasswordBytes = options.maxPasswordBytes ?? DEFAULT_MAX_PASSWORD_BYTES;
    this.maxUsernameBytes = options.maxUsernameBytes ?? 320;
    this.sleep = options.sleep ?? ((ms) => delay(ms));
    this.failureDelayWhenUnavailable = options.failureDelayWhenUnavailableMs ?? 2000;
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

    // An unknown user is checked against the dummy hash so both paths cost one argon2 run.
    const matches = account
      ? await verifyPassword(account.passwordHash, attempt.password, { maxPasswordBytes: this.maxPasswordBytes })
      : await this.verifyAgainstDummy(attempt.password);

    if (account && matches) {
      try {
        await this.throttle.recordSuccess(subject);
      } catch (error) {
        // The login stands; only the forgiveness of earlier failures is lost.
        this.log.warn("auth.throttle_unavailable", { ...where, error });
      }
      this.log.info("auth.success", { ...fields, account: account.address });
      return { ok: true, account };
    }

    let delayMs: number;
    try {
      ({ delayMs } = await this.throttle.recordFailure(subject));
    } catch (error) {
      // Not counted (the shared store is down): still answered late, by the longest delay.
      this.log.warn("auth.throttle_unavailable", { ...where, error });
      delayMs = this.failureDelayWhenUnavailable;
    }
    // The distinction is for the operator's log only; the client sees one answer for both.
    this.log.info("auth.failure", { ...where, reason: account ? "wrong-password" : "unknown-user", delayMs, ...who });
    await this.sleep(delayMs);
    return { ok: false, reason: "invalid-credentials" };
  }

  /** Checks what a finished SASL exchange produced (PLAIN, LOGIN). */
  async authenticateSasl(credentials: SaslCredentials, context: AuthContext): Promise<AuthResult> {
    // The mechanism already refused any authzid other than the authcid: no proxy authorization.
    return this.authenticate({ ...context, username: credentials.authcid, password: credentials.password });
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
