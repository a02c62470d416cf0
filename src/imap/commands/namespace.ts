// RFC 9051 §6.3.10 NAMESPACE (RFC 2342): the personal namespace ("", "/" as delimiter) and the
// other users' namespace `Shared/` where mailboxes shared with the user appear as
// `Shared/<owner address>/<name>` (RFC 4314; acl/mailbox-access.ts). No public (shared) namespace.
import { HIERARCHY_DELIMITER } from "../../store/index.js";
import { atom, list, NIL, str } from "../protocol/response-value.js";
import type { ImapCommand } from "./command.js";
import { SHARED_PREFIX } from "../acl/mailbox-access.js";

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
    await ctx.untagged(atom("NAMESPACE"), list([list([str(""), str(HIERARCHY_DELIMITER)])]), list([list([str(`${SHARED_PREFIX}${HIERARCHY_DELIMITER}`), str(HIERARCHY_DELIMITER)])]), NIL);
  },
};
