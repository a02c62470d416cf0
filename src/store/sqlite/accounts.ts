// Accounts: creation with the default mailboxes (issue #2), credentials, quota and POP3 policy,
// and deletion of everything the account owns.
import { StoreError } from "../errors.js";
import type { NewAccount, QuotaLimits } from "../account-store.js";
import { quotaSql } from "../quota.js";
import type { Account, AccountId, Pop3Policy } from "../types.js";
import { DEFAULT_MAILBOXES } from "../types.js";
import { normaliseDomain, parseAddress } from "./addresses.js";
import { removeAliasTarget, requireDomainId } from "./domains-aliases.js";
import { createMailboxInTransaction, listMailboxes, removeMailbox } from "./mailboxes.js";
import { type AccountRow, toAccount } from "./rows.js";
import type { StoreContext, UnitOfWork } from "./store-context.js";

export const DEFAULT_POP3_POLICY: Pop3Policy = { mode: "keep", markSeen: true, loginDelaySeconds: null, expireDays: null };

const ACCOUNT_COLUMNS = "id, domain_id, address, password_hash, quota_bytes, used_bytes, quota_messages, used_messages, pop3_mode, pop3_mark_seen, pop3_login_delay, pop3_expire_days, created_at";

function checkQuota(quotaBytes: unknown): number | null {
  if (quotaBytes === null || quotaBytes === undefined) return null;
  if (typeof quotaBytes !== "number" || !Number.isSafeInteger(quotaBytes) || quotaBytes < 0) throw new StoreError("INVALID", "quota must be a non-negative integer or null");
  return quotaBytes;
}

function checkPasswordHash(hash: unknown): string {
  if (typeof hash !== "string") throw new StoreError("INVALID", "password hash must be a string");
  return hash;
}

function mergePop3Policy(base: Pop3Policy, change: Partial<Pop3Policy> = {}): Pop3Policy {
  const policy = { ...base, ...change };
  const optionalCount = (n: unknown) => n === null || (typeof n === "number" && Number.isSafeInteger(n) && n >= 0);
  if ((policy.mode !== "keep" && policy.mode !== "delete-after-retrieve") || typeof policy.markSeen !== "boolean" || !optionalCount(policy.loginDelaySeconds) || !optionalCount(policy.expireDays)) {
    throw new StoreError("INVALID", "invalid POP3 policy");
  }
  return policy;
}

export function getAccount(ctx: StoreContext, id: AccountId): Account | null {
  const row = ctx.sql.get<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`, id);
  return row ? toAccount(row, ctx.quota) : null;
}

export function findAccountByAddress(ctx: StoreContext, rawAddress: string): Account | null {
  let key: string;
  try {
    key = parseAddress(rawAddress).key;
  } catch {
    return null;
  }
  const row = ctx.sql.get<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE address_key = ?`, key);
  return row ? toAccount(row, ctx.quota) : null;
}

function requireAccount(ctx: StoreContext, rawAddress: string): Account {
  const account = findAccountByAddress(ctx, rawAddress);
  if (!account) throw new StoreError("NONEXISTENT", `no account ${String(rawAddress)}`);
  return account;
}

export function listAccounts(ctx: StoreContext, rawDomain?: string): Account[] {
  const rows =
    rawDomain === undefined
      ? ctx.sql.all<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts ORDER BY address_key`)
      : ctx.sql.all<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE domain_id = (SELECT id FROM domains WHERE name = ?) ORDER BY address_key`, normaliseDomain(rawDomain));
  return rows.map((row) => toAccount(row, ctx.quota));
}

