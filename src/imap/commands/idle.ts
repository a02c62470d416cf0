// RFC 2177 IDLE (RFC 9051 §6.3.13): `+ idling`, then changes to the selected mailbox as they are
// committed (other sessions, SMTP delivery), until the client sends DONE.
import { ImapError, type ImapCommand } from "./command.js";

export const idleCommand: ImapCommand<null> = {
  names: ["IDLE"],
  uid: false,
  states: ["authenticated", "selected"],
  sequenceUse: "none",
  capabilities: ["IDLE"],
  parse: (args) => {
    args.end();
    return null;
  },
  run: async (ctx) => {
    if (!(await ctx.session.idle())) throw ImapError.bad(null, "IDLE ended without DONE");
  },
};
