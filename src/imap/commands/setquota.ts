// RFC 9208 §4.1.3 SETQUOTA (capability QUOTASET), for quota administrators only.
//   a1 SETQUOTA "bob@example.org" (STORAGE 512000 MESSAGE 50000)
//   * QUOTA "bob@example.org" (STORAGE 1200 512000 MESSAGE 37 50000)
//   a1 OK SETQUOTA completed
//
// Who is an administrator over IMAP: the accounts listed in config `imap.quota_admins` (login
// addresses; empty by default, so nobody, and QUOTASET is not advertised). Everyone else gets
// NO [NOPERM], as before. The list is read from the config only: no IMAP command can add to it.
//
// Quota roots: each account has one root (commands/quota.ts). Its owner sees it as "User quota";
// an administrator names another account's root by the account's address (and may read it with
// GETQUOTA the same way); "User quota" is the administrator's own.
//
// Semantics (RFC 9208 §4.1.3): the listed resources get the new limits and every resource not
// listed loses its limit (limits not listed are discarded), so `SETQUOTA root ()` removes all.
// STORAGE is in KiB. The store keeps 0 as "unlimited", so STORAGE 0 (nothing may be stored) is
// kept as a limit of one octet; MESSAGE 0 cannot be kept and is refused (STORAGE 0 blocks new mail
// as well). Unknown resources are refused with nothing changed. The answer is the root's QUOTA
// response with fresh usage (none when nothing is limited any more).
import type { Account, AccountStore } from "../../store/index.js";
import type { ArgumentReader } from "../protocol/arguments.js";
import { ImapParseError } from "../protocol/parse-error.js";
import { atom, list, str } from "../protocol/response-value.js";
import { ImapError, type CommandContext, type ImapCommand } from "./command.js";
import { QUOTA_ROOT, quotaList } from "./quota.js";

/** What SETQUOTA needs from the server: who may use it, and the accounts ([imap] quota_admins). */
export interface QuotaAdministration {
  /** Login addresses allowed to SETQUOTA, lower-cased; empty: nobody (QUOTASET not advertised). */
  readonly admins: ReadonlySet<string>;
  readonly accounts: Pick<AccountStore, "findAccountByAddress" | "setQuotaLimits">;
}

export const RESOURCES = ["STORAGE", "MESSAGE"] as const;
type Resource = (typeof RESOURCES)[number];

interface SetQuotaArgs {
  root: string;
  /** Resource (upper case) → limit as given; unknown names are kept to be refused by run. */
  limits: Map<string, bigint>;
}

/** The largest limit kept (in the unit of the resource): beyond it is "practically unlimited" anyway. */
const MAX_LIMIT = BigInt(Number.MAX_SAFE_INTEGER);

export function isQuotaAdmin(ctx: CommandContext, admin: QuotaAdministration | null): boolean {
  return admin !== null && admin.admins.has(ctx.requireAccount().address.toLowerCase());
}

/** The account a root names for this caller, or null when the caller may not see it or it does not exist. */
export async function accountOfRoot(ctx: CommandContext, admin: QuotaAdministration | null, root: string, own: Account): Promise<Account | null> {
  if (root === QUOTA_ROOT) return own;
  if (!isQuotaAdmin(ctx, admin) || !root.includes("@")) return null;
  return admin!.accounts.findAccountByAddress(root.toLowerCase());
}

function parseSetQuota(args: ArgumentReader): SetQuotaArgs {
  const root = args.astring();
  args.space();
  const limits = new Map<string, bigint>();
  // setquota_list = "(" [setquota_resource *(SP setquota_resource)] ")"; setquota_resource = atom SP number64
  args.list(() => {
    const resource = args.atom().toUpperCase();
    if (limits.has(resource)) throw new ImapParseError(`${resource.slice(0, 40)} given twice`);
    args.space();
    limits.set(resource, args.number64());
  }, true);
  args.end();
  return { root, limits };
}

async function runSetQuota(ctx: CommandContext, { root, limits }: SetQuotaArgs): Promise<void> {
  const admin = ctx.quotaAdmin;
  if (!isQuotaAdmin(ctx, admin)) throw ImapError.no("NOPERM", "quotas are set by the administrator (mailroom user quota)");
  const own = ctx.requireAccount();
  const account = await accountOfRoot(ctx, admin, root, own);
  if (account === null) throw ImapError.no("NONEXISTENT", "no such quota root");
  for (const resource of limits.keys()) {
    if (!(RESOURCES as readonly string[]).includes(resource)) throw ImapError.no(null, `unsupported quota resource ${resource.slice(0, 40)}; this server has STORAGE and MESSAGE`);
  }
  const given = (resource: Resource): bigint | null => limits.get(resource) ?? null;
  const storage = given("STORAGE");
  const messages = given("MESSAGE");
  if (messages === 0n) throw ImapError.no("CANNOT", "a MESSAGE limit of 0 cannot be kept; set STORAGE 0 to refuse new mail");
  const clamp = (value: bigint): number => Number(value > MAX_LIMIT ? MAX_LIMIT : value);
  // Not listed: the limit is discarded (0 is "unlimited" in the store). STORAGE 0: one octet.
  const storageBytes = storage === null ? 0 : storage === 0n ? 1 : Math.min(clamp(storage) * 1024, Number.MAX_SAFE_INTEGER);
  const updated = await admin!.accounts.setQuotaLimits(account.address, { storageBytes, messages: messages === null ? 0 : clamp(messages) });
  ctx.log.info("imap.setquota", { admin: own.address, account: updated.address, storageBytes, messages: messages === null ? 0 : clamp(messages) });
  const fresh = (await ctx.quota?.account(updated.id)) ?? updated;
  const resources = quotaList(fresh);
  if (resources !== null) await ctx.untagged(atom("QUOTA"), str(root), list(resources));
}

export const setQuotaCommand: ImapCommand<SetQuotaArgs> = {
  names: ["SETQUOTA"],
  uid: false,
  states: ["authenticated", "selected"],
  sequenceUse: "none",
  parse: parseSetQuota,
  run: runSetQuota,
};
