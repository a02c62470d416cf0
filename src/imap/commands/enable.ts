// RFC 5161 ENABLE: CONDSTORE, QRESYNC, IMAP4rev2, UTF8=ACCEPT and UIDONLY (RFC 9586); unknown names are ignored
// (RFC 5161 §3.1), and only newly enabled ones are listed in the ENABLED response.
import { atom } from "../protocol/response-value.js";
import { ImapError, type ImapCommand, type ImapExtension } from "./command.js";

const ENABLEABLE = new Map<string, ImapExtension>([
  ["CONDSTORE", "CONDSTORE"],
  ["QRESYNC", "QRESYNC"],
  ["IMAP4REV2", "IMAP4REV2"],
  ["UTF8=ACCEPT", "UTF8=ACCEPT"],
  // RFC 9586 (commands/uid-only.ts).
  ["UIDONLY", "UIDONLY"],
]);

export const enableCommand: ImapCommand<string[]> = {
  names: ["ENABLE"],
  uid: false,
  states: ["authenticated", "selected"],
  sequenceUse: "none",
  capabilities: ["ENABLE", "UTF8=ACCEPT", "QRESYNC", "UIDONLY"],
  parse: (args) => {
    const names = [args.atom().toUpperCase()];
    while (args.takeChar(" ")) names.push(args.atom().toUpperCase());
    args.end();
    return names;
  },
  run: async (ctx, names) => {
    const advertised = new Set(ctx.session.capabilities().map((c) => c.toUpperCase()));
    const newly: string[] = [];
    for (const name of names) {
      const extension = ENABLEABLE.get(name);
      if (extension === undefined || !advertised.has(name) || ctx.enabled.has(extension)) continue;
      // RFC 6855 §3 / RFC 9051 §6.3.1: UTF-8 names change how later mailbox arguments are read.
      if (extension === "UTF8=ACCEPT" && ctx.selected !== null) throw ImapError.bad(null, "ENABLE UTF8=ACCEPT must come before SELECT");
      ctx.session.enable(extension);
      // RFC 7162 §3.2.3: enabling QRESYNC enables CONDSTORE too.
      if (extension === "QRESYNC" && !ctx.enabled.has("CONDSTORE")) ctx.session.enable("CONDSTORE");
      newly.push(name === "IMAP4REV2" ? "IMAP4rev2" : name);
    }
    await ctx.untagged(atom("ENABLED"), ...newly.map((n) => atom(n)));
  },
};
