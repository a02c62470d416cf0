// RFC 9051 §6.4.6 STORE (FLAGS, +FLAGS, -FLAGS, with .SILENT) and RFC 7162 §3.1.3 UNCHANGEDSINCE.
// Each message named gets a FETCH with its flags (UID and, under CONDSTORE, MODSEQ included)
// unless .SILENT; messages refused by UNCHANGEDSINCE are listed in OK [MODIFIED set], by UID
// for UID STORE and by sequence number otherwise. The flags reported are noted in the selected
// mailbox so its next sync does not repeat them.
import { asModSeq, hasRights, type Flag, type FlagUpdateMode, type FlagUpdateResult, type MailboxId, type MailStore, type ModSeq, type Uid } from "../../store/index.js";
import { encodeNumbers, type SequenceSet } from "../protocol/sequence-set.js";
import { ImapError, type ImapCommand } from "./command.js";
import { fetchLead } from "./uid-only.js";
import { keepHighest } from "./message-limit.js";
import { changeableFlags, mayChangeSomeFlag, replacedWithinRights, requireFlagRights } from "../acl/selected-rights.js";

const RESPONSE_BATCH = 1000;

interface StoreArgs {
  set: SequenceSet;
  unchangedSince: bigint | null;
  mode: FlagUpdateMode;
  silent: boolean;
  flags: string[];
}

export const storeCommand: ImapCommand<StoreArgs> = {
  names: ["STORE"],
  uid: true,
  states: ["selected"],
  sequenceUse: "uses",
  holdsExpunges: true,
  capabilities: ["CONDSTORE", "QRESYNC"],
  parse: (args) => {
    const set = args.sequenceSet();
    args.space();
    let unchangedSince: bigint | null = null;
    if (args.peekListStart()) {
      args.list(() => {
        if (!args.takeKeyword("UNCHANGEDSINCE")) throw args.error("unknown STORE modifier");
        args.space();
        unchangedSince = args.number64();
      }, false);
      args.space();
    }
    // store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
    const item = /^([+-]?)FLAGS(\.SILENT)?$/.exec(args.atom().toUpperCase());
    if (item === null) throw args.error("expected FLAGS, +FLAGS or -FLAGS");
    const mode: FlagUpdateMode = item[1] === "+" ? "add" : item[1] === "-" ? "remove" : "set";
    const silent = item[2] !== undefined;
    args.space();
    let flags: string[];
    if (args.peekListStart()) flags = args.flagList();
    else {
      flags = [args.flag()];
      while (args.takeChar(" ")) flags.push(args.flag());
    }
    args.end();
    return { set, unchangedSince, mode, silent, flags };
  },
  run: async (ctx, args) => {
    const selected = ctx.requireSelected();
    if (selected.readOnly) throw ImapError.no("READ-ONLY", "mailbox is read-only");
    // RFC 4314 §4: \Seen needs "s", \Deleted "t", other flags "w". STORE changes the flags the
    // rights allow and leaves the others alone; NO [NOPERM] only when it may change none of them.
    const rights = selected.rights;
    const flags = args.mode === "set" ? args.flags : changeableFlags(args.flags, rights);
    if (args.mode === "set" && !mayChangeSomeFlag(rights)) requireFlagRights(["\\Seen", "\\Deleted", "\\Flagged"], rights);
    // FLAGS (replace) with only some of the three rights keeps each message's flags of the other kinds.
    const partialReplace = args.mode === "set" && !hasRights(rights, "stw");
    // RFC 7162 §3.1: UNCHANGEDSINCE is a CONDSTORE-enabling modifier.
    if (args.unchangedSince !== null) ctx.session.enable("CONDSTORE");
    const condstore = ctx.enabled.has("CONDSTORE") || ctx.enabled.has("QRESYNC");
    // RFC 9738: past MESSAGELIMIT only the messages with the highest UIDs are changed.
    const messages = keepHighest(ctx, selected.resolve(args.set, ctx.byUid).filter((m) => !selected.isExpunged(m.uid)), (m) => m.uid);
    if (messages.length === 0) return;
    const unchangedSince = args.unchangedSince === null ? undefined : asModSeq(Number(args.unchangedSince));
    const uids = messages.map((m) => m.uid);
    const result = partialReplace
      ? await replaceWithinRights(ctx.store, selected.mailboxId, uids, args.flags, rights, unchangedSince)
      : await ctx.store.updateFlags(selected.mailboxId, uids, { mode: args.mode, flags, ...(unchangedSince === undefined ? {} : { unchangedSince }) });
    const updated = new Map(result.updated.map((u) => [u.uid, u]));
    const refused = new Set(result.modified);
    selected.noteUpdate(result.updated);
    // A message the STORE left as it was is still reported (RFC 9051 §6.4.6) with its flags as
    // stored; the session keeps none, so they are read in pages like FETCH's.
    const unchanged = args.silent ? [] : messages.filter((m) => !updated.has(m.uid) && !refused.has(m.uid)).map((m) => m.uid);
    const current = new Map<Uid, { flags: readonly Flag[]; modseq: ModSeq }>();
    for (let start = 0; start < unchanged.length; start += RESPONSE_BATCH) {
      for (const summary of await ctx.store.getSummaries(selected.mailboxId, unchanged.slice(start, start + RESPONSE_BATCH))) current.set(summary.uid, summary);
    }
    // Rendered as text (atoms and numbers only) and written in batches: few socket writes for
    // STORE 1:*, bounded memory for a huge mailbox, no response tree per message.
    let text = "";
    let batched = 0;
    for (const { seq, uid } of messages) {
      const change = updated.get(uid);
      if (refused.has(uid) || (args.silent && change === undefined)) continue;
      // RFC 7162 §3.1.3: under CONDSTORE a silent STORE still reports the new MODSEQ.
      if (args.silent && !condstore) continue;
      const state = change ?? current.get(uid);
      // Gone from the store meanwhile (another session expunged it): nothing to report.
      if (state === undefined) continue;
      text += `${fetchLead(ctx.uidOnly, seq, uid)}${selected.fetchItemsText(uid, state, condstore, !ctx.rev2)})\r\n`;
      if (++batched === RESPONSE_BATCH) {
        await ctx.fetchText(text);
        text = "";
        batched = 0;
      }
    }
    if (text.length > 0) await ctx.fetchText(text);
    if (refused.size > 0) {
      const numbers = messages.filter((m) => refused.has(m.uid)).map((m) => (ctx.byUid ? m.uid : m.seq));
      ctx.complete({ code: `MODIFIED ${encodeNumbers(numbers)}`, text: "conditional STORE failed for some messages" });
    }
  },
};

