// WebAuthStore over SQLite (migration 30): admin_users, web_sessions and api_tokens; migration 34:
// admin_auth (an admin's TOTP) and webauthn_credentials.
import { StoreError } from "../errors.js";
import type { AccountId } from "../types.js";
import type { AdminUser, ApiToken, CredentialOwner, NewWebAuthnCredential, WebAuthnCredential, WebSession } from "../web-auth-store.js";
import type { StoreContext } from "./store-context.js";

interface AdminRow {
  name: string;
  password_hash: string;
  created_at: number;
}
interface SessionRow {
  id_hash: string;
  kind: "admin" | "account";
  subject: string;
  csrf_token: string;
  created_at: number;
  expires_at: number;
}
interface TokenRow {
  id: number;
  name: string;
  admin: string;
  token_hash: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
}

const admin = (row: AdminRow): AdminUser => ({ name: row.name, passwordHash: row.password_hash, createdAt: new Date(row.created_at) });
const session = (row: SessionRow): WebSession => ({ idHash: row.id_hash, kind: row.kind, subject: row.subject, csrfToken: row.csrf_token, createdAt: new Date(row.created_at), expiresAt: new Date(row.expires_at) });
const token = (row: TokenRow): ApiToken => ({
  id: row.id,
  name: row.name,
  admin: row.admin,
  tokenHash: row.token_hash,
  createdAt: new Date(row.created_at),
  expiresAt: row.expires_at === null ? null : new Date(row.expires_at),
  lastUsedAt: row.last_used_at === null ? null : new Date(row.last_used_at),
});

export function addAdminUser(ctx: StoreContext, name: string, passwordHash: string, createdAt: Date): AdminUser {
  if (ctx.sql.get("SELECT 1 FROM admin_users WHERE name = ?", name)) throw new StoreError("ALREADYEXISTS", `admin ${name} already exists`);
  ctx.sql.run("INSERT INTO admin_users (name, password_hash, created_at) VALUES (?, ?, ?)", name, passwordHash, createdAt.getTime());
  return { name, passwordHash, createdAt };
}

export function findAdminUser(ctx: StoreContext, name: string): AdminUser | null {
  const row = ctx.sql.get<AdminRow>("SELECT name, password_hash, created_at FROM admin_users WHERE name = ?", name);
  return row ? admin(row) : null;
}

export function listAdminUsers(ctx: StoreContext): AdminUser[] {
  return ctx.sql.all<AdminRow>("SELECT name, password_hash, created_at FROM admin_users ORDER BY name").map(admin);
}

export function setAdminPasswordHash(ctx: StoreContext, name: string, passwordHash: string): void {
  if (ctx.sql.run("UPDATE admin_users SET password_hash = ? WHERE name = ?", passwordHash, name).changes === 0) throw new StoreError("NONEXISTENT", `no admin ${name}`);
}

export function deleteAdminUser(ctx: StoreContext, name: string): void {
  ctx.sql.run("DELETE FROM web_sessions WHERE kind = 'admin' AND subject = ?", name);
  ctx.sql.run("DELETE FROM api_tokens WHERE admin = ?", name);
  // Also by the foreign keys' ON DELETE CASCADE; said here so it holds whatever the pragma.
  ctx.sql.run("DELETE FROM admin_auth WHERE name = ?", name);
  ctx.sql.run("DELETE FROM webauthn_credentials WHERE admin_name = ?", name);
  if (ctx.sql.run("DELETE FROM admin_users WHERE name = ?", name).changes === 0) throw new StoreError("NONEXISTENT", `no admin ${name}`);
}

export function createWebSession(ctx: StoreContext, s: WebSession): void {
  ctx.sql.run(
    "INSERT INTO web_sessions (id_hash, kind, subject, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
    s.idHash,
    s.kind,
    s.subject,
    s.csrfToken,
    s.createdAt.getTime(),
    s.expiresAt.getTime(),
  );
}

