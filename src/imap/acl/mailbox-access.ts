// Mailbox names as a user sees them, and the rights that come with them (RFC 4314 §4). The user's
// own mailboxes are in the personal namespace ("", every right). Mailboxes other accounts share
// are in the other users' namespace (RFC 2342 §5) under `Shared/<owner address>/<name>`, the
// layout of Dovecot's shared namespace (prefix/owner/folder, the owner's INBOX as
// `Shared/<owner>/INBOX`); `Shared` and `Shared/<owner>` themselves are \Noselect levels. Only a
// name whose second level is an address (it holds "@") is in the shared namespace, and a
// personal mailbox of exactly the name asked for wins: a folder the user called `Shared` (or
// `Shared/Plans`) before stays its own.
//
// What a command may do is the user's rights on the mailbox (store/acl-store.ts rightsOf). A
// mailbox on which the user holds no right, or lacks the right asked for and may not even look it
// up ("l"), is answered as if it did not exist (RFC 4314 §4: its existence is not revealed);
// otherwise a missing right is NO [NOPERM] (RFC 5530).
import { ALL_RIGHTS, hasRights, HIERARCHY_DELIMITER, type Mailbox } from "../../store/index.js";
import { ImapError, type CommandContext } from "../commands/command.js";

/** The other users' namespace prefix, without its delimiter. */
export const SHARED_PREFIX = "Shared";

export interface MailboxAccess {
  mailbox: Mailbox;
  /** Canonical RFC 4314 rights of the user. */
  rights: string;
  /** The owner's address for a mailbox of another account, null for the user's own. */
  ownerAddress: string | null;
  /** The name as the user sees it (in the shared namespace for another account's mailbox). */
  name: string;
}

/** What a name in the shared namespace points at: a mailbox of an owner, or the owner's \Noselect level. */
export type SharedName = { kind: "mailbox"; ownerAddress: string; name: string } | { kind: "level"; ownerAddress: string };

/** The parts of a name in the shared namespace (`Shared/<address>[/<name>]`), or null for a personal name. */
export function parseSharedName(name: string): SharedName | null {
  if (!name.startsWith(`${SHARED_PREFIX}${HIERARCHY_DELIMITER}`)) return null;
  const rest = name.slice(SHARED_PREFIX.length + 1);
  const slash = rest.indexOf(HIERARCHY_DELIMITER);
  const ownerAddress = slash < 0 ? rest : rest.slice(0, slash);
  if (!ownerAddress.includes("@")) return null;
  if (slash < 0) return { kind: "level", ownerAddress };
  return { kind: "mailbox", ownerAddress, name: rest.slice(slash + 1) };
}

/** The name the user sees for a mailbox of `ownerAddress`. */
export function sharedName(ownerAddress: string, name: string): string {
  return `${SHARED_PREFIX}${HIERARCHY_DELIMITER}${ownerAddress}${HIERARCHY_DELIMITER}${name}`;
}

/** The mailbox a name denotes for the logged-in user, with the user's rights; null when there is none or it may not be seen. */
export async function findMailboxAccess(ctx: CommandContext, name: string): Promise<MailboxAccess | null> {
  const account = ctx.requireAccount();
  const own = await ctx.store.getMailbox(account.id, name);
  if (own !== null) return { mailbox: own, rights: ALL_RIGHTS, ownerAddress: null, name: own.name };
  const shared = parseSharedName(name);
  if (shared === null || shared.kind === "level" || shared.name === "") return null;
  const found = await ctx.store.findSharedMailbox(account.id, shared.ownerAddress, shared.name);
  if (found === null || found.rights === "") return null;
  return { mailbox: found.mailbox, rights: found.rights, ownerAddress: found.ownerAddress, name: sharedName(found.ownerAddress, found.mailbox.name) };
}

/** findMailboxAccess, refused as RFC 4314 §4 asks when the user lacks `needed` ("" needs any right). */
export async function requireMailboxAccess(ctx: CommandContext, name: string, needed: string, nonexistent: { code: string; text: string } = { code: "NONEXISTENT", text: "no such mailbox" }): Promise<MailboxAccess> {
  const access = await findMailboxAccess(ctx, name);
  if (access === null) throw ImapError.no(nonexistent.code, nonexistent.text);
  requireRights(access.rights, needed, nonexistent);
  return access;
}

/** RFC 4314 §4: MYRIGHTS needs any one of these rights (GETQUOTAROOT of a shared mailbox likewise, shared-quota.ts). */
export const ANY_RIGHT_TO_ASK = "lrikxa";

/** NO [NONEXISTENT] when `rights` hold none of `any`; without "l" (which `any` holds) the mailbox is not revealed. */
export function requireAnyRight(rights: string, any: string): void {
  if (![...any].some((r) => rights.includes(r))) throw ImapError.no("NONEXISTENT", "no such mailbox");
}

/** NO [NOPERM] when `rights` lack one of `needed`; without "l" the mailbox is answered as missing instead. */
export function requireRights(rights: string, needed: string, nonexistent: { code: string; text: string } = { code: "NONEXISTENT", text: "no such mailbox" }): void {
  if (hasRights(rights, needed)) return;
  if (!rights.includes("l")) throw ImapError.no(nonexistent.code, nonexistent.text);
  throw ImapError.no("NOPERM", `permission denied: the "${[...needed].filter((r) => !rights.includes(r)).join("")}" right is needed`);
}
