// CREATE, DELETE and RENAME in the shared namespace (RFC 4314 §4): a mailbox is created below an
// existing mailbox of the owner on which the user holds "k" (a new top level of another account is
// the owner's to make), deleted with "x" on it, renamed with "x" on it and "k" on the new
// parent, always within one account. A mailbox created by another user starts with its parent's
// ACL, as Dovecot does, so that user can see and use what it created.
import { HIERARCHY_DELIMITER, type Mailbox } from "../../store/index.js";
import { ImapError, type CommandContext } from "../commands/command.js";
import { findMailboxAccess, parseSharedName, requireMailboxAccess, requireRights, sharedName, type MailboxAccess } from "./mailbox-access.js";

const parentOf = (name: string): string | null => {
  const at = name.lastIndexOf(HIERARCHY_DELIMITER);
  return at < 0 ? null : name.slice(0, at);
};

/** The owner's mailbox below which `name` (in the shared namespace) would be created, with "k" required. */
async function parentForNew(ctx: CommandContext, ownerAddress: string, name: string): Promise<MailboxAccess> {
  const parent = parentOf(name);
  if (parent === null) throw ImapError.no("NOPERM", "permission denied: only the owner creates mailboxes at the top of its namespace");
  const access = await findMailboxAccess(ctx, sharedName(ownerAddress, parent));
  if (access === null) throw ImapError.no("NONEXISTENT", "no such parent mailbox");
  requireRights(access.rights, "k");
  return access;
}

/** CREATE of a name in the shared namespace; null when the name is a personal one. */
export async function createShared(ctx: CommandContext, name: string): Promise<Mailbox | null> {
  const shared = parseSharedName(name);
  if (shared === null) return null;
  // A personal mailbox of that name (made before the namespace existed) answers as it always did.
  if ((await ctx.store.getMailbox(ctx.requireAccount().id, name)) !== null) return null;
  if (shared.kind === "level" || shared.name === "") throw ImapError.no("CANNOT", `${name.slice(0, 100)} is a level of the shared namespace`);
  const parent = await parentForNew(ctx, shared.ownerAddress, shared.name);
  const created = await ctx.store.createMailbox(parent.mailbox.accountId, shared.name);
  for (const entry of await ctx.store.getAcl(parent.mailbox.id)) await ctx.store.setAcl(created.id, entry.identifier, entry.rights);
  return created;
}

/** DELETE of a name in the shared namespace ("x"); the deleted mailbox, or null for a personal name. */
export async function deleteShared(ctx: CommandContext, name: string): Promise<Mailbox | null> {
  if (parseSharedName(name) === null) return null;
  const access = await requireMailboxAccess(ctx, name, "x");
  if (access.ownerAddress === null) return null;
  if (access.mailbox.name === "INBOX") throw ImapError.no("CANNOT", "INBOX cannot be deleted");
  await ctx.store.deleteMailbox(access.mailbox.accountId, access.mailbox.name);
  return access.mailbox;
}

/** RENAME when either name is in the shared namespace; false when both are personal. */
export async function renameShared(ctx: CommandContext, from: string, to: string): Promise<boolean> {
  const own = ctx.requireAccount().id;
  // Personal mailboxes whose names merely look shared are renamed as before.
  const source = (await ctx.store.getMailbox(own, from)) === null ? parseSharedName(from) : null;
  const target = parseSharedName(to);
  if (source === null && target === null) return false;
  if (source === null) throw ImapError.no("CANNOT", "a mailbox stays in its owner's namespace");
  const access = await requireMailboxAccess(ctx, from, "x");
  if (target === null || target.kind === "level" || target.name === "") throw ImapError.no("CANNOT", "a mailbox stays in its owner's namespace");
  if (access.ownerAddress === null || access.ownerAddress.toLowerCase() !== target.ownerAddress.toLowerCase()) throw ImapError.no("CANNOT", "a mailbox stays in its owner's namespace");
  await parentForNew(ctx, access.ownerAddress, target.name);
  await ctx.store.renameMailbox(access.mailbox.accountId, access.mailbox.name, target.name);
  return true;
}
