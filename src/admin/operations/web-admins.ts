// Admin accounts and API tokens of the admin API (http/admin-api.ts): `mailroom admin add` makes
// the first admin; the API and the CLI both manage them here. Admins are not mail accounts: their
// names are plain login names, their passwords argon2id like every other (auth/password-hash.ts).
import { createHash, randomBytes } from "node:crypto";
import { adminTotpSlot, confirmTotpIn, enrollTotp, totpStatusIn, type TotpEnrollment, type TotpSlot, type TotpStatus } from "../../auth/totp.js";
import type { ApiToken, WebAuthStore } from "../../store/index.js";
import { isStoreError } from "../../store/index.js";
import { AdminError } from "./validation.js";

/** What an admin or token listing shows: never a hash. */
export interface AdminView {
  name: string;
  createdAt: Date;
}

export interface TokenView {
  id: number;
  name: string;
  admin: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
}

const NAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;
const MAX_TOKEN_DAYS = 3660;

export function normaliseAdminName(input: string): string {
  const name = input.trim().toLowerCase();
  if (!NAME.test(name)) throw new AdminError("invalid-argument", "an admin name is 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit");
  return name;
}

export function createWebAdminOperations(store: WebAuthStore, checkedPasswordHash: (password: string) => Promise<string>, clock: () => Date = () => new Date(), issuer = "Mailroom") {
  /** The admin's TOTP slot (auth/totp.ts); not-found when there is no such admin. */
  const totpOf = async (name: string): Promise<{ name: string; slot: TotpSlot }> => {
    const normalised = normaliseAdminName(name);
    if ((await store.findAdminUser(normalised)) === null) throw new AdminError("not-found", `no admin ${normalised}`);
    return { name: normalised, slot: adminTotpSlot(store, normalised) };
  };
  const tokenView = (t: ApiToken): TokenView => ({ id: t.id, name: t.name, admin: t.admin, createdAt: t.createdAt, expiresAt: t.expiresAt, lastUsedAt: t.lastUsedAt });
  return {
    async addAdmin(name: string, password: string): Promise<AdminView> {
      const normalised = normaliseAdminName(name);
      const hash = await checkedPasswordHash(password);
      try {
        const added = await store.addAdminUser(normalised, hash, clock());
        return { name: added.name, createdAt: added.createdAt };
      } catch (error) {
        if (isStoreError(error, "ALREADYEXISTS")) throw new AdminError("conflict", `admin ${normalised} already exists`);
        throw error;
      }
    },
    async listAdmins(): Promise<AdminView[]> {
      return (await store.listAdminUsers()).map((a) => ({ name: a.name, createdAt: a.createdAt }));
    },
    /** A new password signs the admin's browsers out (its tokens stay). */
    async setAdminPassword(name: string, password: string): Promise<void> {
      const normalised = normaliseAdminName(name);
      const hash = await checkedPasswordHash(password);
      try {
        await store.setAdminPasswordHash(normalised, hash);
      } catch (error) {
        if (isStoreError(error, "NONEXISTENT")) throw new AdminError("not-found", `no admin ${normalised}`);
        throw error;
      }
      await store.deleteWebSessionsOf("admin", normalised);
    },
    async deleteAdmin(name: string): Promise<void> {
      const normalised = normaliseAdminName(name);
      try {
        await store.deleteAdminUser(normalised);
      } catch (error) {
        if (isStoreError(error, "NONEXISTENT")) throw new AdminError("not-found", `no admin ${normalised}`);
        throw error;
      }
    },
    /** A token for scripts, acting as `admin`; its secret is returned here once and never stored. */
    async createApiToken(admin: string, name: string, days: number): Promise<TokenView & { token: string }> {
      const owner = normaliseAdminName(admin);
      const label = name.trim();
      if (!/^[\x21-\x7e][\x20-\x7e]{0,63}$/.test(label)) throw new AdminError("invalid-argument", "a token name is 1 to 64 printable ASCII characters");
      if (!Number.isSafeInteger(days) || days < 0 || days > MAX_TOKEN_DAYS) throw new AdminError("invalid-argument", `days must be from 0 (no expiry) to ${MAX_TOKEN_DAYS}`);
      const secret = `mrt_${randomBytes(32).toString("base64url")}`;
      const now = clock();
      try {
        const token = await store.addApiToken({ name: label, admin: owner, tokenHash: createHash("sha256").update(secret).digest("hex"), createdAt: now, expiresAt: days === 0 ? null : new Date(now.getTime() + days * 86_400_000) });
        return { ...tokenView(token), token: secret };
      } catch (error) {
        if (isStoreError(error, "NONEXISTENT")) throw new AdminError("not-found", `no admin ${owner}`);
        if (isStoreError(error, "ALREADYEXISTS")) throw new AdminError("conflict", `${owner} already has a token named ${label}`);
        throw error;
      }
    },
    async listApiTokens(): Promise<TokenView[]> {
      return (await store.listApiTokens()).map(tokenView);
    },
    async deleteApiToken(id: number): Promise<void> {
      if (!(await store.deleteApiToken(id))) throw new AdminError("not-found", `no token ${id}`);
    },
    /**
     * `mailroom admin totp enable`: starts (or restarts) the admin's TOTP enrollment; the sign-in
     * asks for a code once it is confirmed. The secret and recovery codes are returned once.
     */
    async totpEnable(name: string): Promise<TotpEnrollment> {
      const admin = await totpOf(name);
      return enrollTotp(admin.slot, admin.name, issuer, clock());
    },
    async totpConfirm(name: string, code: string): Promise<boolean> {
      return confirmTotpIn((await totpOf(name)).slot, code, clock());
    },
    async totpDisable(name: string): Promise<void> {
      await (await totpOf(name)).slot.write(null);
    },
    async totpStatus(name: string): Promise<TotpStatus> {
      return totpStatusIn((await totpOf(name)).slot);
    },
  };
}

export type WebAdminOperations = ReturnType<typeof createWebAdminOperations>;