/**
 * FLAGS (replace) by a user whose rights cover only some kinds of flags (RFC 4314 §4): each
 * message gets the requested flags of the kinds the user may change and keeps its own of the
 * others (selected-rights.ts replacedWithinRights), one store update per resulting flag set.
 */
async function replaceWithinRights(store: MailStore, mailboxId: MailboxId, uids: readonly Uid[], requested: readonly string[], rights: string, unchangedSince: ModSeq | undefined): Promise<FlagUpdateResult> {
  const groups = new Map<string, { flags: Flag[]; uids: Uid[] }>();
  for (let start = 0; start < uids.length; start += RESPONSE_BATCH) {
    for (const message of await store.getSummaries(mailboxId, uids.slice(start, start + RESPONSE_BATCH))) {
      const flags = replacedWithinRights(requested, message.flags, rights) as Flag[];
      const key = flags.map((f) => f.toLowerCase()).sort().join(" ");
      const group = groups.get(key);
      if (group === undefined) groups.set(key, { flags, uids: [message.uid] });
      else group.uids.push(message.uid);
    }
  }
  const result: FlagUpdateResult = { updated: [], modified: [] };
  for (const group of groups.values()) {
    const part = await store.updateFlags(mailboxId, group.uids, { mode: "set", flags: group.flags, ...(unchangedSince === undefined ? {} : { unchangedSince }) });
    result.updated.push(...part.updated);
    result.modified.push(...part.modified);
  }
  result.updated.sort((a, b) => a.uid - b.uid);
  result.modified.sort((a, b) => a - b);
  return result;
}
