// Row shapes of the PostgreSQL tables and their conversion to the store's domain types. Times
// are epoch milliseconds (bigint, parsed to numbers by database.ts), flags a text[].
import { effectiveLimit, type QuotaPolicy } from "../quota.js";
import type { Account, AccountId, Alias, Domain, DomainId, Flag, Mailbox, MailboxId, MessageSummary, ModSeq, Pop3Mode, SpecialUse, Uid, UidValidity } from "../types.js";

export interface DomainRow {
  id: number;
  name: string;
  created_at: number;
}

export interface AccountRow {
  id: number;
  address: string;
  password_hash: string;
  quota_bytes: number | null;
  used_bytes: number;
  quota_messages: number | null;
  used_messages: number;
  pop3_mode: string;
  pop3_mark_seen: boolean;
  pop3_login_delay: number | null;
  pop3_expire_days: number | null;
  created_at: number;
}

export interface MailboxRow {
  id: number;
  account_id: number;
  name: string;
  special_use: string | null;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  subscribed: boolean;
}

export interface MessageRow {
  uid: number;
  modseq: number;
  flags: Flag[];
  internal_date: number;
  size: number;
}

export const ACCOUNT_COLUMNS = "id, address, password_hash, quota_bytes, used_bytes, quota_messages, used_messages, pop3_mode, pop3_mark_seen, pop3_login_delay, pop3_expire_days, created_at";

/** Selects a mailbox row (alias m) with its subscription state. */
export const MAILBOX_COLUMNS = `m.id, m.account_id, m.name, m.special_use, m.uid_validity, m.uid_next, m.highest_modseq,
  EXISTS (SELECT 1 FROM subscriptions s WHERE s.account_id = m.account_id AND s.name = m.name) AS subscribed`;

export const SUMMARY_COLUMNS = "uid, modseq, flags, internal_date, size";

export const toDomain = (row: DomainRow): Domain => ({ id: row.id as DomainId, name: row.name, createdAt: new Date(row.created_at) });

export function toAccount(row: AccountRow, quota: QuotaPolicy): Account {
  return {
    id: row.id as AccountId,
    address: row.address,
    passwordHash: row.password_hash,
    quotaBytes: effectiveLimit(row.quota_bytes, quota.storageBytes),
    usedBytes: row.used_bytes,
    quotaMessages: effectiveLimit(row.quota_messages, quota.messages),
    usedMessages: row.used_messages,
    quotaSetting: { storageBytes: row.quota_bytes, messages: row.quota_messages },
    pop3: { mode: row.pop3_mode as Pop3Mode, markSeen: row.pop3_mark_seen, loginDelaySeconds: row.pop3_login_delay, expireDays: row.pop3_expire_days },
    createdAt: new Date(row.created_at),
  };
}

export function toMailbox(row: MailboxRow): Mailbox {
  return {
    id: row.id as MailboxId,
    accountId: row.account_id as AccountId,
    name: row.name,
    specialUse: row.special_use as SpecialUse | null,
    subscribed: row.subscribed,
    uidValidity: row.uid_validity as UidValidity,
    uidNext: row.uid_next as Uid,
    highestModSeq: row.highest_modseq as ModSeq,
  };
}

export function toMessageSummary(row: MessageRow): MessageSummary {
  return { uid: row.uid as Uid, modseq: row.modseq as ModSeq, flags: row.flags, internalDate: new Date(row.internal_date), size: row.size };
}

/** Groups (alias, target) rows, already ordered by alias then position, into Alias values. */
export function toAliases(list: { address: string; target: string }[]): Alias[] {
  const byAddress = new Map<string, Alias>();
  for (const row of list) {
    let alias = byAddress.get(row.address);
    if (!alias) byAddress.set(row.address, (alias = { address: row.address, targets: [] }));
    alias.targets.push(row.target);
  }
  return [...byAddress.values()];
}

/** UIDs as a bigint[] parameter: only positive safe integers (anything else matches nothing). */
export const uidArray = (uids: readonly number[]): number[] => (Array.isArray(uids) ? uids.filter((uid) => Number.isSafeInteger(uid) && uid > 0) : []);
