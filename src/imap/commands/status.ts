// RFC 9051 §6.3.11 STATUS (with RFC 8438 SIZE and RFC 7162 HIGHESTMODSEQ).
import { atom, list, str } from "../protocol/response-value.js";
import { ImapError, type ImapCommand } from "./command.js";
import { parseStatusItems, statusValues, type StatusItem } from "./status-items.js";

export const statusCommand: ImapCommand<{ mailbox: string; items: StatusItem[] }> = {
  names: ["STATUS"],
  uid: false,
  states: ["authenticated", "selected"],
  sequenceUse: "none",
  capabilities: ["STATUS=SIZE", "OBJECTID"],
  parse: (args) => {
    const mailbox = args.mailbox();
    args.space();
    const items = parseStatusItems(args);
    args.end();
    return { mailbox, items };
  },
  run: async (ctx, { mailbox: name, items }) => {
    const mailbox = await ctx.store.getMailbox(ctx.requireAccount().id, name);
    if (mailbox === null) throw ImapError.no("NONEXISTENT", "no such mailbox");
    const status = await ctx.store.mailboxStatus(mailbox.id);
    const recent = items.includes("RECENT") && !ctx.rev2 ? await ctx.store.countRecent(mailbox.id) : 0;
    await ctx.untagged(atom("STATUS"), str(ctx.encodeMailbox(mailbox.name)), list(statusValues(status, items, recent, mailbox)));
  },
};