export function findWebSession(ctx: StoreContext, idHash: string, now: Date): WebSession | null {
  const row = ctx.sql.get<SessionRow>("SELECT id_hash, kind, subject, csrf_token, created_at, expires_at FROM web_sessions WHERE id_hash = ? AND expires_at > ?", idHash, now.getTime());
  return row ? session(row) : null;
}

export function extendWebSession(ctx: StoreContext, idHash: string, expiresAt: Date): void {
  ctx.sql.run("UPDATE web_sessions SET expires_at = ? WHERE id_hash = ?", expiresAt.getTime(), idHash);
}

export function deleteWebSession(ctx: StoreContext, idHash: string): void {
  ctx.sql.run("DELETE FROM web_sessions WHERE id_hash = ?", idHash);
}

export function deleteWebSessionsOf(ctx: StoreContext, kind: WebSession["kind"], subject: string): number {
  return ctx.sql.run("DELETE FROM web_sessions WHERE kind = ? AND subject = ?", kind, subject).changes;
}

export function pruneWebSessions(ctx: StoreContext, now: Date): number {
  return ctx.sql.run("DELETE FROM web_sessions WHERE expires_at <= ?", now.getTime()).changes;
}

export function addApiToken(ctx: StoreContext, t: { name: string; admin: string; tokenHash: string; createdAt: Date; expiresAt: Date | null }): ApiToken {
  if (!ctx.sql.get("SELECT 1 FROM admin_users WHERE name = ?", t.admin)) throw new StoreError("NONEXISTENT", `no admin ${t.admin}`);
  if (ctx.sql.get("SELECT 1 FROM api_tokens WHERE admin = ? AND name = ?", t.admin, t.name)) throw new StoreError("ALREADYEXISTS", `token ${t.name} of ${t.admin} already exists`);
  const result = ctx.sql.run(
    "INSERT INTO api_tokens (name, admin, token_hash, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?, NULL)",
    t.name,
    t.admin,
    t.tokenHash,
    t.createdAt.getTime(),
    t.expiresAt === null ? null : t.expiresAt.getTime(),
  );
  return { id: Number(result.lastInsertRowid), name: t.name, admin: t.admin, tokenHash: t.tokenHash, createdAt: t.createdAt, expiresAt: t.expiresAt, lastUsedAt: null };
}

const TOKEN_COLUMNS = "id, name, admin, token_hash, created_at, expires_at, last_used_at";

export function findApiToken(ctx: StoreContext, tokenHash: string): ApiToken | null {
  const row = ctx.sql.get<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ?`, tokenHash);
  return row ? token(row) : null;
}

export function listApiTokens(ctx: StoreContext): ApiToken[] {
  return ctx.sql.all<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM api_tokens ORDER BY admin, name`).map(token);
}

export function deleteApiToken(ctx: StoreContext, id: number): boolean {
  return ctx.sql.run("DELETE FROM api_tokens WHERE id = ?", id).changes === 1;
}

export function markApiTokenUsed(ctx: StoreContext, id: number, at: Date): void {
  ctx.sql.run("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", at.getTime(), id);
}

// Second factors (migration 34) -------------------------------------------------------------------

export function getAdminTotp(ctx: StoreContext, name: string): string | null {
  return ctx.sql.get<{ totp: string | null }>("SELECT totp FROM admin_auth WHERE name = ?", name)?.totp ?? null;
}

export function setAdminTotp(ctx: StoreContext, name: string, totp: string | null, expect?: string | null): boolean {
  if (!ctx.sql.get("SELECT 1 FROM admin_users WHERE name = ?", name)) throw new StoreError("NONEXISTENT", `no admin ${name}`);
  if (expect !== undefined && getAdminTotp(ctx, name) !== expect) return false;
  ctx.sql.run("INSERT INTO admin_auth (name, totp) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET totp = excluded.totp", name, totp);
  return true;
}

