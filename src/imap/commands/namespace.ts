// RFC 9051 §6.3.10 NAMESPACE (RFC 2342): one personal namespace with "/" as delimiter; no other
// users' or shared mailboxes.
import { HIERARCHY_DELIMITER } from "../../store/index.js";
import { atom, list, NIL, str } from "../protocol/response-value.js";
import type { ImapCommand } from "./command.js";

export const namespaceCommand: ImapCommand<null> = {
  names: ["NAMESPACE"],
  uid: false,
  states: ["authenticated", "selected"],
  sequenceUse: "none",
  capabilities: ["NAMESPACE"],
  parse: (args) => {
    args.end();
    return null;
  },
  run: async (ctx) => {
    await ctx.untagged(atom("NAMESPACE"), list([list([str(""), str(HIERARCHY_DELIMITER)])]), NIL, NIL);
  },
};
