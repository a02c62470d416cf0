// RFC 9051 §6.3.5 DELETE. The store refuses INBOX and mailboxes with children (NO [HASCHILDREN]),
// as Dovecot does, instead of leaving a \Noselect shell. Deleting the selected mailbox deselects it.
import { ImapError, type ImapCommand } from "./command.js";

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
    const mailbox = await ctx.store.getMailbox(account.id, name);
    if (mailbox === null) throw ImapError.no("NONEXISTENT", "no such mailbox");
    const wasSelected = ctx.selected?.mailboxId === mailbox.id;
    await ctx.store.deleteMailbox(account.id, name);
    if (wasSelected) {
      ctx.session.deselect();
      await ctx.untaggedStatus("OK", "CLOSED", "selected mailbox deleted");
    }
  },
};
