// RFC 8437 UNAUTHENTICATE: ends the authenticated session without closing the connection, so a
// client can log in as another user over the same (TLS) connection. Any selected mailbox is
// closed without expunging (as UNSELECT), ENABLEd extensions are forgotten, and the session is
// in the not-authenticated state; the capabilities are those of a new connection.
import type { ImapCommand } from "./command.js";

export const unauthenticateCommand: ImapCommand<null> = {
  names: ["UNAUTHENTICATE"],
  uid: false,
  states: ["authenticated", "selected"],
  sequenceUse: "breaks",
  capabilities: ["UNAUTHENTICATE"],
  parse: (args) => {
    args.end();
    return null;
  },
  run: async (ctx) => {
    ctx.session.unauthenticate();
  },
};
