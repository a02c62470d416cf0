// RFC 9051 §6.3.2 SELECT and §6.3.3 EXAMINE, with RFC 7162 CONDSTORE and QRESYNC parameters:
// `SELECT INBOX (QRESYNC (uidvalidity modseq [known-uids]))` replays the change log since the
// client's modseq as `VANISHED (EARLIER)` and FETCH of what changed (RFC 7162 §3.2.5); its
// seq-match-data narrows VANISHED to UIDs the client cannot already know are gone.
//
// \Recent (IMAP4rev1 only, RFC 3501 §2.3.2): SELECT claims the mailbox's recent messages for this
// session (session/selected-mailbox.ts) and reports how many with `n RECENT`; EXAMINE claims
// nothing. IMAP4rev2 dropped the flag (RFC 9051 Appendix E): no RECENT response at all.
import { asModSeq, asUid, mailboxObjectId } from "../../store/index.js";
import type { ArgumentReader } from "../protocol/arguments.js";
import { encodeNumbers, iterateRanges, rangesContain, resolveRanges, type SequenceSet } from "../protocol/sequence-set.js";
import { atom, list, num, str } from "../protocol/response-value.js";
import { ImapError, type CommandContext, type ImapCommand } from "./command.js";
import { uidRequired } from "./uid-only.js";
import { requireMailboxAccess } from "../acl/mailbox-access.js";
import { readOnlyFor } from "../acl/selected-rights.js";

interface QresyncParameters {
  uidValidity: number;
  modseq: bigint;
  knownUids: SequenceSet | null;
  /** RFC 7162 §3.2.5.2 seq-match-data as pairs (sequence number, UID) of the client's view. */
  seqMatch: { seq: number; uid: number }[];
  /** seq-match-data was given (even when too large or with `*` to be used). */
  seqMatchGiven: boolean;
}

/** More pairs than this are not worth checking; the hint is then ignored (it only narrows). */
const MAX_SEQ_MATCH_PAIRS = 10_000;

interface SelectArgs {
  mailbox: string;
  readOnly: boolean;
  condstore: boolean;
  qresync: QresyncParameters | null;
}

export const selectCommand: ImapCommand<SelectArgs> = {
  names: ["SELECT", "EXAMINE"],
  uid: false,
  states: ["authenticated", "selected"],
  sequenceUse: "breaks",
  capabilities: ["CONDSTORE", "QRESYNC", "OBJECTID"],
  parse: (args, ctx) => {
    const mailbox = args.mailbox();
    let condstore = false;
    let qresync: QresyncParameters | null = null;
    if (args.takeChar(" ")) {
      // RFC 4466 §2.1 select-params; RFC 7162 §3.1.8 CONDSTORE, §3.2.5 QRESYNC.
      args.list(() => {
        if (args.takeKeyword("CONDSTORE")) condstore = true;
        else if (args.takeKeyword("QRESYNC")) {
          args.space();
          const parsed = parseQresync(args);
          // RFC 9586: seq-match-data is made of sequence numbers (mox refuses it the same way).
          if (parsed.seqMatchGiven && ctx.enabled.has("UIDONLY")) throw uidRequired("QRESYNC seq-match-data");
          qresync = parsed;
        } else throw args.error("unknown SELECT parameter");
      }, false);
    }
    args.end();
    return { mailbox, readOnly: ctx.name === "EXAMINE", condstore, qresync };
  },
  run: async (ctx, args) => {
    // RFC 7162 §3.2.5: QRESYNC parameters without ENABLE QRESYNC are BAD.
    if (args.qresync !== null && !ctx.enabled.has("QRESYNC")) throw ImapError.bad(null, "QRESYNC is not enabled");
    ctx.requireAccount();
    const wasSelected = ctx.selected !== null;
    // RFC 9051 §6.3.2: a failed SELECT leaves no mailbox selected.
    ctx.session.deselect();
    // RFC 7162 §3.2.11 / RFC 9051 §7.1: CLOSED marks where the old mailbox's responses end.
    if (wasSelected) await ctx.untaggedStatus("OK", "CLOSED", "previous mailbox closed");
    // RFC 4314 §4: SELECT and EXAMINE need "r"; without a right to change anything the mailbox
    // opens read-only.
    const access = await requireMailboxAccess(ctx, args.mailbox, "r");
    const mailbox = access.mailbox;
    const readOnly = args.readOnly || readOnlyFor(access.rights);
    // RFC 7162 §3.1.8: SELECT (CONDSTORE) enables CONDSTORE.
    if (args.condstore) ctx.session.enable("CONDSTORE");
    const selected = await ctx.session.select(mailbox, readOnly);
    selected.rights = access.rights;
    // RFC 9051 §7.3.5 / §7.1: FLAGS and PERMANENTFLAGS name the keywords in use here too, and
    // `\*` says new ones may be created (selected-mailbox.ts keeps the list current afterwards).
    await ctx.untagged(atom("FLAGS"), list(selected.applicableFlags.map((f) => atom(f))));
    await ctx.untagged(num(selected.messageCount), atom("EXISTS"));
    if (!ctx.rev2) {
      await ctx.untagged(num(selected.recentCount), atom("RECENT"));
      // RFC 3501 §6.3.1: rev1 clients are told the first unseen message (RFC 9051 dropped it).
      // Not under UIDONLY: it is a sequence number (RFC 9586).
      const unseen = ctx.uidOnly ? null : selected.firstUnseen;
      if (unseen !== null) await ctx.untaggedStatus("OK", `UNSEEN ${unseen}`, "first unseen message");
    }
    await ctx.untaggedStatus("OK", `PERMANENTFLAGS (${selected.permanentFlags.join(" ")})`, readOnly ? "no permanent flags in read-only mode" : "flags permitted");
    await ctx.untaggedStatus("OK", `UIDVALIDITY ${selected.uidValidity}`, "UIDs valid");
    await ctx.untaggedStatus("OK", `UIDNEXT ${selected.mailbox.uidNext}`, "predicted next UID");
    await ctx.untaggedStatus("OK", `HIGHESTMODSEQ ${selected.highestModSeq}`, "highest modseq");
    // RFC 8474 §4.2: the mailbox's MAILBOXID.
    await ctx.untaggedStatus("OK", `MAILBOXID (${mailboxObjectId(mailbox)})`, "Ok");
    // RFC 9051 §6.3.2: IMAP4rev2 clients get the mailbox's LIST response too.
    if (ctx.rev2) await ctx.untagged(atom("LIST"), list([]), str("/"), str(ctx.encodeMailbox(access.name)));
    if (args.qresync !== null && args.qresync.uidValidity === selected.uidValidity) await resync(ctx, args.qresync);
    ctx.complete({ code: readOnly ? "READ-ONLY" : "READ-WRITE", text: `${ctx.name} completed` });
  },
};

