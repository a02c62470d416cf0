// RFC 9051 §6.3.5 DELETE. The store refuses INBOX and mailboxes with children (NO [HASCHILDREN]),
// as Dovecot does, instead of leaving a \Noselect shell. Deleting the selected mailbox deselects it.
import { ImapError, type ImapCommand } from "./command.js";
import { deleteShared } from "../acl/shared-mailboxes.js";

export const deleteCommand: ImapCommand<string> = {
  names: ["DELETE"],
  uid: false,
  states: ["authenticated", "selected"],
  sequenceUse: "none",
  parse: (args) => {
    const name = args.mailbox();
    args.end();
    return name;
  },
  run: async (ctx, name) => {
    const account = ctx.requireAccount();
    if (name === "INBOX") throw ImapError.no("CANNOT", "INBOX cannot be deleted");
    const wasSelectedId = ctx.selected?.mailboxId ?? null;
    // A name in the shared namespace is deleted in its owner's account (RFC 4314 §4 "x").
    let mailbox = await deleteShared(ctx, name);
    if (mailbox === null) {
      mailbox = await ctx.store.getMailbox(account.id, name);
      if (mailbox === null) throw ImapError.no("NONEXISTENT", "no such mailbox");
      await ctx.store.deleteMailbox(account.id, name);
    }
    const wasSelected = wasSelectedId === mailbox.id;
    if (wasSelected) {
      ctx.session.deselect();
      await ctx.untaggedStatus("OK", "CLOSED", "selected mailbox deleted");
    }
  },
};
