// RFC 9051 §6.4.1 CLOSE (expunges \Deleted messages silently when read-write, then deselects) and
// RFC 3691 / RFC 9051 §6.4.2 UNSELECT (deselects without expunging).
import type { ImapCommand } from "./command.js";

export const closeCommand: ImapCommand<null> = {
  names: ["CLOSE", "UNSELECT"],
  uid: false,
  states: ["selected"],
  sequenceUse: "breaks",
  capabilities: ["UNSELECT"],
  parse: (args) => {
    args.end();
    return null;
  },
  run: async (ctx) => {
    const selected = ctx.requireSelected();
    // RFC 9051 §6.4.1: no untagged EXPUNGE is sent for what CLOSE removes.
    // RFC 4314 §4: without "e" CLOSE only deselects.
    if (ctx.name === "CLOSE" && !selected.readOnly && selected.rights.includes("e")) await ctx.store.expungeDeleted(selected.mailboxId);
    ctx.session.deselect();
  },
};
