// WebAuthStore over SQLite (migration 30): admin_users, web_sessions and api_tokens.
import { StoreError } from "../errors.js";
import type { AdminUser, ApiToken, WebSession } from "../web-auth-store.js";
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
