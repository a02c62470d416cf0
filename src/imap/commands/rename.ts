// RFC 9051 §6.3.6 RENAME: children move with their parent; renaming INBOX moves its messages
// into the new mailbox and leaves INBOX empty (the store implements both).
import type { ImapCommand } from "./command.js";
import { renameShared } from "../acl/shared-mailboxes.js";

export const renameCommand: ImapCommand<{ from: string; to: string }> = {
  names: ["RENAME"],
  uid: false,
  states: ["authenticated", "selected"],
  sequenceUse: "none",
  parse: (args) => {
    const from = args.mailbox();
    args.space();
    // The new name is checked as CREATE checks one (mailbox-name.ts checkNewMailboxName).
    const to = args.newMailbox();
    args.end();
    return { from, to };
  },
  run: async (ctx, { from, to }) => {
    // Names in the shared namespace are renamed within their owner's account (RFC 4314 §4).
    if (await renameShared(ctx, from, to)) return;
    await ctx.store.renameMailbox(ctx.requireAccount().id, from, to);
  },
};
