// RFC 9051 §6.3.7 SUBSCRIBE and §6.3.8 UNSUBSCRIBE: kept by name; a name need not exist
// (RFC 9051 §6.3.7 allows subscribing to a mailbox that is not there, e.g. on another server).
import type { ImapCommand } from "./command.js";

export const subscribeCommand: ImapCommand<string> = {
  names: ["SUBSCRIBE", "UNSUBSCRIBE"],
  uid: false,
  states: ["authenticated", "selected"],
  sequenceUse: "none",
  parse: (args) => {
    const name = args.mailbox();
    args.end();
    return name;
  },
  run: async (ctx, name) => {
    await ctx.store.setSubscribed(ctx.requireAccount().id, name, ctx.name === "SUBSCRIBE");
  },
};
