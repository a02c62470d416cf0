// LIST and LSUB of the shared namespace (RFC 4314 §4, RFC 2342): the mailboxes other accounts
// share with the user on which it holds "l", under `Shared/<owner>/`, without their special-use
// attributes (the owner's Sent is not the user's), and the namespace's levels `Shared` and
// `Shared/<owner>` as \Noselect parents, as Dovecot lists its shared namespace.
import { HIERARCHY_DELIMITER, type Account, type Mailbox } from "../../store/index.js";
import type { CommandContext } from "../commands/command.js";
import { SHARED_PREFIX, sharedName } from "./mailbox-access.js";

export interface Listing {
  /** The user's own mailboxes, then the shared ones under their shared names. */
  mailboxes: Mailbox[];
  /** The shared namespace's \Noselect levels, when anything is shared with the user. */
  levels: string[];
  /** The user's rights per listed name (own mailboxes: absent, every right). */
  rights: Map<string, string>;
}

export async function listingFor(ctx: CommandContext, account: Account): Promise<Listing> {
  const mailboxes = await ctx.store.listMailboxes(account.id);
  const rights = new Map<string, string>();
  const levels = new Set<string>();
  for (const shared of await ctx.store.listSharedMailboxes(account.id)) {
    if (!shared.rights.includes("l")) continue;
    const name = sharedName(shared.ownerAddress, shared.mailbox.name);
    mailboxes.push({ ...shared.mailbox, name, specialUse: null });
    rights.set(name, shared.rights);
    levels.add(SHARED_PREFIX);
    levels.add(`${SHARED_PREFIX}${HIERARCHY_DELIMITER}${shared.ownerAddress}`);
  }
  // A shared mailbox whose parent is not shared still needs its parents to be reachable with %.
  for (const name of rights.keys()) {
    const parts = name.split(HIERARCHY_DELIMITER);
    for (let depth = 3; depth < parts.length; depth++) {
      const parent = parts.slice(0, depth).join(HIERARCHY_DELIMITER);
      if (!rights.has(parent)) levels.add(parent);
    }
  }
  return { mailboxes, levels: [...levels], rights };
}