function parseQresync(args: ArgumentReader): QresyncParameters {
  args.listStart();
  const uidValidity = args.nzNumber();
  args.space();
  const modseq = args.number64();
  let knownUids: SequenceSet | null = null;
  let seqMatch: QresyncParameters["seqMatch"] = [];
  let seqMatchGiven = false;
  if (args.takeChar(" ") && !args.peekListStart()) knownUids = args.sequenceSet();
  if (knownUids !== null ? args.takeChar(" ") : args.peekListStart()) {
    // seq-match-data = "(" known-sequence-set SP known-uid-set ")"
    args.listStart();
    seqMatchGiven = true;
    const seqs = expandCapped(args.sequenceSet());
    args.space();
    const uids = expandCapped(args.sequenceSet());
    args.listEnd();
    if (seqs !== null && uids !== null) {
      // The sets pair up element by element; sets of different sizes cannot mean anything.
      if (seqs.length !== uids.length) throw args.error("seq-match-data sets differ in size");
      seqMatch = seqs.map((seq, i) => ({ seq, uid: uids[i] as number }));
    }
  }
  args.listEnd();
  return { uidValidity, modseq, knownUids, seqMatch, seqMatchGiven };
}

/** The numbers of a set in ascending order, or null for `$`, `*` or more than MAX_SEQ_MATCH_PAIRS. */
function expandCapped(set: SequenceSet): number[] | null {
  if (set.kind !== "ranges") return null;
  const ranges = resolveRanges(set, 0xffffffff);
  if (ranges.reduce((n, r) => n + (r.end - r.start + 1), 0) > MAX_SEQ_MATCH_PAIRS) return null;
  return [...iterateRanges(ranges)];
}

/**
 * RFC 7162 §3.2.5.2: a pair whose UID still has the client's sequence number proves that no
 * message with a lower UID was expunged since the client's view (new messages only ever get
 * higher UIDs), so VANISHED (EARLIER) needs only the UIDs above the highest such pair.
 */
function vanishedFloor(selected: ReturnType<CommandContext["requireSelected"]>, pairs: QresyncParameters["seqMatch"]): number {
  let floor = 0;
  for (const { seq, uid } of pairs) if (uid > floor && selected.toSeq(asUid(uid)) === seq) floor = uid;
  return floor;
}

/** RFC 7162 §3.2.5.2: VANISHED (EARLIER) for expunged known UIDs, then FETCH for changed ones. */
async function resync(ctx: CommandContext, q: QresyncParameters): Promise<void> {
  const selected = ctx.requireSelected();
  const since = q.modseq > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(q.modseq);
  const changes = await ctx.store.changesSince(selected.mailboxId, asModSeq(since));
  // The known-uids set limits VANISHED to what the client has; without it, every expunged UID.
  const known = q.knownUids?.kind === "ranges" ? resolveRanges(q.knownUids, 0xffffffff) : null;
  const floor = vanishedFloor(selected, q.seqMatch);
  const vanished = changes.expunged.filter((uid) => uid > floor && (known === null || rangesContain(known, uid)));
  if (vanished.length > 0) await ctx.untagged(atom("VANISHED"), list([atom("EARLIER")]), atom(encodeNumbers(vanished)));
  for (const change of changes.changed) {
    const seq = selected.toSeq(asUid(change.uid));
    if (seq === null) continue;
    await ctx.fetchResponse(seq, selected.fetchItems(change.uid, change, true, !ctx.rev2));
  }
}
