// RFC 9051 §6.2.1 STARTTLS: the session writes the tagged OK, drops anything pipelined after the
// command (the STARTTLS injection attack), and negotiates TLS; capabilities change afterwards.
import { ImapError, type ImapCommand } from "./command.js";

export const startTlsCommand: ImapCommand<null> = {
  names: ["STARTTLS"],
  uid: false,
  states: ["not-authenticated"],
  sequenceUse: "none",
  parse: (args) => {
    args.end();
    return null;
  },
  run: async (ctx) => {
    if (!ctx.session.startTlsAvailable()) throw ImapError.bad(null, "STARTTLS is not available");
    await ctx.session.startTls(ctx.tag);
  },
};
