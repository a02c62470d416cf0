// RFC 9051 §6.4.7 COPY and RFC 6851 / RFC 9051 §6.4.8 MOVE, with RFC 4315 COPYUID.
// COPY answers `OK [COPYUID v src dst]`. MOVE sends `* OK [COPYUID ...]` first, then the session's
// sync reports the removals (EXPUNGE, or VANISHED under QRESYNC) before the tagged OK
// (RFC 6851 §4.3). A missing target is NO [TRYCREATE]. Source UIDs are listed in the same order
// as their destination UIDs, which the store gives pairwise.
import { encodeOrderedNumbers, type SequenceSet } from "../protocol/sequence-set.js";
import { ImapError, type ImapCommand } from "./command.js";
import { keepHighest, refuseOverLimit } from "./message-limit.js";
import { targetMailbox } from "./append.js";
import { requireRights } from "../acl/mailbox-access.js";

interface CopyArgs {
  set: SequenceSet;
  target: string;
}

export const copyCommand: ImapCommand<CopyArgs> = {
  names: ["COPY", "MOVE"],
  uid: true,
  states: ["selected"],
  sequenceUse: "uses-and-breaks",
  capabilities: ["MOVE", "UIDPLUS"],
  parse: (args) => {
    const set = args.sequenceSet();
    args.space();
    const target = args.mailbox();
    args.end();
    return { set, target };
  },
  run: async (ctx, { set, target }) => {
    const selected = ctx.requireSelected();
    const move = ctx.name === "MOVE";
    const named = selected.resolve(set, ctx.byUid).filter((m) => !selected.isExpunged(m.uid));
    // RFC 9738: MOVE moves the highest UIDs up to MESSAGELIMIT (the client moves the rest next);
    // a COPY of more is refused, as a partial copy would be copied again (message-limit.ts).
    if (!move) refuseOverLimit(ctx, named.length, "COPY");
    const messages = move ? keepHighest(ctx, named, (m) => m.uid) : named;
    // RFC 4314 §4: the target needs "i" (append.ts targetMailbox); RFC 6851 §4.2: MOVE takes the
    // messages out of the source, which needs "t" and "e" there.
    const destination = await targetMailbox(ctx, target);
    if (move && selected.readOnly) throw ImapError.no("READ-ONLY", "mailbox is read-only");
    if (move) requireRights(selected.rights, "te");
    if (messages.length === 0) {
      // RFC 9051 §6.4.8: a UID set naming nothing is not an error.
      ctx.complete({ text: `${ctx.name} completed, nothing to do` });
      return;
    }
    const uids = messages.map((m) => m.uid);
    // Into another account's mailbox the copies keep only the flags the user may set there
    // (RFC 4314 §4; acl/private-seen-view.ts dropUnsettableFlags).
    const mapping = move ? await ctx.store.moveMessages(selected.mailboxId, uids, destination.id) : await ctx.store.copyMessages(selected.mailboxId, uids, destination.id);
    if (mapping.pairs.length === 0) return;
    // COPY adds to the account's usage (MOVE within it does not): the usage warning may be due.
    if (!move) await ctx.quota?.noteAdded(destination.accountId);
    const code = `COPYUID ${mapping.uidValidity} ${encodeOrderedNumbers(mapping.pairs.map((p) => p[0]))} ${encodeOrderedNumbers(mapping.pairs.map((p) => p[1]))}`;
    if (move) await ctx.untaggedStatus("OK", code, "moved");
    else ctx.complete({ code, text: "COPY completed" });
  },
};
