// RFC 9051 §6.1.1 CAPABILITY: the list for the current state (session/capabilities.ts).
import { atom } from "../protocol/response-value.js";
import type { ImapCommand } from "./command.js";

export const capabilityCommand: ImapCommand<null> = {
  names: ["CAPABILITY"],
  uid: false,
  states: ["not-authenticated", "authenticated", "selected"],
  sequenceUse: "none",
  parse: (args) => {
    args.end();
    return null;
  },
  run: async (ctx) => {
    await ctx.untagged(atom("CAPABILITY"), ...ctx.session.capabilities().map((c) => atom(c)));
  },
};
