// RFC 9051 §6.1.2 NOOP and §6.4.1 CHECK (gone from IMAP4rev2, kept for rev1 clients as NOOP):
// nothing but a chance for the session to send pending mailbox updates before the tagged OK.
import type { ImapCommand } from "./command.js";

export const noopCommand: ImapCommand<null> = {
  names: ["NOOP"],
  uid: false,
  states: ["not-authenticated", "authenticated", "selected"],
  sequenceUse: "none",
  parse: (args) => {
    args.end();
    return null;
  },
  // The session syncs the selected mailbox before every tagged reply; that is NOOP's whole job.
  run: async () => {},
};

export const checkCommand: ImapCommand<null> = {
  names: ["CHECK"],
  uid: false,
  states: ["selected"],
  sequenceUse: "none",
  parse: (args) => {
    args.end();
    return null;
  },
  // Every store commit is durable when it returns, so there is no checkpoint left to make.
  run: async () => {},
};
