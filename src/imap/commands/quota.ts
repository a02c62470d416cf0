// RFC 9208 QUOTA: GETQUOTA and GETQUOTAROOT, resources STORAGE and MESSAGE (SETQUOTA: setquota.ts).
//   a1 GETQUOTAROOT INBOX   →  * QUOTAROOT INBOX "User quota"
//                              * QUOTA "User quota" (STORAGE 1024 2097152 MESSAGE 12 100000)
//   a2 GETQUOTA "User quota" → * QUOTA "User quota" (...)
// One quota root per account, named "User quota" as Dovecot names its default root (clients show
// the name; RFC 9208's examples use "" and any name is valid), covering every mailbox of the
// account: limits and usage are the account's (store/quota.ts). STORAGE is in units of 1024
// octets (RFC 9208 §5.1), rounded down as Dovecot does. Only limited resources are listed; an
// account with no limit at all has no quota root (`* QUOTAROOT INBOX` alone), as the QUOTA
// response needs at least one resource (RFC 9208 §6 quota_list).
// SETQUOTA is for administrators (RFC 9208 §4.1.3): the accounts of config imap.quota_admins
// (setquota.ts), who may also read another account's root with GETQUOTA "<address>".
import type { Account } from "../../store/index.js";
import { quotaUsage } from "../../store/index.js";
import { atom, list, num, str, type ImapValue } from "../protocol/response-value.js";
import { ImapError, type CommandContext, type ImapCommand } from "./command.js";
import { accountOfRoot } from "./setquota.js";
import { sharedQuotaResponses, sharedQuotaRootResponses } from "../acl/shared-quota.js";

export const QUOTA_ROOT = "User quota";

type QuotaArgs = { kind: "root"; root: string } | { kind: "mailbox"; mailbox: string };

/** The quota_list of a QUOTA response, or null when nothing is limited. */
export function quotaList(account: Account): ImapValue[] | null {
  const usage = quotaUsage(account);
  const items: ImapValue[] = [];
  if (usage.storage) items.push(atom("STORAGE"), num(Math.floor(usage.storage.usedBytes / 1024)), num(Math.floor(usage.storage.limitBytes / 1024)));
  if (usage.messages) items.push(atom("MESSAGE"), num(usage.messages.used), num(usage.messages.limit));
  return items.length === 0 ? null : items;
}

async function freshAccount(ctx: CommandContext): Promise<Account> {
  const account = ctx.requireAccount();
  return (await ctx.quota?.account(account.id)) ?? account;
}

export const quotaCommand: ImapCommand<QuotaArgs> = {
  names: ["GETQUOTA", "GETQUOTAROOT"],
  uid: false,
  states: ["authenticated", "selected"],
  sequenceUse: "none",
  capabilities: ["QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"],
  parse: (args, { name }) => {
    if (name === "GETQUOTAROOT") {
      const mailbox = args.mailbox();
      args.end();
      return { kind: "mailbox", mailbox };
    }
    const root = args.astring();
    args.end();
    return { kind: "root", root };
  },
  run: async (ctx, request) => {
    // A shared mailbox's quota is its owner's (acl/shared-quota.ts).
    if (request.kind === "root" ? await sharedQuotaResponses(ctx, request.root) : await sharedQuotaRootResponses(ctx, request.mailbox)) return;
    const account = await freshAccount(ctx);
    const resources = quotaList(account);
    if (request.kind === "root") {
      // A quota administrator may read another account's root by its address (setquota.ts).
      const named = await accountOfRoot(ctx, ctx.quotaAdmin, request.root, account);
      const fresh = named === null || named.id === account.id ? named : ((await ctx.quota?.account(named.id)) ?? named);
      const listed = fresh === null ? null : fresh.id === account.id ? resources : quotaList(fresh);
      if (listed === null) throw ImapError.no("NONEXISTENT", "no such quota root");
      await ctx.untagged(atom("QUOTA"), str(request.root), list(listed));
      return;
    }
    const mailbox = await ctx.store.getMailbox(account.id, request.mailbox);
    if (mailbox === null) throw ImapError.no("NONEXISTENT", "no such mailbox");
    const name = str(ctx.encodeMailbox(mailbox.name));
    if (resources === null) {
      await ctx.untagged(atom("QUOTAROOT"), name);
      return;
    }
    await ctx.untagged(atom("QUOTAROOT"), name, str(QUOTA_ROOT));
    await ctx.untagged(atom("QUOTA"), str(QUOTA_ROOT), list(resources));
  },
};
