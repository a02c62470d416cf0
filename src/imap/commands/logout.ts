// RFC 9051 §6.1.3 LOGOUT: `* BYE`, then the tagged OK, then the connection closes.
import type { ImapCommand } from "./command.js";

export const logoutCommand: ImapCommand<null> = {
  names: ["LOGOUT"],
  uid: false,
  states: ["not-authenticated", "authenticated", "selected"],
  sequenceUse: "none",
  parse: (args) => {
    args.end();
    return null;
  },
  run: async (ctx) => {
    await ctx.untaggedStatus("BYE", null, "Logging out");
    ctx.session.logout();
  },
};
