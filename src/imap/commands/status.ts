// RFC 9051 §6.3.11 STATUS (with RFC 8438 SIZE and RFC 7162 HIGHESTMODSEQ).
import { atom, list, str } from "../protocol/response-value.js";
import type { ImapCommand } from "./command.js";
import { requireMailboxAccess } from "../acl/mailbox-access.js";
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
    // RFC 4314 §4: STATUS needs "r".
    const access = await requireMailboxAccess(ctx, name, "r");
    const mailbox = access.mailbox;
    const status = await ctx.store.mailboxStatus(mailbox.id);
    const recent = items.includes("RECENT") && !ctx.rev2 ? await ctx.store.countRecent(mailbox.id) : 0;
    await ctx.untagged(atom("STATUS"), str(ctx.encodeMailbox(access.name)), list(statusValues(status, items, recent, mailbox)));
  },
};
