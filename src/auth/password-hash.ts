// Password hashing: argon2id in PHC string format. This is the only module that imports the
// argon2 binding, so replacing the library is a one-file change.
//
// Defaults follow OWASP's Password Storage Cheat Sheet minimum for argon2id (m=19 MiB, t=2, p=1):
// about 20-40 ms per check on a current core, which is cheap for one login and expensive for an
// offline attacker with a stolen database. Memory is per concurrent check, so a server with many
// simultaneous logins pays memoryCost × concurrency; raise timeCost rather than memoryCost on
// small machines. RFC 9106 §4 gives the stronger "first recommended" option (m=2 GiB), which is
// too much for a mail server answering many clients.
import { hash, parseOptions, verify } from "@node-rs/argon2";
import type { Algorithm } from "@node-rs/argon2";
import { randomBytes } from "node:crypto";

/** The binding declares its enum as an ambient const enum, which isolated modules cannot read. */
const ARGON2ID = 2 as Algorithm;

export interface PasswordHashParams {
  /** Memory per hash in KiB (argon2 `m`). */
  memoryCost: number;
  /** Passes over memory (argon2 `t`). */
  timeCost: number;
  /** Lanes (argon2 `p`). */
  parallelism: number;
}

export const DEFAULT_HASH_PARAMS: Readonly<PasswordHashParams> = Object.freeze({ memoryCost: 19456, timeCost: 2, parallelism: 1 });

/** Passwords longer than this are refused before hashing: hashing cost must not be client-controlled. */
export const DEFAULT_MAX_PASSWORD_BYTES = 1024;

export interface PasswordPolicy {
  params?: PasswordHashParams;
  maxPasswordBytes?: number;
}

export class PasswordRejectedError extends Error {
  constructor(readonly reason: "empty" | "too-long" | "control-character") {
    super(`password rejected: ${reason}`);
    this.name = "PasswordRejectedError";
  }
}

// RFC 8265 §4.2 (OpaqueString, the PRECIS successor of SASLprep named by RFC 4616 §2): non-ASCII
// spaces map to U+0020 and the string is put in NFC, so "é" typed as one code point or as e + ́
// is the same password on every client.
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g;
// OpaqueString disallows control characters; a NUL would also break the PLAIN message format.
const CONTROL_CHARACTER = /[\u0000-\u001F\u007F-\u009F]/;

/**
 * Prepares a password for hashing or checking, or says why it is unacceptable. The same
 * preparation runs when setting and when checking, so stored hashes and logins agree.
 */
export function preparePassword(password: string, maxPasswordBytes = DEFAULT_MAX_PASSWORD_BYTES): string | PasswordRejectedError {
  if (password.length === 0) return new PasswordRejectedError("empty");
  // Checked before normalising too: NFC of a huge string is itself work an attacker could buy.
  if (Buffer.byteLength(password, "utf8") > maxPasswordBytes) return new PasswordRejectedError("too-long");
  const prepared = password.replace(NON_ASCII_SPACE, " ").normalize("NFC");
  if (CONTROL_CHARACTER.test(prepared)) return new PasswordRejectedError("control-character");
  if (Buffer.byteLength(prepared, "utf8") > maxPasswordBytes) return new PasswordRejectedError("too-long");
  return prepared;
}

/** Hashes a password for storage. Throws PasswordRejectedError for an empty, over-long or control-laden password. */
export async function hashPassword(password: string, policy: PasswordPolicy = {}): Promise<string> {
  const prepared = preparePassword(password, policy.maxPasswordBytes);
  if (prepared instanceof PasswordRejectedError) throw prepared;
  const params = policy.params ?? DEFAULT_HASH_PARAMS;
  return hash(prepared, { ...params, algorithm: ARGON2ID });
}

/**
 * Checks a password against a stored PHC string. The comparison is constant-time inside the
 * binding. Never throws: a malformed or foreign hash, or an unacceptable password, is `false`.
 */
export async function verifyPassword(storedHash: string, password: string, policy: Omit<PasswordPolicy, "params"> = {}): Promise<boolean> {
  const prepared = preparePassword(password, policy.maxPasswordBytes);
  if (prepared instanceof PasswordRejectedError) return false;
  if (!storedHash.startsWith("$argon2")) return false;
  try {
    return await verify(storedHash, prepared);
  } catch {
    return false;
  }
}

/**
 * True when the stored hash is not argon2id with exactly these parameters, so the caller should
 * store a fresh hash after the next successful login (when it has the plaintext in hand).
 */
export function needsRehash(storedHash: string, params: PasswordHashParams = DEFAULT_HASH_PARAMS): boolean {
  try {
    const current = parseOptions(storedHash);
    return (
      current.algorithm !== ARGON2ID ||
      current.memoryCost !== params.memoryCost ||
      current.timeCost !== params.timeCost ||
      current.parallelism !== params.parallelism
    );
  } catch {
    return true;
  }
}

/**
 * A hash of a random secret nobody knows, with the given parameters. Checking a login for an
 * unknown user against it costs what checking a real account costs, so response time does not
 * tell an attacker which addresses exist.
 */
export async function createDummyHash(params: PasswordHashParams = DEFAULT_HASH_PARAMS): Promise<string> {
  return hash(randomBytes(32).toString("base64"), { ...params, algorithm: ARGON2ID });
}
