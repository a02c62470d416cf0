// The second factor for the web pages (issue 22): TOTP (RFC 6238) over HOTP (RFC 4226), with
// one-time recovery codes. This module is the library (codes, state) and the small API the admin
// and account pages call (verifyTotp, enableTotp, ...); the state is stored as JSON per mail
// account in account_auth.totp (store/auth-store.ts) and per admin in admin_auth.totp
// (store/web-auth-store.ts), each reached through a TotpSlot, and every use is a compare-and-set
// on that JSON, so a code (time step) or a recovery code is accepted once even when two requests race.
import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from "node:crypto";
import type { Account, AuthStateStore, WebAuthStore } from "../store/index.js";

export type TotpHash = "sha1" | "sha256" | "sha512";

/** RFC 6238 §4.1 defaults, and what every authenticator app reads from an otpauth URI without parameters. */
export const TOTP_STEP_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps accepted either side of now (RFC 6238 §5.2 recommends at most one for clock drift). */
export const TOTP_WINDOW = 1;
export const RECOVERY_CODE_COUNT = 10;

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 §6 base32, unpadded (as otpauth URIs carry secrets). */
export function base32Encode(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** Decodes base32 (case-insensitive, padding and spaces ignored), or null. */
export function base32Decode(text: string): Buffer | null {
  const clean = text.replace(/[\s=]/g, "").toUpperCase();
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of clean) {
    const index = BASE32.indexOf(ch);
    if (index < 0) return null;
    value = ((value << 5) | index) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** HOTP (RFC 4226 §5.3): HMAC of the 8-byte counter, dynamically truncated to `digits` digits. */
export function hotp(secret: Buffer, counter: number, digits = TOTP_DIGITS, hash: TotpHash = "sha1"): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(hash, secret).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = ((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!;
  return String(binary % 10 ** digits).padStart(digits, "0");
}

/** The TOTP time step of a moment (RFC 6238 §4.2: T = floor((unix time - T0) / X), T0 = 0). */
export function timeStep(unixSeconds: number, stepSeconds = TOTP_STEP_SECONDS): number {
  return Math.floor(unixSeconds / stepSeconds);
}

/** TOTP (RFC 6238 §4.2): HOTP with the time step as the counter. */
export function totp(secret: Buffer, unixSeconds: number, digits = TOTP_DIGITS, hash: TotpHash = "sha1", stepSeconds = TOTP_STEP_SECONDS): string {
  return hotp(secret, timeStep(unixSeconds, stepSeconds), digits, hash);
}

/** What account_auth.totp holds (JSON). */
export interface TotpState {
  v: 1;
  /** Base32 secret (20 random bytes: RFC 4226 §4 R6 asks for at least 128 bits, 160 recommended). */
  secret: string;
  /** Until the user proves the app works (confirmTotp), the factor is not required. */
  confirmed: boolean;
  /** The last time step accepted: a code is never accepted twice (RFC 6238 §5.2). */
  lastStep: number | null;
  /** SHA-256 (hex) of each unused recovery code. */
  recovery: string[];
  createdAt: number;
}

export function parseTotpState(json: string | null): TotpState | null {
  if (json === null) return null;
  try {
    const value = JSON.parse(json) as TotpState;
    if (value?.v !== 1 || typeof value.secret !== "string" || !Array.isArray(value.recovery)) return null;
    return value;
  } catch {
    return null;
  }
}

function recoveryHash(code: string): string {
  return createHash("sha256").update(code.replace(/[\s-]/g, "").toLowerCase(), "utf8").digest("hex");
}

/** A recovery code: 10 characters from an unambiguous alphabet, shown as xxxxx-xxxxx (about 50 bits). */
export function newRecoveryCode(): string {
  const alphabet = "abcdefghjkmnpqrstuvwxyz23456789";
  let code = "";
  for (let i = 0; i < 10; i += 1) code += alphabet[randomInt(alphabet.length)];
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

/** The otpauth URI authenticator apps read from a QR code (Google Authenticator's Key Uri Format). */
export function otpauthUri(issuer: string, accountName: string, secret: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(accountName)}`;
  return `otpauth://totp/${label}?secret=${secret}&issuer=${encodeURIComponent(issuer)}&algorithm=SHA1&digits=${TOTP_DIGITS}&period=${TOTP_STEP_SECONDS}`;
}

/** Checks a code against a state at a time; the step it matched, or null. Never the last accepted step or an earlier one. */
export function matchTotp(state: TotpState, code: string, unixSeconds: number): number | null {
  const secret = base32Decode(state.secret);
  const digits = code.replace(/\s/g, "");
  if (secret === null || !/^\d{6}$/.test(digits)) return null;
  const now = timeStep(unixSeconds);
  for (let step = now - TOTP_WINDOW; step <= now + TOTP_WINDOW; step += 1) {
    if (state.lastStep !== null && step <= state.lastStep) continue;
    const expected = hotp(secret, step);
    if (timingSafeEqual(Buffer.from(expected), Buffer.from(digits))) return step;
  }
  return null;
}

// --- The API for the web pages (and the CLI) --------------------------------------------------

export interface TotpEnrollment {
  /** Base32 secret, for manual entry. */
  secret: string;
  /** For a QR code. */
  uri: string;
  /** Shown once; stored hashed. */
  recoveryCodes: string[];
}

export type TotpStatus = { enabled: false } | { enabled: true; confirmed: boolean; recoveryCodesLeft: number; createdAt: Date };

/**
 * Where one TOTP state lives: a mail account's account_auth.totp or an admin's admin_auth.totp
 * (store/web-auth-store.ts). `write` with `expect` is a compare-and-set on the stored JSON.
 */
export interface TotpSlot {
  read(): Promise<string | null>;
  write(json: string | null, expect?: string | null): Promise<boolean>;
}

export function accountTotpSlot(store: AuthStateStore, account: Account): TotpSlot {
  return {
    read: async () => (await store.getAccountAuth(account.id)).totp,
    write: (json, expect) => store.updateAccountAuth(account.id, { totp: json }, expect),
  };
}

/** An admin's TOTP state (admin_auth, store/web-auth-store.ts): the same JSON, the same rules. */
export function adminTotpSlot(store: Pick<WebAuthStore, "getAdminTotp" | "setAdminTotp">, name: string): TotpSlot {
  return {
    read: () => store.getAdminTotp(name),
    write: (json, expect) => store.setAdminTotp(name, json, expect),
  };
}

/** Starts (or restarts) enrollment: a new secret and recovery codes; required once confirmed with a first code. */
export async function enrollTotp(slot: TotpSlot, accountName: string, issuer: string, now: Date = new Date()): Promise<TotpEnrollment> {
  const secret = base32Encode(randomBytes(20));
  const recoveryCodes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  const state: TotpState = { v: 1, secret, confirmed: false, lastStep: null, recovery: recoveryCodes.map(recoveryHash), createdAt: now.getTime() };
  await slot.write(JSON.stringify(state));
  return { secret, uri: otpauthUri(issuer, accountName, secret), recoveryCodes };
}

export async function enableTotp(store: AuthStateStore, account: Account, issuer: string, now: Date = new Date()): Promise<TotpEnrollment> {
  return enrollTotp(accountTotpSlot(store, account), account.address, issuer, now);
}

/** Confirms enrollment with a first code from the app; false when the code does not match. */
export async function confirmTotpIn(slot: TotpSlot, code: string, now: Date = new Date()): Promise<boolean> {
  return (await useCode(slot, code, now, true)) === "ok";
}

export async function confirmTotp(store: AuthStateStore, account: Account, code: string, now: Date = new Date()): Promise<boolean> {
  return confirmTotpIn(accountTotpSlot(store, account), code, now);
}

export async function disableTotp(store: AuthStateStore, account: Account): Promise<void> {
  await store.updateAccountAuth(account.id, { totp: null });
}

export async function totpStatusIn(slot: TotpSlot): Promise<TotpStatus> {
  const state = parseTotpState(await slot.read());
  if (state === null) return { enabled: false };
  return { enabled: true, confirmed: state.confirmed, recoveryCodesLeft: state.recovery.length, createdAt: new Date(state.createdAt) };
}

export async function totpStatus(store: AuthStateStore, account: Account): Promise<TotpStatus> {
  return totpStatusIn(accountTotpSlot(store, account));
}

/** Whether a sign-in to the web pages needs a second factor from this slot. */
export async function totpRequiredIn(slot: TotpSlot): Promise<boolean> {
  return parseTotpState(await slot.read())?.confirmed === true;
}

export async function totpRequired(store: AuthStateStore, account: Account): Promise<boolean> {
  return totpRequiredIn(accountTotpSlot(store, account));
}

/**
 * Checks a second factor at web login: a 6-digit TOTP code, or a recovery code (used up by this).
 * "not-enabled" when there is no confirmed TOTP. Each code works once.
 */
export async function verifyTotpIn(slot: TotpSlot, code: string, now: Date = new Date()): Promise<"ok" | "invalid" | "not-enabled"> {
  return useCode(slot, code, now, false);
}

export async function verifyTotp(store: AuthStateStore, account: Account, code: string, now: Date = new Date()): Promise<"ok" | "invalid" | "not-enabled"> {
  return verifyTotpIn(accountTotpSlot(store, account), code, now);
}

async function useCode(slot: TotpSlot, code: string, now: Date, confirming: boolean): Promise<"ok" | "invalid" | "not-enabled"> {
  if (typeof code !== "string" || code.length > 64) return "invalid";
  // A few rounds of compare-and-set: another request may have used a code in between.
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const json = await slot.read();
    const state = parseTotpState(json);
    if (state === null || state.confirmed === confirming) return confirming ? "invalid" : "not-enabled";
    const step = matchTotp(state, code, now.getTime() / 1000);
    let next: TotpState;
    if (step !== null) next = { ...state, confirmed: true, lastStep: step };
    else if (!confirming && state.recovery.includes(recoveryHash(code))) next = { ...state, recovery: state.recovery.filter((h) => h !== recoveryHash(code)) };
    else return "invalid";
    if (await slot.write(JSON.stringify(next), json)) return "ok";
  }
  return "invalid";
}