/** listAccountsPage: LIKE with its wildcards escaped, so a search is literal text. */
export function listAccountsPage(ctx: StoreContext, query: { domain?: string; search?: string; offset: number; limit: number }): { total: number; items: Account[] } {
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (query.domain !== undefined) {
    where.push("domain_id = (SELECT id FROM domains WHERE name = ?)");
    params.push(normaliseDomain(query.domain));
  }
  if (query.search !== undefined && query.search !== "") {
    where.push("address_key LIKE ? ESCAPE '\\'");
    params.push(`%${query.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  }
  const filter = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
  const total = ctx.sql.get<{ n: number }>(`SELECT count(*) AS n FROM accounts ${filter}`, ...params)!.n;
  const rows = ctx.sql.all<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts ${filter} ORDER BY address_key LIMIT ? OFFSET ?`, ...params, query.limit, query.offset);
  return { total, items: rows.map((row) => toAccount(row, ctx.quota)) };
}

export function createAccountInTransaction(ctx: StoreContext, unit: UnitOfWork, account: NewAccount): Account {
  const address = parseAddress(account?.address);
  const domainId = requireDomainId(ctx, address.domain);
  const passwordHash = checkPasswordHash(account.passwordHash);
  const quota = checkQuota(account.quotaBytes);
  const pop3 = mergePop3Policy(DEFAULT_POP3_POLICY, account.pop3);
  if (ctx.sql.get("SELECT 1 FROM accounts WHERE address_key = ?", address.key)) throw new StoreError("ALREADYEXISTS", `account ${address.address} already exists`);
  const row = ctx.sql.get<{ id: number }>(
    `INSERT INTO accounts (domain_id, address, address_key, password_hash, quota_bytes, quota_messages, pop3_mode, pop3_mark_seen, pop3_login_delay, pop3_expire_days, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    domainId,
    address.address,
    address.key,
    passwordHash,
    quota,
    checkQuota(account.quotaMessages),
    pop3.mode,
    pop3.markSeen ? 1 : 0,
    pop3.loginDelaySeconds,
    pop3.expireDays,
    ctx.clock().getTime(),
  );
  const id = row!.id as AccountId;
  for (const mailbox of DEFAULT_MAILBOXES) createMailboxInTransaction(ctx, unit, id, mailbox.name, { specialUse: mailbox.specialUse, subscribed: true });
  return getAccount(ctx, id)!;
}

export function setPasswordHash(ctx: StoreContext, rawAddress: string, passwordHash: string): void {
  const account = requireAccount(ctx, rawAddress);
  ctx.sql.run("UPDATE accounts SET password_hash = ? WHERE id = ?", checkPasswordHash(passwordHash), account.id);
}

export function setQuota(ctx: StoreContext, rawAddress: string, quotaBytes: number | null): void {
  const account = requireAccount(ctx, rawAddress);
  ctx.sql.run("UPDATE accounts SET quota_bytes = ? WHERE id = ?", checkQuota(quotaBytes), account.id);
  rearmQuotaWarning(ctx, account.id);
}

/** AccountStore.setQuotaLimits: each given limit set (null: the default, 0: unlimited), the others kept. */
export function setQuotaLimits(ctx: StoreContext, rawAddress: string, limits: QuotaLimits): Account {
  const account = requireAccount(ctx, rawAddress);
  if (limits.storageBytes !== undefined) ctx.sql.run("UPDATE accounts SET quota_bytes = ? WHERE id = ?", checkQuota(limits.storageBytes), account.id);
  if (limits.messages !== undefined) ctx.sql.run("UPDATE accounts SET quota_messages = ? WHERE id = ?", checkQuota(limits.messages), account.id);
  rearmQuotaWarning(ctx, account.id);
  return getAccount(ctx, account.id)!;
}

/** The warning is sent again once usage, now below the threshold (a raised limit, freed space), crosses it again. */
export function rearmQuotaWarning(ctx: StoreContext, accountId: AccountId): void {
  ctx.sql.run(`UPDATE accounts SET quota_warned = 0 WHERE id = ? AND quota_warned = 1 AND NOT ${quotaSql(ctx.quota).atWarning}`, accountId);
}

/**
 * AccountStore.claimQuotaWarning: marks the warning sent when usage is at or past the threshold
 * and it was not sent yet; the account only if this call claimed it (so one caller sends it).
 */
export function claimQuotaWarning(ctx: StoreContext, accountId: AccountId): Account | null {
  const claimed = ctx.sql.run(`UPDATE accounts SET quota_warned = 1 WHERE id = ? AND quota_warned = 0 AND ${quotaSql(ctx.quota).atWarning}`, accountId);
  return claimed.changes > 0 ? getAccount(ctx, accountId) : null;
}

export function setPop3Policy(ctx: StoreContext, rawAddress: string, change: Partial<Pop3Policy>): Account {
  const account = requireAccount(ctx, rawAddress);
  const pop3 = mergePop3Policy(account.pop3, change);
  ctx.sql.run(
    "UPDATE accounts SET pop3_mode = ?, pop3_mark_seen = ?, pop3_login_delay = ?, pop3_expire_days = ? WHERE id = ?",
    pop3.mode,
    pop3.markSeen ? 1 : 0,
    pop3.loginDelaySeconds,
    pop3.expireDays,
    account.id,
  );
  return getAccount(ctx, account.id)!;
}

/** Deletes the account's mailboxes (children first), messages, subscriptions and alias targets. */
export function deleteAccountInTransaction(ctx: StoreContext, unit: UnitOfWork, rawAddress: string): void {
  const account = requireAccount(ctx, rawAddress);
  const mailboxes = listMailboxes(ctx, account.id).sort((a, b) => b.name.length - a.name.length);
  for (const mailbox of mailboxes) removeMailbox(ctx, unit, mailbox);
  ctx.sql.run("DELETE FROM subscriptions WHERE account_id = ?", account.id);
  removeAliasTarget(ctx, account.address.toLowerCase());
  ctx.sql.run("DELETE FROM accounts WHERE id = ?", account.id);
}

/** An account as it was in another store (`mailroom store copy`): its hash, quota, policy and creation time; no default mailboxes. */
export function importAccountRow(ctx: StoreContext, account: Account): AccountId {
  const address = parseAddress(account.address);
  const domainId = requireDomainId(ctx, address.domain);
  if (ctx.sql.get("SELECT 1 FROM accounts WHERE address_key = ?", address.key)) throw new StoreError("ALREADYEXISTS", `account ${address.address} already exists`);
  const row = ctx.sql.get<{ id: number }>(
    `INSERT INTO accounts (domain_id, address, address_key, password_hash, quota_bytes, quota_messages, pop3_mode, pop3_mark_seen, pop3_login_delay, pop3_expire_days, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    domainId,
    address.address,
    address.key,
    checkPasswordHash(account.passwordHash),
    // The account's own limits, not the source's configured defaults applied to them (store/quota.ts).
    checkQuota(account.quotaSetting ? account.quotaSetting.storageBytes : account.quotaBytes),
    checkQuota(account.quotaSetting?.messages ?? null),
    account.pop3.mode,
    account.pop3.markSeen ? 1 : 0,
    account.pop3.loginDelaySeconds,
    account.pop3.expireDays,
    account.createdAt.getTime(),
  );
  return row!.id as AccountId;
}
