// AuthStateStore (store/auth-store.ts) over SQLite: tables account_auth and app_passwords
// (migration 31). Both go with their account (ON DELETE CASCADE).
import { EMPTY_ACCOUNT_AUTH, type AccountAuthState, type AppPassword, type NewAppPassword } from "../auth-store.js";
import { StoreError } from "../errors.js";
import type { AccountId } from "../types.js";
import type { StoreContext } from "./store-context.js";

interface AuthRow {
  scram_salt: string | null;
  scram_iterations: number | null;
  scram_keys: string | null;
  scram_hash_tag: string | null;
  app_passwords_only: number;
  totp: string | null;
  lockout_notice_at: number | null;
}

interface AppPasswordRow {
  id: number;
  account_id: number;
  name: string;
  protocols: string;
  secret_hash: string;
  scram_keys: string | null;
  created_at: number;
  last_used_at: number | null;
  last_used_address: string | null;
}

const COLUMNS: Record<keyof AccountAuthState, keyof AuthRow> = {
  scramSalt: "scram_salt",
  scramIterations: "scram_iterations",
  scramKeys: "scram_keys",
  scramHashTag: "scram_hash_tag",
  appPasswordsOnly: "app_passwords_only",
  totp: "totp",
  lockoutNoticeAt: "lockout_notice_at",
};

const APP_COLUMNS = "id, account_id, name, protocols, secret_hash, scram_keys, created_at, last_used_at, last_used_address";

export function toAppPassword(row: AppPasswordRow): AppPassword {
  return {
    id: Number(row.id),
    accountId: Number(row.account_id) as AccountId,
    name: row.name,
    protocols: row.protocols === "" ? [] : row.protocols.split(","),
    secretHash: row.secret_hash,
    scramKeys: row.scram_keys,
    createdAt: new Date(Number(row.created_at)),
    lastUsedAt: row.last_used_at === null ? null : new Date(Number(row.last_used_at)),
    lastUsedAddress: row.last_used_address,
  };
}

export function toAccountAuth(row: AuthRow | undefined): AccountAuthState {
  if (!row) return { ...EMPTY_ACCOUNT_AUTH };
  return {
    scramSalt: row.scram_salt,
    scramIterations: row.scram_iterations === null ? null : Number(row.scram_iterations),
    scramKeys: row.scram_keys,
    scramHashTag: row.scram_hash_tag,
    appPasswordsOnly: Boolean(row.app_passwords_only),
    totp: row.totp,
    lockoutNoticeAt: row.lockout_notice_at === null ? null : Number(row.lockout_notice_at),
  };
}

/** The value a field is stored as. */
export function authColumnValue(key: keyof AccountAuthState, value: unknown): string | number | null {
  if (key === "appPasswordsOnly") return value ? 1 : 0;
  if (value === null || value === undefined) return null;
  if (key === "scramIterations" || key === "lockoutNoticeAt") {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw new StoreError("INVALID", `invalid ${key}`);
    return value;
  }
  if (typeof value !== "string") throw new StoreError("INVALID", `invalid ${key}`);
  return value;
}

export function checkNewAppPassword(input: NewAppPassword): void {
  if (typeof input.name !== "string" || input.name.length === 0 || input.name.length > 64) throw new StoreError("INVALID", "an app password name has 1 to 64 characters");
  if (!Array.isArray(input.protocols) || input.protocols.some((p) => typeof p !== "string" || !/^[a-z0-9-]+$/.test(p))) throw new StoreError("INVALID", "invalid protocol list");
  if (typeof input.secretHash !== "string" || !/^[0-9a-f]{64}$/.test(input.secretHash)) throw new StoreError("INVALID", "invalid app password hash");
}

function requireAccountRow(ctx: StoreContext, accountId: AccountId): void {
  if (!ctx.sql.get("SELECT 1 FROM accounts WHERE id = ?", accountId)) throw new StoreError("NONEXISTENT", `no account ${accountId}`);
}

export function getAccountAuth(ctx: StoreContext, accountId: AccountId): AccountAuthState {
  return toAccountAuth(ctx.sql.get<AuthRow>("SELECT * FROM account_auth WHERE account_id = ?", accountId));
}

