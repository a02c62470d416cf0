// RFC 9208 quota of a shared mailbox: the owner's (messages put into it count against the owner,
// store/quota.ts), so its quota root is the owner's, named `Shared/<owner address>` to keep it
// apart from the user's own "User quota". GETQUOTA of that root is answered to users who hold a
// right on some mailbox of the owner, nobody else.
import type { Account } from "../../store/index.js";
import { atom, list, str } from "../protocol/response-value.js";
import { ImapError, type CommandContext } from "../commands/command.js";
import { quotaList } from "../commands/quota.js";
import { ANY_RIGHT_TO_ASK, findMailboxAccess, parseSharedName, requireAnyRight, SHARED_PREFIX } from "./mailbox-access.js";

/** The quota root name of an owner's mailboxes as other users see it. */
export const sharedQuotaRoot = (ownerAddress: string): string => `${SHARED_PREFIX}/${ownerAddress}`;

async function ownerAccount(ctx: CommandContext, accountId: Account["id"]): Promise<Account | null> {
  return (await ctx.quota?.account(accountId)) ?? null;
}

/** GETQUOTAROOT of a name in the shared namespace; false when the name is a personal one. */
export async function sharedQuotaRootResponses(ctx: CommandContext, name: string): Promise<boolean> {
  if (parseSharedName(name) === null) return false;
  const access = await findMailboxAccess(ctx, name);
  if (access === null || access.ownerAddress === null) throw ImapError.no("NONEXISTENT", "no such mailbox");
  // As MYRIGHTS (RFC 4314 §4): "s", "w", "t" or "e" alone do not let the user ask about the mailbox.
  requireAnyRight(access.rights, ANY_RIGHT_TO_ASK);
  const owner = await ownerAccount(ctx, access.mailbox.accountId);
  const resources = owner === null ? null : quotaList(owner);
  const mailbox = str(ctx.encodeMailbox(access.name));
  if (resources === null) {
    await ctx.untagged(atom("QUOTAROOT"), mailbox);
    return true;
  }
  const root = sharedQuotaRoot(access.ownerAddress);
  await ctx.untagged(atom("QUOTAROOT"), mailbox, str(root));
  await ctx.untagged(atom("QUOTA"), str(root), list(resources));
  return true;
}

/** GETQUOTA of an owner's root; false when the root is not a shared one. */
export async function sharedQuotaResponses(ctx: CommandContext, root: string): Promise<boolean> {
  if (!root.startsWith(`${SHARED_PREFIX}/`)) return false;
  const address = root.slice(SHARED_PREFIX.length + 1).toLowerCase();
  const shared = (await ctx.store.listSharedMailboxes(ctx.requireAccount().id)).find((s) => s.ownerAddress.toLowerCase() === address);
  const owner = shared === undefined ? null : await ownerAccount(ctx, shared.mailbox.accountId);
  const resources = owner === null ? null : quotaList(owner);
  if (resources === null) throw ImapError.no("NONEXISTENT", "no such quota root");
  await ctx.untagged(atom("QUOTA"), str(root), list(resources));
  return true;
}
