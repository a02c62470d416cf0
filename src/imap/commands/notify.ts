// RFC 5465 NOTIFY: SET [STATUS] with event groups, or NONE. The grammar is protocol/notify.ts;
// the session keeps the state and sends the notifications (session/notify.ts). Events this server
// does not report are refused as a whole with NO [BADEVENT (the supported ones)] (§3), so a
// client never believes it will hear about something it will not.
import { readNotify, type NotifyRequest } from "../protocol/notify.js";
import { SUPPORTED_EVENTS } from "../session/notify.js";
import { ImapError, type ImapCommand } from "./command.js";

export const notifyCommand: ImapCommand<NotifyRequest> = {
  names: ["NOTIFY"],
  uid: false,
  states: ["authenticated", "selected"],
  sequenceUse: "none",
  capabilities: ["NOTIFY"],
  parse: (args, ctx) => readNotify(args, ctx.enabled.has("IMAP4REV2") || ctx.enabled.has("UTF8=ACCEPT")),
  run: async (ctx, request) => {
    if (request.kind === "set") {
      const unsupported = request.groups.flatMap((g) => g.events).filter((e) => !SUPPORTED_EVENTS.includes(e));
      if (unsupported.length > 0) throw ImapError.no(`BADEVENT (${SUPPORTED_EVENTS.join(" ")})`, `not supported: ${[...new Set(unsupported)].join(" ")}`);
    }
    await ctx.session.setNotify(request);
  },
};
