// SCRAM key derivation (RFC 5802 §3), shared by the server mechanism (sasl/scram.ts), the code that
// stores keys when a password or app password is set, and the test harness's independent client.
//
//   SaltedPassword = Hi(password, salt, i)        (PBKDF2 with HMAC-H, RFC 5802 §2.2)
//   ClientKey      = HMAC(SaltedPassword, "Client Key")
//   StoredKey      = H(ClientKey)
//   ServerKey      = HMAC(SaltedPassword, "Server Key")
//
// Only StoredKey and ServerKey are stored: they let the server check a proof and prove itself, but
// not log in as the user (that needs ClientKey, which only the password gives).
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";

const pbkdf2Async = promisify(pbkdf2);

export type ScramHash = "sha1" | "sha256";

export const SCRAM_HASHES: readonly ScramHash[] = Object.freeze(["sha1", "sha256"]);

/** Output length of H in bytes. */
export function hashLength(hash: ScramHash): number {
  return hash === "sha1" ? 20 : 32;
}

export interface ScramKeyPair {
  storedKey: Buffer;
  serverKey: Buffer;
}

/** The keys of one secret (the main password or one app password) for both hash functions. */
export type ScramKeySet = Record<ScramHash, ScramKeyPair>;

/** RFC 7677 §4 asks for at least 4096 iterations. */
export const MIN_SCRAM_ITERATIONS = 4096;
export const DEFAULT_SCRAM_ITERATIONS = 4096;
/** Iteration counts above this are refused (a stored value is bounded work per login). */
export const MAX_SCRAM_ITERATIONS = 1_000_000;

export function hmac(hash: ScramHash, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(hash, key).update(data).digest();
}

export function digest(hash: ScramHash, data: Buffer): Buffer {
  return createHash(hash).update(data).digest();
}

export function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i += 1) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0);
  return out;
}

/** Hi() of RFC 5802 §2.2 is PBKDF2 with HMAC-H and dkLen = the hash's output length. */
export async function saltedPassword(hash: ScramHash, password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return pbkdf2Async(Buffer.from(password, "utf8"), salt, iterations, hashLength(hash), hash);
}

export function keysFromSaltedPassword(hash: ScramHash, salted: Buffer): ScramKeyPair & { clientKey: Buffer } {
  const clientKey = hmac(hash, salted, "Client Key");
  return { clientKey, storedKey: digest(hash, clientKey), serverKey: hmac(hash, salted, "Server Key") };
}

/**
 * StoredKey and ServerKey for both hash functions. The password must already be prepared
 * (password-hash.ts preparePassword: the same OpaqueString preparation PLAIN logins get).
 */
export async function deriveScramKeys(password: string, salt: Buffer, iterations: number): Promise<ScramKeySet> {
  const [sha1, sha256] = await Promise.all(
    SCRAM_HASHES.map(async (hash) => {
      const { storedKey, serverKey } = keysFromSaltedPassword(hash, await saltedPassword(hash, password, salt, iterations));
      return { storedKey, serverKey };
    }),
  );
  return { sha1: sha1!, sha256: sha256! };
}

/** A fresh per-account salt (RFC 5802 §5.1 leaves its size open; 16 bytes as most servers). */
export function newScramSalt(): Buffer {
  return randomBytes(16);
}

export function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The storage form of a key set: `sha1:<stored>:<server>,sha256:<stored>:<server>` (base64). */
export function encodeScramKeySet(keys: ScramKeySet): string {
  return SCRAM_HASHES.map((hash) => `${hash}:${keys[hash].storedKey.toString("base64")}:${keys[hash].serverKey.toString("base64")}`).join(",");
}

/** The inverse of encodeScramKeySet, or null for anything else (a damaged row is just no keys). */
export function decodeScramKeySet(text: string | null | undefined): ScramKeySet | null {
  if (!text) return null;
  const out: Partial<ScramKeySet> = {};
  for (const part of text.split(",")) {
    const [hash, stored, server, extra] = part.split(":");
    if ((hash !== "sha1" && hash !== "sha256") || stored === undefined || server === undefined || extra !== undefined) return null;
    const storedKey = Buffer.from(stored, "base64");
    const serverKey = Buffer.from(server, "base64");
    if (storedKey.length !== hashLength(hash) || serverKey.length !== hashLength(hash)) return null;
    out[hash] = { storedKey, serverKey };
  }
  return out.sha1 && out.sha256 ? { sha1: out.sha1, sha256: out.sha256 } : null;
}
