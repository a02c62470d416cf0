// RFC 9051 §6.4.3 EXPUNGE and RFC 4315 §2.1 UID EXPUNGE (only the named \Deleted messages).
// The store removes them; the session's sync then reports each as EXPUNGE, or as VANISHED under
// QRESYNC, before the tagged OK (RFC 7162 §3.2.10), like removals by any other session.
import type { SequenceSet } from "../protocol/sequence-set.js";
import { ImapError, type ImapCommand } from "./command.js";
import { requireRights } from "../acl/mailbox-access.js";

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
    const uids = set === null ? undefined : selected.resolve(set, true).map((m) => m.uid);
    if (uids !== undefined && uids.length === 0) return;
    await ctx.store.expungeDeleted(selected.mailboxId, uids);
  },
};
