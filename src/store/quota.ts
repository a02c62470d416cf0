// Quota (RFC 9208 resources STORAGE and MESSAGE) as the store enforces it. Each account row keeps
// its own limits (quota_bytes, quota_messages: NULL = the configured default, 0 = unlimited) and
// its usage counters (used_bytes, used_messages), which every mutation that adds or removes
// message rows updates in its own transaction, so a check is one row read, never a SUM over the
// account's messages (`mailroom store check` verifies the counters and --repair recounts them).
// The defaults come from config [quota] and are applied when read, not copied into rows, so
// changing the default changes every account that has no value of its own (as Dovecot's
// quota_rule = *:storage=... does).
import type { Account } from "./types.js";

export interface QuotaPolicy {
  /** Default storage limit in bytes for accounts without their own; 0 = unlimited. */
  readonly storageBytes: number;
  /** Default message-count limit; 0 = unlimited. */
  readonly messages: number;
  /** Percentage of either limit at which the user is warned once (0 = never). */
  readonly warningPercent: number;
}

export const UNLIMITED_QUOTA: QuotaPolicy = { storageBytes: 0, messages: 0, warningPercent: 90 };

/** An account's own value (null: the default) resolved against the default; null = unlimited. */
export function effectiveLimit(own: number | null, fallback: number): number | null {
  const value = own ?? fallback;
  return value > 0 ? value : null;
}

function integerLiteral(value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`quota default ${value} is not a non-negative integer`);
  return String(value);
}

/**
 * SQL over the `accounts` columns (both backends speak this subset): the effective limits as
 * expressions that are NULL when unlimited, so `used + n > limit` is NULL (not true) for an
 * unlimited account. The defaults are inlined as integer literals (checked above).
 */
export function quotaSql(policy: QuotaPolicy): { bytesLimit: string; messagesLimit: string; atWarning: string } {
  const bytesLimit = `nullif(coalesce(quota_bytes, ${integerLiteral(policy.storageBytes)}), 0)`;
  const messagesLimit = `nullif(coalesce(quota_messages, ${integerLiteral(policy.messages)}), 0)`;
  const percent = integerLiteral(policy.warningPercent);
  const atWarning =
    policy.warningPercent <= 0
      ? "(1 = 0)"
      : `(coalesce(used_bytes * 100 >= ${bytesLimit} * ${percent}, 1 = 0) OR coalesce(used_messages * 100 >= ${messagesLimit} * ${percent}, 1 = 0))`;
  return { bytesLimit, messagesLimit, atWarning };
}

/** What one mutation adds to (or removes from) one account. */
export interface UsageDelta {
  bytes: number;
  messages: number;
}

export function addUsage(map: Map<number, UsageDelta>, accountId: number, bytes: number, messages: number): void {
  const entry = map.get(accountId);
  if (entry) {
    entry.bytes += bytes;
    entry.messages += messages;
  } else map.set(accountId, { bytes, messages });
}

/** The account's usage against its limits, as RFC 9208 GETQUOTA reports them. */
export interface QuotaUsage {
  storage: { usedBytes: number; limitBytes: number } | null;
  messages: { used: number; limit: number } | null;
}

export function quotaUsage(account: Account): QuotaUsage {
  return {
    storage: account.quotaBytes === null ? null : { usedBytes: account.usedBytes, limitBytes: account.quotaBytes },
    messages: account.quotaMessages === null || account.quotaMessages === undefined ? null : { used: account.usedMessages ?? 0, limit: account.quotaMessages },
  };
}

/** Whether `messages` more messages of `bytes` octets in all would fit. */
export function wouldFitUsage(account: Account, bytes: number, messages: number): boolean {
  if (account.quotaBytes !== null && account.usedBytes + bytes > account.quotaBytes) return false;
  if (account.quotaMessages != null && (account.usedMessages ?? 0) + messages > account.quotaMessages) return false;
  return true;
}

/** Already full: no message at all would fit (RCPT TO without SIZE=). */
export function isFull(account: Account): boolean {
  if (account.quotaBytes !== null && account.usedBytes >= account.quotaBytes) return true;
  if (account.quotaMessages != null && (account.usedMessages ?? 0) >= account.quotaMessages) return true;
  return false;
}
