// Row shapes of the SQLite tables and their conversion to the store's domain types. Dates are
// stored as epoch milliseconds, flags as a JSON array.
import { effectiveLimit, type QuotaPolicy } from "../quota.js";
import type { Account, AccountId, Alias, Domain, DomainId, Flag, Mailbox, MailboxId, MessageSummary, ModSeq, Pop3Mode, SpecialUse, Uid, UidValidity } from "../types.js";

export interface DomainRow {
  id: number;
  name: string;
  created_at: number;
}

export interface AccountRow {
  id: number;
  domain_id: number;
  address: string;
  password_hash: string;
  quota_bytes: number | null;
  used_bytes: number;
  quota_messages: number | null;
  used_messages: number;
  pop3_mode: string;
  pop3_mark_seen: number;
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
  subscribed: number;
}

export interface MessageRow {
  uid: number;
  modseq: number;
  flags: string;
  internal_date: number;
  size: number;
}

/** Selects a mailbox row with its subscription state. */
export const MAILBOX_COLUMNS = `m.id, m.account_id, m.name, m.special_use, m.uid_validity, m.uid_next, m.highest_modseq,
  EXISTS (SELECT 1 FROM subscriptions s WHERE s.account_id = m.account_id AND s.name = m.name) AS subscribed`;

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
    pop3: {
      mode: row.pop3_mode as Pop3Mode,
      markSeen: row.pop3_mark_seen !== 0,
      loginDelaySeconds: row.pop3_login_delay,
      expireDays: row.pop3_expire_days,
    },
    createdAt: new Date(row.created_at),
  };
}

export function toMailbox(row: MailboxRow): Mailbox {
  return {
    id: row.id as MailboxId,
    accountId: row.account_id as AccountId,
    name: row.name,
    specialUse: row.special_use as SpecialUse | null,
    subscribed: row.subscribed !== 0,
    uidValidity: row.uid_validity as UidValidity,
    uidNext: row.uid_next as Uid,
    highestModSeq: row.highest_modseq as ModSeq,
  };
}

export function toMessageSummary(row: MessageRow): MessageSummary {
  return {
    uid: row.uid as Uid,
    modseq: row.modseq as ModSeq,
    flags: parseFlags(row.flags),
    internalDate: new Date(row.internal_date),
    size: row.size,
  };
}

export const parseFlags = (json: string): Flag[] => JSON.parse(json) as Flag[];

/** Groups (alias, target) rows, already ordered by alias then position, into Alias values. */
export function toAliases(rows: { address: string; target: string }[]): Alias[] {
  const byAddress = new Map<string, Alias>();
  for (const row of rows) {
    let alias = byAddress.get(row.address);
    if (!alias) {
      alias = { address: row.address, targets: [] };
      byAddress.set(row.address, alias);
    }
    alias.targets.push(row.target);
  }
  return [...byAddress.values()];
}
