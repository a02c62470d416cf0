// RFC 9051 §6.4.3 EXPUNGE and RFC 4315 §2.1 UID EXPUNGE (only the named \Deleted messages).
// The store removes them; the session's sync then reports each as EXPUNGE, or as VANISHED under
// QRESYNC, before the tagged OK (RFC 7162 §3.2.10), like removals by any other session.
import type { SequenceSet } from "../protocol/sequence-set.js";
import type { Uid } from "../../store/index.js";
import { ImapError, type ImapCommand } from "./command.js";
import { keepHighest } from "./message-limit.js";
import { requireRights } from "../acl/mailbox-access.js";

/** UIDs whose flags one store read fetches when UID EXPUNGE must count its \Deleted messages. */
const SUMMARY_PAGE = 1000;

export const expungeCommand: ImapCommand<SequenceSet | null> = {
  names: ["EXPUNGE"],
  uid: true,
  states: ["selected"],
  sequenceUse: "breaks",
  capabilities: ["UIDPLUS"],
  parse: (args, ctx) => {
    const set = ctx.byUid ? args.sequenceSet() : null;
    args.end();
    return set;
  },
  run: async (ctx, set) => {
    const selected = ctx.requireSelected();
    if (selected.readOnly) throw ImapError.no("READ-ONLY", "mailbox is read-only");
    // RFC 4314 §4: EXPUNGE needs "e".
    requireRights(selected.rights, "e");
    let uids = set === null ? undefined : selected.resolve(set, true).map((m) => m.uid);
    if (uids !== undefined && uids.length === 0) return;
    const limit = ctx.messageLimit ?? null;
    if (uids !== undefined && limit !== null && uids.length > limit) {
      // RFC 9738: UID EXPUNGE counts the \Deleted messages it would remove and removes the
      // highest UIDs of them up to MESSAGELIMIT (plain EXPUNGE is not limited).
      const deleted: Uid[] = [];
      for (let at = 0; at < uids.length; at += SUMMARY_PAGE) {
        for (const summary of await ctx.store.getSummaries(selected.mailboxId, uids.slice(at, at + SUMMARY_PAGE))) {
          if (summary.flags.some((flag) => flag.toLowerCase() === "\\deleted")) deleted.push(summary.uid);
        }
      }
      uids = [...keepHighest(ctx, deleted.sort((a, b) => a - b), (uid) => uid)];
      if (uids.length === 0) return;
    }
    await ctx.store.expungeDeleted(selected.mailboxId, uids);
  },
};