interface CredentialRow {
  id: number;
  admin_name: string | null;
  account_id: number | null;
  credential_id: string;
  public_key: string;
  sign_count: number;
  transports: string;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

export const CREDENTIAL_COLUMNS = "id, admin_name, account_id, credential_id, public_key, sign_count, transports, name, created_at, last_used_at";

export function toWebAuthnCredential(row: CredentialRow): WebAuthnCredential {
  return {
    id: Number(row.id),
    owner: row.admin_name !== null ? { kind: "admin", name: row.admin_name } : { kind: "account", accountId: Number(row.account_id) as AccountId },
    credentialId: row.credential_id,
    publicKey: row.public_key,
    signCount: Number(row.sign_count),
    transports: row.transports === "" ? [] : row.transports.split(","),
    name: row.name,
    createdAt: new Date(Number(row.created_at)),
    lastUsedAt: row.last_used_at === null ? null : new Date(Number(row.last_used_at)),
  };
}

const ownerColumns = (owner: CredentialOwner): [string | null, number | null] => (owner.kind === "admin" ? [owner.name, null] : [null, owner.accountId]);

export function addWebAuthnCredential(ctx: StoreContext, c: NewWebAuthnCredential): WebAuthnCredential {
  const [adminName, accountId] = ownerColumns(c.owner);
  const exists = adminName !== null ? ctx.sql.get("SELECT 1 FROM admin_users WHERE name = ?", adminName) : ctx.sql.get("SELECT 1 FROM accounts WHERE id = ?", accountId);
  if (!exists) throw new StoreError("NONEXISTENT", "no such owner for the credential");
  if (ctx.sql.get("SELECT 1 FROM webauthn_credentials WHERE credential_id = ?", c.credentialId)) throw new StoreError("ALREADYEXISTS", "that credential is registered already");
  if (ctx.sql.get("SELECT 1 FROM webauthn_credentials WHERE name = ? AND (admin_name = ? OR account_id = ?)", c.name, adminName, accountId)) throw new StoreError("ALREADYEXISTS", `a credential named ${c.name} exists`);
  const id = ctx.sql.run(
    "INSERT INTO webauthn_credentials (admin_name, account_id, credential_id, public_key, sign_count, transports, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    adminName,
    accountId,
    c.credentialId,
    c.publicKey,
    c.signCount,
    c.transports.join(","),
    c.name,
    c.createdAt.getTime(),
  ).lastInsertRowid;
  return { id: Number(id), owner: c.owner, credentialId: c.credentialId, publicKey: c.publicKey, signCount: c.signCount, transports: [...c.transports], name: c.name, createdAt: c.createdAt, lastUsedAt: null };
}

export function listWebAuthnCredentials(ctx: StoreContext, owner: CredentialOwner): WebAuthnCredential[] {
  const rows = owner.kind === "admin" ? ctx.sql.all<CredentialRow>(`SELECT ${CREDENTIAL_COLUMNS} FROM webauthn_credentials WHERE admin_name = ? ORDER BY id`, owner.name) : ctx.sql.all<CredentialRow>(`SELECT ${CREDENTIAL_COLUMNS} FROM webauthn_credentials WHERE account_id = ? ORDER BY id`, owner.accountId);
  return rows.map(toWebAuthnCredential);
}

export function findWebAuthnCredential(ctx: StoreContext, credentialId: string): WebAuthnCredential | null {
  const row = ctx.sql.get<CredentialRow>(`SELECT ${CREDENTIAL_COLUMNS} FROM webauthn_credentials WHERE credential_id = ?`, credentialId);
  return row ? toWebAuthnCredential(row) : null;
}

export function useWebAuthnCredential(ctx: StoreContext, id: number, expectedSignCount: number, signCount: number, at: Date): boolean {
  return ctx.sql.run("UPDATE webauthn_credentials SET sign_count = ?, last_used_at = ? WHERE id = ? AND sign_count = ?", signCount, at.getTime(), id, expectedSignCount).changes === 1;
}

export function deleteWebAuthnCredential(ctx: StoreContext, owner: CredentialOwner, id: number): boolean {
  const [adminName, accountId] = ownerColumns(owner);
  const sql = adminName !== null ? "DELETE FROM webauthn_credentials WHERE id = ? AND admin_name = ?" : "DELETE FROM webauthn_credentials WHERE id = ? AND account_id = ?";
  return ctx.sql.run(sql, id, adminName ?? accountId).changes === 1;
}
