// RFC 5267 §4.3.5 CANCELUPDATE: `CANCELUPDATE 1*(SP quoted)` ends the updates of the searching
// commands with those tags (search/update-contexts.ts). A tag with no live context in the
// selected mailbox is BAD, and then none is cancelled: the client has the wrong idea of its
// contexts (one of another mailbox ended with the SELECT that left it).
import { searchUpdatesOf } from "../search/update-contexts.js";
import { ImapParseError } from "../protocol/parse-error.js";
import { ImapError, type ImapCommand } from "./command.js";

/** Tags per command: more than any session may have contexts, so a bound that never bites a real client. */
export const MAX_CANCEL_TAGS = 1000;

export const cancelUpdateCommand: ImapCommand<string[]> = {
  names: ["CANCELUPDATE"],
  uid: false,
  states: ["selected"],
  sequenceUse: "none",
  capabilities: ["CONTEXT=SEARCH", "CONTEXT=SORT"],
  parse: (args) => {
    const tags: string[] = [];
    do {
      if (args.peekChar() !== '"') throw new ImapParseError("CANCELUPDATE takes quoted tags");
      tags.push(args.string().toString("utf8"));
      if (tags.length > MAX_CANCEL_TAGS) throw new ImapParseError(`more than ${MAX_CANCEL_TAGS} tags`);
    } while (args.takeChar(" "));
    args.end();
    return tags;
  },
  run: async (ctx, tags) => {
    const selected = ctx.requireSelected();
    const unknown = searchUpdatesOf(selected)?.cancel(tags) ?? tags;
    if (unknown.length > 0) throw ImapError.bad(null, `no updating search with tag ${unknown[0]!.slice(0, 40)}`);
  },
};
