// Browser sessions and API tokens of the admin API, the admin pages and the account page
// (docs/architecture.md, "Admin API and pages"). The rules, in one place:
// - a session is a random 256-bit cookie value, stored only as its SHA-256 (store/web-auth-store.ts);
//   the cookie is HttpOnly, Secure and SameSite=Strict, with an idle and an absolute lifetime;
// - every state-changing request made with a session cookie must carry the session's CSRF token in
//   X-CSRF-Token (the synchronizer-token pattern; SameSite=Strict is the second line), and an
//   Origin header, when the browser sends one, must be this server's;
// - API tokens ("Authorization: Bearer mrt_..."), for scripts, need no CSRF token: a browser never
//   sends them on its own;
// - these routes answer over HTTPS only, or plain HTTP from a loopback peer (a reverse proxy on the
//   same host, or an SSH tunnel); the connection's peer decides, X-Forwarded-* only from trusted proxies.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { WebAuthStore, WebSession } from "../store/index.js";
import { isLoopbackAddress } from "./client-settings.js";

export const ADMIN_COOKIE = "mailroom_admin";
export const ACCOUNT_COOKIE = "mailroom_account";
/** API tokens start with this, so a leaked one is recognisable (and secret scanners can match it). */
export const TOKEN_PREFIX = "mrt_";

export interface SessionSettings {
  idleMs: number;
  maxMs: number;
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export function randomSecret(): string {
  return randomBytes(32).toString("base64url");
}

/** Cookies of the request by name (RFC 6265 §5.4 shape: "a=b; c=d"); the first of a name wins. */
export function readCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? "").slice(0, 8192).split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (name !== "" && !out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

export function sessionCookie(name: string, value: string, path: string, maxAgeSeconds: number): string {
  return `${name}=${value}; Path=${path}; Max-Age=${maxAgeSeconds}; HttpOnly; Secure; SameSite=Strict`;
}

export function clearedCookie(name: string, path: string): string {
  return `${name}=; Path=${path}; Max-Age=0; HttpOnly; Secure; SameSite=Strict`;
}

/**
 * Whether the request may use these routes at all: HTTPS, or plain HTTP from loopback. Behind a
 * trusted proxy (http.trusted_proxies) its X-Forwarded-Proto and -For decide: a remote client
 * the proxy reached over plain HTTP is refused like a direct one.
 */
export function isSecureEnough(request: FastifyRequest): boolean {
  return request.protocol === "https" || isLoopbackAddress(request.ip);
}

const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export function isStateChanging(request: FastifyRequest): boolean {
  return STATE_CHANGING.has(request.method);
}

/** An Origin that is not this server's (scheme-less compare of host[:port]); absent is allowed. */
export function crossOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  if (origin === "null") return true;
  try {
    return new URL(origin).host.toLowerCase() !== String(request.headers.host ?? "").toLowerCase();
  } catch {
    return true;
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export type Caller = { via: "session"; session: WebSession } | { via: "token"; admin: string; tokenId: number };

/** Sessions of one kind (admin or account), over the store. */
export class SessionKeeper {
  constructor(
    private readonly store: WebAuthStore,
    private readonly kind: WebSession["kind"],
    private readonly cookie: string,
    private readonly path: string,
    private readonly settings: SessionSettings,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Starts a session for `subject`: sets the cookie, returns the CSRF token. */
  async start(reply: FastifyReply, subject: string): Promise<string> {
    const value = randomSecret();
    const csrfToken = randomSecret();
    const now = this.clock();
    await this.store.createWebSession({ idHash: sha256(value), kind: this.kind, subject, csrfToken, createdAt: now, expiresAt: new Date(now.getTime() + this.settings.idleMs) });
    // Opportunistic cleanup: each sign-in removes what has expired, so the table stays small.
    void this.store.pruneWebSessions(now).catch(() => undefined);
    void reply.header("set-cookie", sessionCookie(this.cookie, value, this.path, Math.ceil(this.settings.maxMs / 1000)));
    return csrfToken;
  }

  /** The live session of the request (extending its idle time), or null. */
  async current(request: FastifyRequest): Promise<WebSession | null> {
    const value = readCookies(request.headers.cookie).get(this.cookie);
    if (value === undefined || value.length === 0 || value.length > 100) return null;
    const idHash = sha256(value);
    const now = this.clock();
    const session = await this.store.findWebSession(idHash, now);
    if (session === null || session.kind !== this.kind) return null;
    if (now.getTime() - session.createdAt.getTime() >= this.settings.maxMs) {
      await this.store.deleteWebSession(idHash);
      return null;
    }
    // Extended at most once a minute, so reading pages does not write on every request.
    const expiresAt = Math.min(now.getTime() + this.settings.idleMs, session.createdAt.getTime() + this.settings.maxMs);
    if (expiresAt - session.expiresAt.getTime() > 60_000) await this.store.extendWebSession(idHash, new Date(expiresAt));
    return session;
  }

  async end(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const value = readCookies(request.headers.cookie).get(this.cookie);
    if (value !== undefined && value.length > 0 && value.length <= 100) await this.store.deleteWebSession(sha256(value));
    void reply.header("set-cookie", clearedCookie(this.cookie, this.path));
  }

  /** Whether a state-changing request carries the session's CSRF token and no foreign Origin. */
  csrfOk(request: FastifyRequest, session: WebSession): boolean {
    if (crossOrigin(request)) return false;
    const given = request.headers["x-csrf-token"];
    return typeof given === "string" && sameSecret(given, session.csrfToken);
  }
}

/** The admin an API token acts as, or null (unknown, expired, or not a token at all). */
export async function tokenCaller(store: WebAuthStore, header: string | undefined, now: Date): Promise<{ admin: string; tokenId: number } | null> {
  const match = /^Bearer\s+(mrt_[A-Za-z0-9_-]{20,100})$/.exec(header ?? "");
  if (match === null) return null;
  const token = await store.findApiToken(sha256(match[1]!));
  if (token === null || (token.expiresAt !== null && token.expiresAt <= now)) return null;
  // The last use is kept to the minute: a script polling every second does not write every second.
  if (token.lastUsedAt === null || now.getTime() - token.lastUsedAt.getTime() > 60_000) await store.markApiTokenUsed(token.id, now);
  return { admin: token.admin, tokenId: token.id };
}
