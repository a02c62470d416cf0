// RFC 9051 §6.3.4 CREATE, with RFC 6154 §3 CREATE-SPECIAL-USE: `CREATE Foo (USE (\Archive))`.
// A trailing delimiter only declares that children will follow; the store creates missing parents.
import { mailboxObjectId, SPECIAL_USES, type SpecialUse } from "../../store/index.js";
import { checkNewMailboxName, decodeMailboxName } from "../protocol/mailbox-name.js";
import { ImapError, type ImapCommand } from "./command.js";
import { createShared } from "../acl/shared-mailboxes.js";

interface CreateArgs {
  name: string;
  specialUse: string[];
}

export const createCommand: ImapCommand<CreateArgs> = {
  names: ["CREATE"],
  uid: false,
  states: ["authenticated", "selected"],
  sequenceUse: "none",
  capabilities: ["CREATE-SPECIAL-USE", "OBJECTID"],
  parse: (args) => {
    const raw = decodeMailboxName(args.astringBytes(), args.options.utf8Names);
    const name = checkNewMailboxName(raw.endsWith("/") ? raw.slice(0, -1) : raw);
    const specialUse: string[] = [];
    if (args.takeChar(" ")) {
      args.list(() => {
        if (!args.takeKeyword("USE")) throw args.error("unknown CREATE parameter");
        args.space();
        args.list(() => {
          args.expectChar("\\");
          specialUse.push(`\\${args.atom()}`);
        });
      }, false);
    }
    args.end();
    return { name, specialUse };
  },
  run: async (ctx, { name, specialUse }) => {
    const account = ctx.requireAccount();
    // RFC 6154 §3: an unknown attribute, or more than one (the store keeps one per mailbox), is USEATTR.
    const canonical = specialUse.map((u) => SPECIAL_USES.find((s) => s.toLowerCase() === u.toLowerCase()));
    if (canonical.some((u) => u === undefined) || canonical.length > 1) throw ImapError.no("USEATTR", "unsupported special-use attribute");
    // A name in the shared namespace is created in its owner's account (RFC 4314 §4 "k").
    const created = (await createShared(ctx, name)) ?? (await ctx.store.createMailbox(account.id, name, { specialUse: (canonical[0] as SpecialUse | undefined) ?? null }));
    // RFC 8474 §4.1: the tagged OK names the new mailbox's MAILBOXID.
    ctx.complete({ code: `MAILBOXID (${mailboxObjectId(created)})`, text: "CREATE completed" });
  },
};
