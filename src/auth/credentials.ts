// The secrets an account logs in with besides its argon2id hash (issue 22): the SCRAM keys of the
// main password, and app passwords. Storage is store/auth-store.ts; this module makes and checks
// the values.
//
// App passwords are generated here, never chosen: 20 random characters from a 32-letter alphabet
// (100 bits), shown once. At that entropy a fast hash (SHA-256) is safe storage (no dictionary to
// run), and it makes the lookup one index probe instead of one argon2 run per app password.
import { createHash, createHmac, randomBytes, randomInt } from "node:crypto";
import type { Account, AccountAuthState, AuthStateStore } from "../store/index.js";
import { preparePassword, PasswordRejectedError } from "./password-hash.js";
import { DEFAULT_SCRAM_ITERATIONS, deriveScramKeys, encodeScramKeySet, newScramSalt } from "./scram-keys.js";

/** The protocols an app password may be limited to. */
export const APP_PASSWORD_PROTOCOLS = Object.freeze(["imap", "pop3", "smtp", "managesieve"] as const);
export type AppPasswordProtocol = (typeof APP_PASSWORD_PROTOCOLS)[number];

/** Lower-case letters and digits without the look-alikes 0/o, 1/l/i: easy to type on a phone. */
const ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789";

/** A new app password: four groups of five, "abcde-fghjk-mnpqr-stuvw" (about 99 bits). */
export function generateAppPassword(): string {
  const groups: string[] = [];
  for (let g = 0; g < 4; g += 1) {
    let group = "";
    for (let i = 0; i < 5; i += 1) group += ALPHABET[randomInt(ALPHABET.length)];
    groups.push(group);
  }
  return groups.join("-");
}

/** The stored form of an app password: SHA-256 (hex) of the prepared secret. */
export function appPasswordSecretHash(secret: string): string | null {
  const prepared = preparePassword(secret);
  if (prepared instanceof PasswordRejectedError) return null;
  return createHash("sha256").update(prepared, "utf8").digest("hex");
}

/**
 * Which password hash a set of stored SCRAM keys was derived beside. The keys count only while
 * the account's hash is still this one: any password change (through whatever path, including
 * `user disable`, which marks the hash) makes them stale at once, and the next PLAIN login
 * derives fresh ones.
 */
export function passwordHashTag(passwordHash: string): string {
  return createHash("sha256").update(passwordHash, "utf8").digest("base64").slice(0, 22);
}

/** The main password's SCRAM keys when they belong to the account's current hash, else null. */
export function currentScramKeys(account: Account, state: AccountAuthState): string | null {
  return state.scramKeys !== null && state.scramHashTag === passwordHashTag(account.passwordHash) ? state.scramKeys : null;
}

/** The account's salt and iterations, created (with `iterations`) on first use. */
export async function scramParamsOf(store: AuthStateStore, account: Account, iterations: number = DEFAULT_SCRAM_ITERATIONS): Promise<{ salt: Buffer; iterations: number }> {
  const state = await store.getAccountAuth(account.id);
  if (state.scramSalt !== null && state.scramIterations !== null) return { salt: Buffer.from(state.scramSalt, "base64"), iterations: state.scramIterations };
  const stored = await store.ensureScramParams(account.id, newScramSalt().toString("base64"), iterations);
  return { salt: Buffer.from(stored.salt, "base64"), iterations: stored.iterations };
}

/** SCRAM keys of a secret under the account's salt, in storage form; null for an unacceptable secret. */
export async function scramKeysFor(store: AuthStateStore, account: Account, secret: string, iterations?: number): Promise<string | null> {
  const prepared = preparePassword(secret);
  if (prepared instanceof PasswordRejectedError) return null;
  const params = await scramParamsOf(store, account, iterations);
  return encodeScramKeySet(await deriveScramKeys(prepared, params.salt, params.iterations));
}

