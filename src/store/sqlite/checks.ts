// Argument checks at the store's edge and the mapping of SQLite failures to StoreErrors. Callers
// are typed, but the store is the last line before durable state: a bad value from a protocol bug
// must become an INVALID error, never a half-written row.
import { Readable } from "node:stream";
import { StoreError } from "../errors.js";
import type { EnqueueRequest, RecipientResult } from "../queue-store.js";

/** A trace prefix is a few header lines; anything this large is a caller's mistake. */
const MAX_PREFIX_BYTES = 64 * 1024;
const CRLF = Buffer.from("\r\n");
const NOTIFY_KEYWORDS = new Set(["NEVER", "SUCCESS", "FAILURE", "DELAY"]);
const BODY_TYPES = new Set(["7BIT", "8BITMIME", "BINARYMIME"]);

export function checkDate(date: unknown): Date {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new StoreError("INVALID", "internal date must be a valid Date");
  return date;
}

/** A UIDVALIDITY or a UID given by a caller (kept from another server): 1..2^32-1 (RFC 9051 §9 nz-number). */
export function checkUid32(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > 0xffffffff) throw new StoreError("INVALID", `${what} must be an integer from 1 to 4294967295`);
  return value;
}

/** The kept UIDs of one appendStaged call: absent on all, or ascending on all. */
export function checkKeptUids(uids: readonly unknown[]): number[] | null {
  if (uids.every((u) => u === undefined)) return null;
  const checked = uids.map((u) => checkUid32(u, "uid"));
  for (let i = 1; i < checked.length; i++) if (checked[i]! <= checked[i - 1]!) throw new StoreError("INVALID", "kept UIDs must be ascending");
  return checked;
}

export function checkMaxBytes(maxBytes: unknown): number | undefined {
  if (maxBytes === undefined) return undefined;
  if (typeof maxBytes !== "number" || !(maxBytes >= 0)) throw new StoreError("INVALID", "maxBytes must be a non-negative number");
  return maxBytes;
}

/** Trace header lines placed before the message's own header: at most 64 KiB, ending a line. */
export function checkPrefix(prefix: unknown): Buffer {
  if (prefix === undefined) return Buffer.alloc(0);
  if (!Buffer.isBuffer(prefix) || prefix.length > MAX_PREFIX_BYTES) throw new StoreError("INVALID", "trace prefix must be a Buffer of at most 64 KiB");
  if (prefix.length > 0 && !prefix.subarray(-2).equals(CRLF)) throw new StoreError("INVALID", "trace prefix must end with CRLF");
  return prefix;
}

/** A positive whole number of milliseconds or entries (leaseDue, listQueue). */
export function checkCount(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) throw new StoreError("INVALID", `${what} must be a positive integer`);
  return value;
}

const isTextOrNull = (value: unknown): boolean => value === null || typeof value === "string";
/** No line breaks or NULs: these values go back on the wire in SMTP commands and DSNs. */
const isProtocolSafe = (value: string): boolean => !/[\r\n\0]/.test(value);

/** Validates an enqueue request (everything but the staged message); returns its prefix. */
export function checkEnqueueRequest(request: EnqueueRequest): Buffer {
  if (!request || typeof request !== "object") throw new StoreError("INVALID", "enqueue needs a request");
  if (typeof request.mailFrom !== "string" || !isProtocolSafe(request.mailFrom)) throw new StoreError("INVALID", "bad reverse-path");
  if (!isTextOrNull(request.submittedBy) || !isTextOrNull(request.envelopeId)) throw new StoreError("INVALID", "submittedBy and envelopeId must be strings or null");
  if (request.envelopeId !== null && !isProtocolSafe(request.envelopeId)) throw new StoreError("INVALID", "bad ENVID");
  if (request.ret !== null && request.ret !== "FULL" && request.ret !== "HDRS") throw new StoreError("INVALID", "RET must be FULL or HDRS (RFC 3461)");
  if (!BODY_TYPES.has(request.bodyType)) throw new StoreError("INVALID", "unknown body type");
  if (typeof request.smtputf8 !== "boolean") throw new StoreError("INVALID", "smtputf8 must be a boolean");
  if (!Array.isArray(request.recipients) || request.recipients.length === 0) throw new StoreError("INVALID", "an entry needs at least one recipient");
  const addresses = new Set<string>();
  for (const rcpt of request.recipients) {
    if (typeof rcpt?.address !== "string" || rcpt.address === "" || !isProtocolSafe(rcpt.address)) throw new StoreError("INVALID", "bad recipient address");
    if (addresses.has(rcpt.address)) throw new StoreError("INVALID", `recipient ${rcpt.address} given twice`);
    addresses.add(rcpt.address);
    if (!isTextOrNull(rcpt.originalRecipient) || (rcpt.originalRecipient !== null && !isProtocolSafe(rcpt.originalRecipient))) throw new StoreError("INVALID", "bad ORCPT");
    const notify = rcpt.notify;
    if (notify !== null) {
      // RFC 3461 §4.1: NEVER, or any non-empty combination of SUCCESS, FAILURE and DELAY.
      const valid = Array.isArray(notify) && notify.length > 0 && notify.every((k) => NOTIFY_KEYWORDS.has(k)) && new Set(notify).size === notify.length;
      if (!valid || (notify.includes("NEVER") && notify.length > 1)) throw new StoreError("INVALID", "bad NOTIFY (RFC 3461)");
    }
  }
  return checkPrefix(request.prefix);
}

/** Results of one delivery attempt (recordAttempt): a reply is required unless delivered. */
export function checkResults(results: unknown): RecipientResult[] {
  const states = new Set(["delivered", "failed", "deferred"]);
  const valid = Array.isArray(results) && results.every((r: Partial<RecipientResult>) =>
    typeof r?.address === "string" && states.has(r.state as string) && (typeof r.reply === "string" || (r.reply === undefined && r.state === "delivered")));
  if (!valid) throw new StoreError("INVALID", "each result needs an address, a state and (unless delivered) a reply");
  return results as RecipientResult[];
}

export function failedStream(err: Error): Readable {
  return new Readable({
    read() {
      this.destroy(err);
    },
  });
}

/**
 * SQLite failures (busy, disk full, I/O) are UNAVAILABLE: worth retrying, never a reason to tell a
 * client the message was refused for good. A unique-key clash lost to a concurrent writer is
 * ALREADYEXISTS. Anything else is a bug and passes through to the caller's SERVERBUG path.
 */
export function toStoreError(err: unknown): unknown {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string" && code.startsWith("SQLITE_")) {
    if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") return new StoreError("ALREADYEXISTS", (err as Error).message, { cause: err });
    // SQLITE_FULL: the disk (or the filesystem quota) is full, as ENOSPC/EDQUOT for a blob.
    if (code === "SQLITE_FULL") return new StoreError("NOSPACE", `database error: ${(err as Error).message}`, { cause: err });
    return new StoreError("UNAVAILABLE", `database error: ${(err as Error).message}`, { cause: err });
  }
  return err;
}
