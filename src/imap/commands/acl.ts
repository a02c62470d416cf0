// RFC 4314 ACL commands: SETACL, DELETEACL, GETACL, LISTRIGHTS (each needs the "a" right on the
// mailbox) and MYRIGHTS (any of l r i k x a). Identifiers are "anyone" (every account of the server) or an
// account's address; groups are not supported (store/acl-store.ts) and neither are negative
// rights (`-identifier`, §2: optional), refused with NO. Rights are written canonically with the
// obsolete "c" and "d" added as §2.1.1 asks (store/acl-rights.ts); the owner of a mailbox always
// holds every right, is listed first by GETACL, and cannot be given or refused any.
//   a1 SETACL Projects bob@example.com +lrs      →  a1 OK SETACL completed
//   a2 GETACL Projects                           →  * ACL Projects alice@example.com lrswipkxteacd bob@example.com lrs
//   a3 MYRIGHTS Shared/alice@example.com/Projects → * MYRIGHTS Shared/alice@example.com/Projects lrs   (as bob)
import { ALL_RIGHTS, ANYONE, applyRightsChange, displayRights, isStoreError, parseRightsChange, type RightsChange } from "../../store/index.js";
import { atom, str, type ImapValue } from "../protocol/response-value.js";
import { ImapError, type CommandContext, type ImapCommand } from "./command.js";
import { ANY_RIGHT_TO_ASK, requireAnyRight, requireMailboxAccess, type MailboxAccess } from "../acl/mailbox-access.js";

/** Longer identifiers are refused before any lookup (an address is at most 254 octets). */
const MAX_IDENTIFIER = 255;

type AclArgs =
  | { kind: "set"; mailbox: string; identifier: string; change: RightsChange }
  | { kind: "delete"; mailbox: string; identifier: string }
  | { kind: "get"; mailbox: string }
  | { kind: "list"; mailbox: string; identifier: string }
  | { kind: "my"; mailbox: string };

/** The rights LISTRIGHTS offers a user other than the owner: each on its own, none tied (§3.7). */
const OPTIONAL_RIGHTS = [...ALL_RIGHTS, "c", "d"];

function checkIdentifier(identifier: string): void {
  if (identifier.length === 0 || identifier.length > MAX_IDENTIFIER || /[\x00-\x1f\x7f]/.test(identifier)) throw ImapError.bad(null, "invalid identifier");
}

/** `SETACL`/`DELETEACL`/`GETACL`/`LISTRIGHTS` need "a"; MYRIGHTS any of "l r i k x a" (RFC 4314 §4). */
async function mailboxFor(ctx: CommandContext, args: AclArgs): Promise<MailboxAccess> {
  if (args.kind !== "my") return requireMailboxAccess(ctx, args.mailbox, "a");
  const access = await requireMailboxAccess(ctx, args.mailbox, "");
  requireAnyRight(access.rights, ANY_RIGHT_TO_ASK);
  return access;
}

async function writeAcl(ctx: CommandContext, access: MailboxAccess, identifier: string, rights: string): Promise<void> {
  if (identifier.startsWith("-")) throw ImapError.no("CANNOT", "negative rights are not supported");
  try {
    await ctx.store.setAcl(access.mailbox.id, identifier, rights);
  } catch (error) {
    if (isStoreError(error, "NONEXISTENT")) throw ImapError.no(null, `no such identifier: use "anyone" or the address of an account (groups are not supported)`);
    if (isStoreError(error, "CANNOT")) throw ImapError.no("CANNOT", "the owner of a mailbox always has every right");
    throw error;
  }
}

/** The owner's address: the user's own for a personal mailbox. */
const ownerOf = (ctx: CommandContext, access: MailboxAccess): string => access.ownerAddress ?? ctx.requireAccount().address;

export const aclCommand: ImapCommand<AclArgs> = {
  names: ["SETACL", "DELETEACL", "GETACL", "LISTRIGHTS", "MYRIGHTS"],
  uid: false,
  states: ["authenticated", "selected"],
  sequenceUse: "none",
  // RFC 4314 §6: RIGHTS= lists the rights beyond RFC 2086's that the server implements.
  capabilities: ["ACL", "RIGHTS=texk"],
  parse: (args, { name }) => {
    const mailbox = args.mailbox();
    if (name === "GETACL" || name === "MYRIGHTS") {
      args.end();
      return name === "GETACL" ? { kind: "get", mailbox } : { kind: "my", mailbox };
    }
    args.space();
    const identifier = args.astring();
    checkIdentifier(identifier);
    if (name === "DELETEACL" || name === "LISTRIGHTS") {
      args.end();
      return name === "DELETEACL" ? { kind: "delete", mailbox, identifier } : { kind: "list", mailbox, identifier };
    }
    args.space();
    const text = args.astring();
    args.end();
    // RFC 4314 §3.1: an unknown right is BAD, never ignored.
    const change = parseRightsChange(text);
    if (change === null) throw ImapError.bad(null, `unknown right in ${JSON.stringify(text.slice(0, 40))}: the rights are ${ALL_RIGHTS}, c and d`);
    return { kind: "set", mailbox, identifier, change };
  },
  run: async (ctx, args) => {
    const access = await mailboxFor(ctx, args);
    const mailbox = str(ctx.encodeMailbox(access.name));
    const owner = ownerOf(ctx, access);
    const isOwner = (identifier: string) => identifier.toLowerCase() === owner.toLowerCase();
    switch (args.kind) {
      case "set": {
        if (isOwner(args.identifier)) throw ImapError.no("CANNOT", "the owner of a mailbox always has every right");
        const current = args.change.mode === "replace" ? "" : ((await ctx.store.getAcl(access.mailbox.id)).find((e) => e.identifier.toLowerCase() === args.identifier.toLowerCase())?.rights ?? "");
        await writeAcl(ctx, access, args.identifier, applyRightsChange(current, args.change));
        return;
      }
      case "delete":
        if (isOwner(args.identifier)) throw ImapError.no("CANNOT", "the owner of a mailbox always has every right");
        await writeAcl(ctx, access, args.identifier, "");
        return;
      case "get": {
        const values: ImapValue[] = [atom("ACL"), mailbox, str(owner), atom(displayRights(ALL_RIGHTS))];
        for (const entry of await ctx.store.getAcl(access.mailbox.id)) values.push(str(entry.identifier), atom(displayRights(entry.rights)));
        await ctx.untagged(...values);
        return;
      }
      case "list": {
        // RFC 4314 §3.7: the rights always granted, then each right that may be granted on its own.
        const required = isOwner(args.identifier) ? displayRights(ALL_RIGHTS) : "";
        const optional = isOwner(args.identifier) ? [] : OPTIONAL_RIGHTS.map((r) => atom(r));
        await ctx.untagged(atom("LISTRIGHTS"), mailbox, str(args.identifier === ANYONE ? ANYONE : args.identifier), str(required), ...optional);
        return;
      }
      case "my":
        await ctx.untagged(atom("MYRIGHTS"), mailbox, atom(displayRights(access.rights)));
        return;
    }
  },
};