/**
 * Stores the main password's SCRAM keys beside the account's current hash: called when a password
 * is set (admin operations) and after a successful PLAIN/LOGIN with a password whose keys are
 * missing or stale (accounts from before SCRAM).
 */
export async function storeMainScramKeys(store: AuthStateStore, account: Account, password: string, iterations?: number, passwordHash: string = account.passwordHash): Promise<void> {
  const keys = await scramKeysFor(store, account, password, iterations);
  if (keys === null) return;
  // Tagged with the hash of this very password (the caller's, never one re-read later): when two
  // password changes overlap, keys stored last beside the other change's hash are stale at once,
  // instead of letting the older password in over SCRAM.
  await store.updateAccountAuth(account.id, { scramKeys: keys, scramHashTag: passwordHashTag(passwordHash) });
}

/**
 * The main password's keys derived again with `iterations` (config auth.scram_iterations), the
 * account's count changed to it, salt kept: after an operator raises the count, server-first would
 * otherwise show the old count for existing accounts and the new one for unknown names (the fake
 * lookup), telling them apart. Called after a successful PLAIN/LOGIN with the main password.
 * The count is shared by all the account's secrets, and app passwords cannot be derived again
 * (only their hash is kept), so an account with SCRAM keys for an app password keeps its count.
 * Resolves to whether it converged.
 */
export async function convergeMainScramIterations(store: AuthStateStore, account: Account, password: string, iterations: number): Promise<boolean> {
  const prepared = preparePassword(password);
  if (prepared instanceof PasswordRejectedError) return false;
  const state = await store.getAccountAuth(account.id);
  if (state.scramSalt === null || state.scramIterations === iterations) return false;
  if ((await store.listAppPasswords(account.id)).some((app) => app.scramKeys !== null)) return false;
  const keys = encodeScramKeySet(await deriveScramKeys(prepared, Buffer.from(state.scramSalt, "base64"), iterations));
  await store.updateAccountAuth(account.id, { scramIterations: iterations, scramKeys: keys, scramHashTag: passwordHashTag(account.passwordHash) });
  return true;
}

/**
 * A salt for a login name without stored keys: the same for the same name on every attempt, so
 * server-first does not tell an unknown user from a known one.
 */
export class FakeSalts {
  private readonly secret = randomBytes(32);
  saltFor(username: string): Buffer {
    return createHmac("sha256", this.secret).update(username.toLowerCase()).digest().subarray(0, 16);
  }

  /**
   * The iteration count server-first gives a login name without stored keys (issue 22, the
   * iteration-count oracle). Accounts keep the count their salt was made with until a PLAIN/LOGIN
   * with the main password moves them to auth.scram_iterations; accounts that only ever use SCRAM
   * (or hold app-password keys, which cannot be derived again without the app password) never
   * move. Re-deriving at a successful SCRAM login is impossible: SCRAM never shows the server the
   * password. So after the operator raises the count, answering unknown names with the configured
   * count would tell them from every account still on an old one.
   *
   * Instead each unknown name gets a count drawn from the stored counts in proportion to how many
   * accounts have each (`distribution`, from AuthStateStore.scramIterationCounts), by a keyed hash
   * of the name: the same name always gets the same count (a repeated probe learns nothing new),
   * and over names the fake counts are distributed as the real ones are, so seeing an old count
   * is as likely for a name that does not exist as for one that does. With no stored keys yet,
   * the configured count.
   */
  iterationsFor(username: string, distribution: readonly { iterations: number; accounts: number }[], configured: number): number {
    const total = distribution.reduce((sum, d) => sum + d.accounts, 0);
    if (total === 0) return configured;
    const draw = createHmac("sha256", this.secret).update(`iterations:${username.toLowerCase()}`).digest().readUIntBE(0, 6) % total;
    let seen = 0;
    for (const d of distribution) {
      seen += d.accounts;
      if (draw < seen) return d.iterations;
    }
    return configured;
  }
}
