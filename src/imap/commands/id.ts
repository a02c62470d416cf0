// RFC 2971 ID: the client's fields are logged once; the server answers with its name only
// (no version, to give scanners nothing to match against).
import { atom, list, str } from "../protocol/response-value.js";
import { ImapError, type ImapCommand } from "./command.js";

const MAX_FIELDS = 30;

export const idCommand: ImapCommand<Map<string, string | null>> = {
  names: ["ID"],
  uid: false,
  states: ["not-authenticated", "authenticated", "selected"],
  sequenceUse: "none",
  capabilities: ["ID"],
  parse: (args) => {
    const fields = new Map<string, string | null>();
    // RFC 2971 §3.3: id-params-list = "(" *(string SP nstring) ")" / nil
    if (!args.takeKeyword("NIL")) {
      args.listStart();
      while (!args.peekListEnd()) {
        if (fields.size > 0) args.space();
        const key = args.string().toString("utf8");
        args.space();
        const value = args.nstring();
        if (fields.size >= MAX_FIELDS) throw ImapError.bad(null, "too many ID fields");
        fields.set(key, value === null ? null : value.toString("utf8"));
      }
      args.listEnd();
    }
    args.end();
    return fields;
  },
  run: async (ctx, fields) => {
    ctx.session.noteClientId(fields);
    await ctx.untagged(atom("ID"), list([str("name"), str("Mailroom")]));
  },
};
