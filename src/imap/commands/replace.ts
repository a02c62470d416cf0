// RFC 8508 REPLACE and UID REPLACE: a new version of a selected message (a draft saved again)
// appended to a mailbox and the old one expunged, atomically (MailStore.replaceMessage):
//   C: a1 UID REPLACE 42 Drafts (\Draft) {310+}
//   S: * OK [APPENDUID 1714 43] Replacement message ready
//   S: * 4 EXPUNGE                      (VANISHED 42 under QRESYNC: the session's sync)
//   S: a1 OK REPLACE completed
// The message literal streams to the store as APPEND's does (append.ts), and the target mailbox
// is checked before the first `+`. Either both happen or neither: a failed append (quota,
// TOOBIG, no such mailbox) leaves the old message where it was (RFC 8508 §3.3).
import type { ArgumentReader } from "../protocol/arguments.js";
import type { SequenceSet } from "../protocol/sequence-set.js";
import { appendMessage, targetMailbox, type AppendMessage } from "./append.js";
import { isCatenateUrlLiteral, MAX_CATENATE_URL_LITERAL, stageCatenated } from "./catenate.js";
import { ImapError, type ImapCommand } from "./command.js";
import { requireRights } from "../acl/mailbox-access.js";
import { permanentFlagsFor } from "../acl/selected-rights.js";

interface ReplaceArgs {
  message: SequenceSet;
  mailbox: string;
  data: AppendMessage;
}

/** The first line ends at the mailbox name's literal: `tag [UID] REPLACE n {m}`. */
const MAILBOX_LITERAL = /^[^ ]+ (UID )?REPLACE [^ ]+ ~?\{\d+\+?\}$/i;

/** seq-number / uniqueid: one number or `*`, never a set (RFC 8508 §5). */
function oneMessage(args: ArgumentReader): SequenceSet {
  const set = args.sequenceSet();
  const single = set.kind === "ranges" && set.ranges.length === 1 && set.ranges[0]!.start === set.ranges[0]!.end;
  if (!single) throw args.error("REPLACE names one message");
  return set;
}

export const replaceCommand: ImapCommand<ReplaceArgs> = {
  names: ["REPLACE"],
  uid: true,
  states: ["selected"],
  sequenceUse: "uses-and-breaks",
  capabilities: ["REPLACE"],
  // As APPEND: a mailbox name or a CATENATE URL literal is collected, anything else streamed.
  streamsLiteral: (lines, index) => !(index === 0 && MAILBOX_LITERAL.test(lines[0]?.toString("latin1") ?? "")) && !isCatenateUrlLiteral(lines),
  literalLimit: (lines) => (isCatenateUrlLiteral(lines) ? MAX_CATENATE_URL_LITERAL : undefined),
  beforeStreamedLiteral: async (ctx, args) => {
    oneMessage(args);
    args.space();
    await targetMailbox(ctx, args.mailbox());
  },
  parse: (args, { enabled }) => {
    const message = oneMessage(args);
    args.space();
    const mailbox = args.mailbox();
    args.space();
    const data = appendMessage(args, enabled.has("UTF8=ACCEPT"));
    args.end();
    return { message, mailbox, data };
  },
  run: async (ctx, { message, mailbox: name, data }) => {
    const selected = ctx.requireSelected();
    // RFC 8508 §3.3: the old message is expunged, which a read-only mailbox does not allow.
    if (selected.readOnly) throw ImapError.no("READ-ONLY", "mailbox is read-only");
    // RFC 4314 §4 / RFC 8508 §3.3: the old message is marked \Deleted and expunged, so the source
    // needs "t" and "e" as MOVE does (copy.ts); a mailbox opened read-write for "w" alone does not.
    requireRights(selected.rights, "te");
    const limit = ctx.session.appendLimit();
    if (data.literal !== null && data.literal.size > limit) throw ImapError.no("TOOBIG", "message is larger than the APPENDLIMIT");
    if (data.literal !== null && data.literal.size === 0) throw ImapError.no(null, "empty message");
    // A sequence number past the end is BAD (selected-mailbox.ts); a UID naming nothing is NO.
    const [old] = selected.resolve(message, ctx.byUid).filter((m) => !selected.isExpunged(m.uid));
    if (old === undefined) throw ImapError.no("NONEXISTENT", "no such message to replace");
    const target = await targetMailbox(ctx, name);
    // RFC 8508 takes RFC 4466 append-data, so a CATENATE replacement too (catenate.ts).
    const source = data.literal === null ? await stageCatenated(ctx, data.catenate ?? [], limit) : await ctx.stagedLiteral(data.literal, limit);
    // RFC 4314 §4: on another account's mailbox, flags the user may not set are left off (as APPEND).
    const account = ctx.requireAccount().id;
    const flags = target.accountId === account ? data.flags : permanentFlagsFor(data.flags, await ctx.store.rightsOf(target.id, account));
    const { copy } = await ctx.store.replaceMessage(selected.mailboxId, old.uid, target.id, { source, flags, internalDate: data.internalDate ?? ctx.clock() }, { maxBytes: limit });
    await ctx.quota?.noteAdded(target.accountId);
    // RFC 8508 §3.3: APPENDUID in an untagged OK, before the EXPUNGE the session's sync sends.
    await ctx.untaggedStatus("OK", `APPENDUID ${target.uidValidity} ${copy.uid}`, "Replacement message ready");
  },
};
