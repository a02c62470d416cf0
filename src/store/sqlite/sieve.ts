// SieveStore over SQLite (migration 13): sieve_scripts (one row per script, one active at most,
// enforced by a partial unique index) and sieve_vacation (last reply per account, handle, sender);
// migration 14: sieve_duplicates (RFC 7352 unique IDs per account until their expiry).
import { StoreError } from "../errors.js";
import type { SieveDuplicateEntry, SieveScript, SieveScriptInfo } from "../sieve-store.js";
import type { AccountId } from "../types.js";
import type { StoreContext } from "./store-context.js";

interface ScriptRow {
  name: string;
  content: string;
  active: number;
  updated_at: number;
}

const toScript = (row: ScriptRow): SieveScript => ({
  name: row.name,
  content: row.content,
  active: row.active === 1,
  size: Buffer.byteLength(row.content, "utf8"),
  updatedAt: new Date(row.updated_at),
});

function requireAccount(ctx: StoreContext, accountId: AccountId): void {
  if (!ctx.sql.get("SELECT 1 FROM accounts WHERE id = ?", accountId)) throw new StoreError("NONEXISTENT", `no account ${accountId}`);
}

export function listScripts(ctx: StoreContext, accountId: AccountId): SieveScriptInfo[] {
  return ctx.sql
    .all<ScriptRow>("SELECT name, content, active, updated_at FROM sieve_scripts WHERE account_id = ? ORDER BY name", accountId)
    .map((r) => ({ name: r.name, active: r.active === 1, size: Buffer.byteLength(r.content, "utf8") }));
}

export function getScript(ctx: StoreContext, accountId: AccountId, name: string): SieveScript | null {
  const row = ctx.sql.get<ScriptRow>("SELECT name, content, active, updated_at FROM sieve_scripts WHERE account_id = ? AND name = ?", accountId, name);
  return row ? toScript(row) : null;
}

export function getActiveScript(ctx: StoreContext, accountId: AccountId): SieveScript | null {
  const row = ctx.sql.get<ScriptRow>("SELECT name, content, active, updated_at FROM sieve_scripts WHERE account_id = ? AND active = 1", accountId);
  return row ? toScript(row) : null;
}

export function putScript(ctx: StoreContext, accountId: AccountId, name: string, content: string, maxScripts: number): void {
  requireAccount(ctx, accountId);
  if (name === "" || /[\u0000-\u001f\u007f]/.test(name)) throw new StoreError("INVALID", "invalid script name");
  const now = ctx.clock().getTime();
  const existing = ctx.sql.get("SELECT 1 FROM sieve_scripts WHERE account_id = ? AND name = ?", accountId, name);
  if (existing) {
    ctx.sql.run("UPDATE sieve_scripts SET content = ?, updated_at = ? WHERE account_id = ? AND name = ?", content, now, accountId, name);
    return;
  }
  const count = ctx.sql.get<{ n: number }>("SELECT count(*) AS n FROM sieve_scripts WHERE account_id = ?", accountId)!.n;
  if (count >= maxScripts) throw new StoreError("CANNOT", `at most ${maxScripts} scripts per account`);
  ctx.sql.run("INSERT INTO sieve_scripts (account_id, name, content, active, updated_at) VALUES (?, ?, ?, 0, ?)", accountId, name, content, now);
}

export function setActive(ctx: StoreContext, accountId: AccountId, name: string | null): void {
  if (name !== null && !ctx.sql.get("SELECT 1 FROM sieve_scripts WHERE account_id = ? AND name = ?", accountId, name)) {
    throw new StoreError("NONEXISTENT", `no script ${name}`);
  }
  ctx.sql.run("UPDATE sieve_scripts SET active = 0 WHERE account_id = ? AND active = 1", accountId);
  if (name !== null) ctx.sql.run("UPDATE sieve_scripts SET active = 1 WHERE account_id = ? AND name = ?", accountId, name);
}

export function deleteScript(ctx: StoreContext, accountId: AccountId, name: string): void {
  const row = ctx.sql.get<{ active: number }>("SELECT active FROM sieve_scripts WHERE account_id = ? AND name = ?", accountId, name);
  if (!row) throw new StoreError("NONEXISTENT", `no script ${name}`);
  if (row.active === 1) throw new StoreError("CANNOT", `script ${name} is active`);
  ctx.sql.run("DELETE FROM sieve_scripts WHERE account_id = ? AND name = ?", accountId, name);
}

export function renameScript(ctx: StoreContext, accountId: AccountId, from: string, to: string): void {
  if (!ctx.sql.get("SELECT 1 FROM sieve_scripts WHERE account_id = ? AND name = ?", accountId, from)) throw new StoreError("NONEXISTENT", `no script ${from}`);
  if (ctx.sql.get("SELECT 1 FROM sieve_scripts WHERE account_id = ? AND name = ?", accountId, to)) throw new StoreError("ALREADYEXISTS", `script ${to} exists`);
  if (to === "" || /[\u0000-\u001f\u007f]/.test(to)) throw new StoreError("INVALID", "invalid script name");
  ctx.sql.run("UPDATE sieve_scripts SET name = ? WHERE account_id = ? AND name = ?", to, accountId, from);
}

export function claimVacation(ctx: StoreContext, accountId: AccountId, handle: string, sender: string, periodSeconds: number, now: Date): boolean {
  const key = sender.toLowerCase();
  const row = ctx.sql.get<{ replied_at: number }>("SELECT replied_at FROM sieve_vacation WHERE account_id = ? AND handle = ? AND sender = ?", accountId, handle, key);
  if (row && now.getTime() - row.replied_at < periodSeconds * 1000) return false;
  ctx.sql.run(
    "INSERT INTO sieve_vacation (account_id, handle, sender, replied_at) VALUES (?, ?, ?, ?) ON CONFLICT (account_id, handle, sender) DO UPDATE SET replied_at = excluded.replied_at",
    accountId,
    handle,
    key,
    now.getTime(),
  );
  return true;
}

export function seenDuplicates(ctx: StoreContext, accountId: AccountId, keys: readonly string[], now: Date): Set<string> {
  const seen = new Set<string>();
  for (const key of new Set(keys)) {
    const row = ctx.sql.get<{ expires_at: number }>("SELECT expires_at FROM sieve_duplicates WHERE account_id = ? AND key = ?", accountId, key);
    if (row && row.expires_at > now.getTime()) seen.add(key);
  }
  return seen;
}

export function recordDuplicates(ctx: StoreContext, accountId: AccountId, entries: readonly SieveDuplicateEntry[], now: Date): void {
  const t = now.getTime();
  ctx.sql.run("DELETE FROM sieve_duplicates WHERE account_id = ? AND expires_at <= ?", accountId, t);
  for (const e of entries) {
    const expires = t + e.seconds * 1000;
    if (e.last) {
      ctx.sql.run("INSERT INTO sieve_duplicates (account_id, key, expires_at) VALUES (?, ?, ?) ON CONFLICT (account_id, key) DO UPDATE SET expires_at = excluded.expires_at", accountId, e.key, expires);
    } else {
      ctx.sql.run("INSERT INTO sieve_duplicates (account_id, key, expires_at) VALUES (?, ?, ?) ON CONFLICT (account_id, key) DO NOTHING", accountId, e.key, expires);
    }
  }
}
