// `mailroom share` / `share list` / `unshare`: an account's mailboxes shared with other accounts or
// with "anyone" (RFC 4314 rights, store/acl-store.ts), the same entries IMAP SETACL writes. Rights
// are RFC 4314 letters, "+"/"-" to add or take away (as SETACL), "all" for every right; an open
// IMAP session of the grantee sees the change at its next command.
import { ALL_RIGHTS, ANYONE, applyRightsChange, displayRights, isStoreError, parseRightsChange, type Account, type MailStore } from "../../store/index.js";
import { AdminError } from "./validation.js";

export type ShareStore = Pick<MailStore, "getMailbox" | "listMailboxes" | "getAcl" | "setAcl">;

/** One entry of `share list`: an owner's mailbox and one grantee's rights (as GETACL writes them). */
export interface ShareRow {
  owner: string;
  mailbox: string;
  grantee: string;
  rights: string;
}

export function createShareOperations(store: ShareStore | undefined, requireAccount: (address: string) => Promise<Account>, listAccounts: () => Promise<Account[]>) {
  const mail = (): ShareStore => {
    if (!store) throw new AdminError("refused", "sharing is not available here");
    return store;
  };
  async function mailboxOf(owner: Account, name: string) {
    const mailbox = await mail().getMailbox(owner.id, name);
    if (!mailbox) throw new AdminError("not-found", `${owner.address} has no mailbox ${name}`);
    return mailbox;
  }
  async function grant(ownerAddress: string, name: string, grantee: string, rights: string): Promise<ShareRow> {
    const owner = await requireAccount(ownerAddress);
    const mailbox = await mailboxOf(owner, name);
    const identifier = grantee.toLowerCase() === ANYONE ? ANYONE : (await requireAccount(grantee)).address;
    if (identifier.toLowerCase() === owner.address.toLowerCase()) throw new AdminError("conflict", "the owner always has every right");
    const change = rights === "all" ? { mode: "replace" as const, rights: ALL_RIGHTS } : parseRightsChange(rights);
    if (change === null) throw new AdminError("invalid-argument", `unknown right in ${rights}: the rights are ${ALL_RIGHTS} (c and d as RFC 4314 §2.1.1), or "all"`);
    const current = (await mail().getAcl(mailbox.id)).find((e) => e.identifier.toLowerCase() === identifier.toLowerCase())?.rights ?? "";
    const next = applyRightsChange(current, change);
    try {
      await mail().setAcl(mailbox.id, identifier, next);
    } catch (error) {
      if (isStoreError(error, "NONEXISTENT")) throw new AdminError("not-found", error.message);
      throw error;
    }
    return { owner: owner.address, mailbox: mailbox.name, grantee: identifier, rights: displayRights(next) };
  }
  return {
    /** Gives (or changes) a grantee's rights on the owner's mailbox; "" rights remove the entry. */
    share: grant,
    /** Removes the grantee's entry. */
    async unshare(ownerAddress: string, name: string, grantee: string): Promise<void> {
      await grant(ownerAddress, name, grantee, "");
    },
    /** Every entry of the owner's mailboxes, or of every account's without an owner. */
    async list(ownerAddress?: string): Promise<ShareRow[]> {
      const owners = ownerAddress === undefined ? await listAccounts() : [await requireAccount(ownerAddress)];
      const rows: ShareRow[] = [];
      for (const owner of owners) {
        for (const mailbox of await mail().listMailboxes(owner.id)) {
          for (const entry of await mail().getAcl(mailbox.id)) rows.push({ owner: owner.address, mailbox: mailbox.name, grantee: entry.identifier, rights: displayRights(entry.rights) });
        }
      }
      return rows;
    },
  };
}

export type ShareOperations = ReturnType<typeof createShareOperations>;