export function updateAccountAuth(ctx: StoreContext, accountId: AccountId, change: Partial<AccountAuthState>, expectTotp?: string | null): boolean {
  requireAccountRow(ctx, accountId);
  if (expectTotp !== undefined && getAccountAuth(ctx, accountId).totp !== expectTotp) return false;
  ctx.sql.run("INSERT OR IGNORE INTO account_auth (account_id) VALUES (?)", accountId);
  for (const [key, value] of Object.entries(change) as [keyof AccountAuthState, unknown][]) {
    const column = COLUMNS[key];
    if (column === undefined) continue;
    ctx.sql.run(`UPDATE account_auth SET ${column} = ? WHERE account_id = ?`, authColumnValue(key, value), accountId);
  }
  return true;
}

export function ensureScramParams(ctx: StoreContext, accountId: AccountId, salt: string, iterations: number): { salt: string; iterations: number } {
  requireAccountRow(ctx, accountId);
  ctx.sql.run("INSERT OR IGNORE INTO account_auth (account_id) VALUES (?)", accountId);
  ctx.sql.run("UPDATE account_auth SET scram_salt = ?, scram_iterations = ? WHERE account_id = ? AND scram_salt IS NULL", salt, authColumnValue("scramIterations", iterations), accountId);
  const row = ctx.sql.get<{ scram_salt: string; scram_iterations: number }>("SELECT scram_salt, scram_iterations FROM account_auth WHERE account_id = ?", accountId)!;
  return { salt: row.scram_salt, iterations: Number(row.scram_iterations) };
}

export function addAppPassword(ctx: StoreContext, accountId: AccountId, input: NewAppPassword): AppPassword {
  checkNewAppPassword(input);
  requireAccountRow(ctx, accountId);
  if (ctx.sql.get("SELECT 1 FROM app_passwords WHERE account_id = ? AND name = ?", accountId, input.name)) throw new StoreError("ALREADYEXISTS", `an app password named ${input.name} exists`);
  const row = ctx.sql.get<AppPasswordRow>(
    `INSERT INTO app_passwords (account_id, name, protocols, secret_hash, scram_keys, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING ${APP_COLUMNS}`,
    accountId,
    input.name,
    input.protocols.join(","),
    input.secretHash,
    input.scramKeys,
    (input.createdAt ?? ctx.clock()).getTime(),
  );
  return toAppPassword(row!);
}

export function listAppPasswords(ctx: StoreContext, accountId: AccountId): AppPassword[] {
  return ctx.sql.all<AppPasswordRow>(`SELECT ${APP_COLUMNS} FROM app_passwords WHERE account_id = ? ORDER BY name`, accountId).map(toAppPassword);
}

export function deleteAppPassword(ctx: StoreContext, accountId: AccountId, name: string): AppPassword | null {
  const row = ctx.sql.get<AppPasswordRow>(`DELETE FROM app_passwords WHERE account_id = ? AND name = ? RETURNING ${APP_COLUMNS}`, accountId, name);
  return row ? toAppPassword(row) : null;
}

export function findAppPasswordBySecret(ctx: StoreContext, secretHash: string): AppPassword | null {
  const row = ctx.sql.get<AppPasswordRow>(`SELECT ${APP_COLUMNS} FROM app_passwords WHERE secret_hash = ?`, secretHash);
  return row ? toAppPassword(row) : null;
}

export function noteAppPasswordUse(ctx: StoreContext, id: number, at: Date, address: string): void {
  ctx.sql.run("UPDATE app_passwords SET last_used_at = ?, last_used_address = ? WHERE id = ?", at.getTime(), address.slice(0, 100), id);
}

export function scramIterationCounts(ctx: StoreContext): { iterations: number; accounts: number }[] {
  return ctx.sql
    .all<{ iterations: number; accounts: number }>("SELECT scram_iterations AS iterations, count(*) AS accounts FROM account_auth WHERE scram_salt IS NOT NULL AND scram_iterations IS NOT NULL GROUP BY scram_iterations ORDER BY accounts DESC, iterations")
    .map((r) => ({ iterations: Number(r.iterations), accounts: Number(r.accounts) }));
}
