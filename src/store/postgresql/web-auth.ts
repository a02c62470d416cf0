// WebAuthStore over PostgreSQL (migration 15): the same tables and rules as store/sqlite/web-auth.ts.
// Each operation is one statement (data-modifying CTEs where several tables change), so nodes
// sharing the database never see half of one.
import { StoreError } from "../errors.js";
import type { AccountId } from "../types.js";
import type { AdminUser, ApiToken, CredentialOwner, NewWebAuthnCredential, WebAuthnCredential, WebSession } from "../web-auth-store.js";
import { rows, type Sql } from "./database.js";

interface AdminRow {
  name: string;
  password_hash: string;
  created_at: string;
}
interface SessionRow {
  id_hash: string;
  kind: "admin" | "account";
  subject: string;
  csrf_token: string;
  created_at: string;
  expires_at: string;
}
interface TokenRow {
  id: string;
  name: string;
  admin: string;
  token_hash: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

const admin = (row: AdminRow): AdminUser => ({ name: row.name, passwordHash: row.password_hash, createdAt: new Date(Number(row.created_at)) });
const session = (row: SessionRow): WebSession => ({ idHash: row.id_hash, kind: row.kind, subject: row.subject, csrfToken: row.csrf_token, createdAt: new Date(Number(row.created_at)), expiresAt: new Date(Number(row.expires_at)) });
const token = (row: TokenRow): ApiToken => ({
  id: Number(row.id),
  name: row.name,
  admin: row.admin,
  tokenHash: row.token_hash,
  createdAt: new Date(Number(row.created_at)),
  expiresAt: row.expires_at === null ? null : new Date(Number(row.expires_at)),
  lastUsedAt: row.last_used_at === null ? null : new Date(Number(row.last_used_at)),
});

export async function addAdminUser(db: Sql, name: string, passwordHash: string, createdAt: Date): Promise<AdminUser> {
  const added = await rows<AdminRow>(db, "INSERT INTO admin_users (name, password_hash, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING name, password_hash, created_at", [name, passwordHash, createdAt.getTime()]);
  if (added.length === 0) throw new StoreError("ALREADYEXISTS", `admin ${name} already exists`);
  return admin(added[0]!);
}

export async function findAdminUser(db: Sql, name: string): Promise<AdminUser | null> {
  const found = await rows<AdminRow>(db, "SELECT name, password_hash, created_at FROM admin_users WHERE name = $1", [name]);
  return found.length === 0 ? null : admin(found[0]!);
}

export async function listAdminUsers(db: Sql): Promise<AdminUser[]> {
  return (await rows<AdminRow>(db, "SELECT name, password_hash, created_at FROM admin_users ORDER BY name")).map(admin);
}

export async function setAdminPasswordHash(db: Sql, name: string, passwordHash: string): Promise<void> {
  const result = await db.query("UPDATE admin_users SET password_hash = $2 WHERE name = $1", [name, passwordHash]);
  if (result.rowCount === 0) throw new StoreError("NONEXISTENT", `no admin ${name}`);
}

export async function deleteAdminUser(db: Sql, name: string): Promise<void> {
  const result = await db.query(
    // admin_auth and webauthn_credentials go by their foreign keys' ON DELETE CASCADE.
    `WITH s AS (DELETE FROM web_sessions WHERE kind = 'admin' AND subject = $1), t AS (DELETE FROM api_tokens WHERE admin = $1)
     DELETE FROM admin_users WHERE name = $1`,
    [name],
  );
  if (result.rowCount === 0) throw new StoreError("NONEXISTENT", `no admin ${name}`);
}

export async function createWebSession(db: Sql, s: WebSession): Promise<void> {
  await db.query("INSERT INTO web_sessions (id_hash, kind, subject, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)", [s.idHash, s.kind, s.subject, s.csrfToken, s.createdAt.getTime(), s.expiresAt.getTime()]);
}

export async function findWebSession(db: Sql, idHash: string, now: Date): Promise<WebSession | null> {
  const found = await rows<SessionRow>(db, "SELECT id_hash, kind, subject, csrf_token, created_at, expires_at FROM web_sessions WHERE id_hash = $1 AND expires_at > $2", [idHash, now.getTime()]);
  return found.length === 0 ? null : session(found[0]!);
}

export async function extendWebSession(db: Sql, idHash: string, expiresAt: Date): Promise<void> {
  await db.query("UPDATE web_sessions SET expires_at = $2 WHERE id_hash = $1", [idHash, expiresAt.getTime()]);
}

export async function deleteWebSession(db: Sql, idHash: string): Promise<void> {
  await db.query("DELETE FROM web_sessions WHERE id_hash = $1", [idHash]);
}

export async function deleteWebSessionsOf(db: Sql, kind: WebSession["kind"], subject: string): Promise<number> {
  return (await db.query("DELETE FROM web_sessions WHERE kind = $1 AND subject = $2", [kind, subject])).rowCount ?? 0;
}

export async function pruneWebSessions(db: Sql, now: Date): Promise<number> {
  return (await db.query("DELETE FROM web_sessions WHERE expires_at <= $1", [now.getTime()])).rowCount ?? 0;
}

const TOKEN_COLUMNS = "id, name, admin, token_hash, created_at, expires_at, last_used_at";

export async function addApiToken(db: Sql, t: { name: string; admin: string; tokenHash: string; createdAt: Date; expiresAt: Date | null }): Promise<ApiToken> {
  // The admin must exist: the insert selects from admin_users, and inserts nothing without it.
  const added = await rows<TokenRow>(
    db,
    `INSERT INTO api_tokens (name, admin, token_hash, created_at, expires_at)
     SELECT $1, name, $3, $4, $5 FROM admin_users WHERE name = $2
     ON CONFLICT (admin, name) DO NOTHING RETURNING ${TOKEN_COLUMNS}`,
    [t.name, t.admin, t.tokenHash, t.createdAt.getTime(), t.expiresAt === null ? null : t.expiresAt.getTime()],
  );
  if (added.length === 0) {
    if ((await findAdminUser(db, t.admin)) === null) throw new StoreError("NONEXISTENT", `no admin ${t.admin}`);
    throw new StoreError("ALREADYEXISTS", `token ${t.name} of ${t.admin} already exists`);
  }
  return token(added[0]!);
}

export async function findApiToken(db: Sql, tokenHash: string): Promise<ApiToken | null> {
  const found = await rows<TokenRow>(db, `SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1`, [tokenHash]);
  return found.length === 0 ? null : token(found[0]!);
}

export async function listApiTokens(db: Sql): Promise<ApiToken[]> {
  return (await rows<TokenRow>(db, `SELECT ${TOKEN_COLUMNS} FROM api_tokens ORDER BY admin, name`)).map(token);
}

export async function deleteApiToken(db: Sql, id: number): Promise<boolean> {
  return (await db.query("DELETE FROM api_tokens WHERE id = $1", [id])).rowCount === 1;
}

export async function markApiTokenUsed(db: Sql, id: number, at: Date): Promise<void> {
  await db.query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1", [id, at.getTime()]);
}

// Second factors (migration 19) -------------------------------------------------------------------

export async function getAdminTotp(db: Sql, name: string): Promise<string | null> {
  return (await rows<{ totp: string | null }>(db, "SELECT totp FROM admin_auth WHERE name = $1", [name]))[0]?.totp ?? null;
}

export async function setAdminTotp(db: Sql, name: string, totp: string | null, expect?: string | null): Promise<boolean> {
  // One statement: the insert selects the admin (nothing without it), and with `expect` the update
  // happens only while the stored state (a missing row counting as null) still equals it.
  const written = await rows<{ name: string }>(
    db,
    `INSERT INTO admin_auth (name, totp) SELECT name, $2 FROM admin_users WHERE name = $1
       AND ($3::boolean IS FALSE OR $4::text IS NOT DISTINCT FROM (SELECT totp FROM admin_auth WHERE name = $1))
     ON CONFLICT (name) DO UPDATE SET totp = excluded.totp
       WHERE $3::boolean IS FALSE OR admin_auth.totp IS NOT DISTINCT FROM $4::text
     RETURNING name`,
    [name, totp, expect !== undefined, expect ?? null],
  );
  if (written.length === 1) return true;
  if ((await findAdminUser(db, name)) === null) throw new StoreError("NONEXISTENT", `no admin ${name}`);
  return false;
}

interface CredentialRow {
  id: string;
  admin_name: string | null;
  account_id: string | null;
  credential_id: string;
  public_key: string;
  sign_count: string;
  transports: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

const CREDENTIAL_COLUMNS = "id, admin_name, account_id, credential_id, public_key, sign_count, transports, name, created_at, last_used_at";

const credential = (row: CredentialRow): WebAuthnCredential => ({
  id: Number(row.id),
  owner: row.admin_name !== null ? { kind: "admin", name: row.admin_name } : { kind: "account", accountId: Number(row.account_id) as AccountId },
  credentialId: row.credential_id,
  publicKey: row.public_key,
  signCount: Number(row.sign_count),
  transports: row.transports === "" ? [] : row.transports.split(","),
  name: row.name,
  createdAt: new Date(Number(row.created_at)),
  lastUsedAt: row.last_used_at === null ? null : new Date(Number(row.last_used_at)),
});

const ownerColumns = (owner: CredentialOwner): [string | null, number | null] => (owner.kind === "admin" ? [owner.name, null] : [null, owner.accountId]);

export async function addWebAuthnCredential(db: Sql, c: NewWebAuthnCredential): Promise<WebAuthnCredential> {
  const [adminName, accountId] = ownerColumns(c.owner);
  // The owner must exist: the insert happens only if it does (one of $1 and $2 is null).
  const added = await rows<CredentialRow>(
    db,
    `INSERT INTO webauthn_credentials (admin_name, account_id, credential_id, public_key, sign_count, transports, name, created_at)
     SELECT $1::text, $2::bigint, $3, $4, $5, $6, $7, $8
     WHERE EXISTS (SELECT 1 FROM admin_users WHERE name = $1::text) OR EXISTS (SELECT 1 FROM accounts WHERE id = $2::bigint)
     ON CONFLICT DO NOTHING RETURNING ${CREDENTIAL_COLUMNS}`,
    [adminName, accountId, c.credentialId, c.publicKey, c.signCount, c.transports.join(","), c.name, c.createdAt.getTime()],
  );
  if (added.length === 0) {
    const owner = adminName !== null ? await rows(db, "SELECT 1 FROM admin_users WHERE name = $1", [adminName]) : await rows(db, "SELECT 1 FROM accounts WHERE id = $1", [accountId]);
    if (owner.length === 0) throw new StoreError("NONEXISTENT", "no such owner for the credential");
    throw new StoreError("ALREADYEXISTS", "that credential is registered already, or the name is taken");
  }
  return credential(added[0]!);
}

export async function listWebAuthnCredentials(db: Sql, owner: CredentialOwner): Promise<WebAuthnCredential[]> {
  const sql = owner.kind === "admin" ? `SELECT ${CREDENTIAL_COLUMNS} FROM webauthn_credentials WHERE admin_name = $1 ORDER BY id` : `SELECT ${CREDENTIAL_COLUMNS} FROM webauthn_credentials WHERE account_id = $1 ORDER BY id`;
  return (await rows<CredentialRow>(db, sql, [owner.kind === "admin" ? owner.name : owner.accountId])).map(credential);
}

export async function findWebAuthnCredential(db: Sql, credentialId: string): Promise<WebAuthnCredential | null> {
  const found = await rows<CredentialRow>(db, `SELECT ${CREDENTIAL_COLUMNS} FROM webauthn_credentials WHERE credential_id = $1`, [credentialId]);
  return found.length === 0 ? null : credential(found[0]!);
}

export async function useWebAuthnCredential(db: Sql, id: number, expectedSignCount: number, signCount: number, at: Date): Promise<boolean> {
  return (await db.query("UPDATE webauthn_credentials SET sign_count = $3, last_used_at = $4 WHERE id = $1 AND sign_count = $2", [id, expectedSignCount, signCount, at.getTime()])).rowCount === 1;
}

export async function deleteWebAuthnCredential(db: Sql, owner: CredentialOwner, id: number): Promise<boolean> {
  const sql = owner.kind === "admin" ? "DELETE FROM webauthn_credentials WHERE id = $1 AND admin_name = $2" : "DELETE FROM webauthn_credentials WHERE id = $1 AND account_id = $2";
  return (await db.query(sql, [id, owner.kind === "admin" ? owner.name : owner.accountId])).rowCount === 1;
}
