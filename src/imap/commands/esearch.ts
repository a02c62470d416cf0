// ESEARCH, the multi-mailbox search of RFC 7377 (MULTISEARCH), from the authenticated or the
// selected state:
//   ESEARCH [IN (source-mbox [SP (scope-options)])] [RETURN (opts)] search-program
// source-mbox is one or more RFC 5465 filters: selected, selected-delayed, inboxes, personal,
// subscribed, subtree / subtree-one / mailboxes with one mailbox or a parenthesised list. Each
// mailbox is searched through the indexes (search/search-mailbox.ts) over the UIDs the store lists
// for it (MailStore.selectionIndex, packed: nothing else of the mailbox is read), the selected one
// over the session's view. Each mailbox with matches is answered as it finishes:
//   * ESEARCH (TAG "t" MAILBOX "name" UIDVALIDITY n) UID ALL 3:5
// Results are always UIDs (RFC 7377 §2); a mailbox with no match gets no response.
// Choices where RFC 7377 leaves room (docs/rfc-coverage.md):
// - "inboxes" is INBOX: delivery (and Sieve) may file mail elsewhere, but only INBOX always gets it;
// - a named mailbox that does not exist is skipped, as RFC 5465 filters skip names not there yet;
// - sequence numbers in the criteria count within each mailbox; nothing is \Recent outside the
//   selected mailbox; `$` and SAVE are only accepted when the selected mailbox is the only source
//   (RFC 7377 §2: SAVE with any other source is BAD);
// - no scope option is defined, so a non-empty scope-options list is BAD.
import { HIERARCHY_DELIMITER, type Mailbox, type ModSeq, type Uid } from "../../store/index.js";
import type { ArgumentReader } from "../protocol/arguments.js";
import { ImapParseError } from "../protocol/parse-error.js";
import { mapSearchSets, someSearchKey, type SearchKey } from "../protocol/search-key.js";
import { rangesContain, resolveRanges, type SequenceSet } from "../protocol/sequence-set.js";
import type { ResolvedSearchKey } from "../search/evaluate.js";
import { searchMailbox, type SearchHit, type SearchScope } from "../search/search-mailbox.js";
import { searchOutcome, type SearchMatch } from "../search/search-response.js";
import { ImapError, type CommandContext, type ImapCommand } from "./command.js";
import { refuseSequenceKeys } from "./uid-only.js";
import { parseSearchArgs, type SearchArgs } from "./search.js";

/** RFC 5465 §6 filter-mailboxes, as RFC 7377 §2 uses them (selected-delayed reads as selected). */
export type SourceFilter =
  | { kind: "selected" | "inboxes" | "personal" | "subscribed" }
  | { kind: "subtree" | "subtree-one" | "mailboxes"; names: string[] };

export interface EsearchArgs {
  /** Null without IN: the selected mailbox. */
  sources: SourceFilter[] | null;
  search: SearchArgs;
}

function readFilter(args: ArgumentReader): SourceFilter {
  const word = args.atom().toLowerCase();
  switch (word) {
    case "selected":
    case "selected-delayed":
      return { kind: "selected" };
    case "inboxes":
    case "personal":
    case "subscribed":
      return { kind: word };
    case "subtree":
    case "subtree-one":
    case "mailboxes": {
      args.space();
      // one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")"
      const names = args.peekListStart() ? args.list(() => args.mailbox(), false) : [args.mailbox()];
      return { kind: word, names };
    }
    default:
      throw new ImapParseError(`unknown ESEARCH source ${word.slice(0, 30)}`);
  }
}

/** "IN" SP "(" filter-mailboxes *(SP filter-mailboxes) [SP "(" scope-options ")"] ")" SP */
function parseSources(args: ArgumentReader): SourceFilter[] | null {
  if (!args.takeKeyword("IN")) return null;
  args.space();
  args.expectChar("(");
  const sources = [readFilter(args)];
  while (args.takeChar(" ")) {
    if (args.peekListStart()) {
      // RFC 7377 §2: scope options are an extension point; none is defined, so any given is unknown.
      const options = args.list(() => args.atom());
      if (options.length > 0) throw new ImapParseError(`unknown ESEARCH scope option ${options[0]!.slice(0, 30)}`);
      break;
    }
    sources.push(readFilter(args));
  }
  args.expectChar(")");
  args.space();
  return sources;
}

const onlySelected = (sources: SourceFilter[] | null): boolean => sources === null || sources.every((s) => s.kind === "selected");

export const esearchCommand: ImapCommand<EsearchArgs> = {
  names: ["ESEARCH"],
  uid: false,
  states: ["authenticated", "selected"],
  sequenceUse: "uses",
  holdsExpunges: true,
  capabilities: ["MULTISEARCH"],
  parse: (args, ctx) => {
    const sources = parseSources(args);
    const search = parseSearchArgs(args, ctx.searchLimits);
    if (search.ok) refuseSequenceKeys(search.program.key, ctx);
    // RFC 5267 §4.3 defines UPDATE for SEARCH and SORT of the selected mailbox only; CONTEXT, a
    // hint, is accepted (and changes nothing).
    if (search.ok && search.program.returnOptions?.includes("UPDATE") === true) throw new ImapParseError("RETURN (UPDATE) is for SEARCH and SORT, not ESEARCH");
    if (!onlySelected(sources) && search.ok) {
      // RFC 7377 §2: SAVE is valid only when the selected mailbox is the sole source; `$` names
      // messages of the selected mailbox, so it has no meaning in the others either.
      if (search.program.returnOptions?.includes("SAVE") === true) throw new ImapParseError("SAVE needs the selected mailbox as the only source");
      if (someSearchKey(search.program.key, (k) => (k.kind === "sequence" || k.kind === "uid") && k.set.kind === "saved")) {
        throw new ImapParseError("$ needs the selected mailbox as the only source");
      }
    }
    return { sources, search };
  },
  run: async (ctx, { sources, search }) => {
    if (!search.ok) {
      ctx.selected?.setLastSearchResult([]);
      throw search.error;
    }
    if (sources === null && ctx.selected === null) throw ImapError.bad(null, "ESEARCH without IN searches the selected mailbox: none is selected");
    const program = search.program;
    const saves = program.returnOptions?.includes("SAVE") === true;
    try {
      const withModSeq = someSearchKey(program.key, (k) => k.kind === "modseq");
      if (withModSeq && !ctx.enabled.has("CONDSTORE")) ctx.session.enable("CONDSTORE");
      for (const mailbox of await sourceMailboxes(ctx, sources)) {
        const hits = await searchOne(ctx, mailbox, program.key, withModSeq);
        // RFC 4731 §3.1 applies per mailbox; without RETURN, ESEARCH answers ALL.
        const outcome = searchOutcome(hits.matches, {
          tag: ctx.tag,
          byUid: true,
          returnOptions: program.returnOptions ?? ["ALL"],
          partial: program.returnOptions?.partial ?? null,
          rev2: true,
          withModSeq,
          mailbox: { name: ctx.encodeMailbox(mailbox.name), uidValidity: mailbox.uidValidity },
        });
        if (outcome.saved !== null && ctx.selected?.mailboxId === mailbox.id) ctx.selected.setLastSearchResult(outcome.saved);
        if (hits.matches.length > 0 && outcome.response !== null) await ctx.untagged(...outcome.response);
      }
    } catch (error) {
      if (saves) ctx.selected?.setLastSearchResult([]);
      throw error;
    }
  },
};

/** The account's mailboxes the sources name, each once: INBOX first, then by name. */
async function sourceMailboxes(ctx: CommandContext, sources: SourceFilter[] | null): Promise<Mailbox[]> {
  const account = ctx.requireAccount();
  const all = await ctx.store.listMailboxes(account.id);
  const selectedId = ctx.selected?.mailboxId ?? null;
  const wanted = new Set<number>();
  const subscribed = sources?.some((s) => s.kind === "subscribed") === true ? new Set(await ctx.store.listSubscriptions(account.id)) : new Set<string>();
  for (const source of sources ?? [{ kind: "selected" as const }]) {
    for (const mailbox of all) {
      if (sourceHas(source, mailbox, selectedId, subscribed)) wanted.add(mailbox.id);
    }
  }
  const rank = (m: Mailbox): string => (m.name === "INBOX" ? "" : m.name);
  return all.filter((m) => wanted.has(m.id)).sort((a, b) => (rank(a) < rank(b) ? -1 : rank(a) > rank(b) ? 1 : 0));
}

function sourceHas(source: SourceFilter, mailbox: Mailbox, selectedId: number | null, subscribed: ReadonlySet<string>): boolean {
  switch (source.kind) {
    case "selected":
      return mailbox.id === selectedId;
    case "inboxes":
      return mailbox.name === "INBOX";
    case "personal":
      // Every mailbox of the account is in its personal namespace (NAMESPACE: no shared ones).
      return true;
    case "subscribed":
      return subscribed.has(mailbox.name);
    case "mailboxes":
      return source.names.includes(mailbox.name);
    case "subtree":
      return source.names.some((name) => mailbox.name === name || mailbox.name.startsWith(name + HIERARCHY_DELIMITER));
    case "subtree-one":
      return source.names.some((name) => mailbox.name === name || (mailbox.name.startsWith(name + HIERARCHY_DELIMITER) && !mailbox.name.slice(name.length + 1).includes(HIERARCHY_DELIMITER)));
  }
}

/** One mailbox's matches: the selected one over the session's view, another over its stored UIDs. */
async function searchOne(ctx: CommandContext, mailbox: Mailbox, key: SearchKey<SequenceSet>, withModSeq: boolean): Promise<{ matches: SearchMatch[] }> {
  const selected = ctx.selected;
  if (selected !== null && selected.mailboxId === mailbox.id) {
    const resolved = mapSearchSets(key, (set, kind): ReadonlySet<Uid> => new Set(selected.resolve(set, kind === "uid", { pastEnd: "match-none" }).map((m) => m.uid)));
    const scope: SearchScope = { mailboxId: mailbox.id, uids: selected.allUids(), isRecent: (uid) => !ctx.rev2 && selected.isRecent(uid) };
    return { matches: toMatches(await searchMailbox(ctx.store, scope, resolved, { modseq: withModSeq })) };
  }
  const uids = Array.from((await ctx.store.selectionIndex(mailbox.id)).uids) as Uid[];
  const resolved: ResolvedSearchKey = mapSearchSets(key, (set, kind) => resolveInList(set, kind === "uid", uids));
  return { matches: toMatches(await searchMailbox(ctx.store, { mailboxId: mailbox.id, uids }, resolved, { modseq: withModSeq })) };
}

/** Sequence numbers are positions in the ascending UID list; `*` is the last message (RFC 9051 §9). */
export function resolveInList(set: SequenceSet, byUid: boolean, uids: readonly Uid[]): ReadonlySet<Uid> {
  const out = new Set<Uid>();
  // `$` was refused at parse time for any mailbox but the selected one.
  if (set.kind === "saved" || uids.length === 0) return out;
  if (!byUid) {
    for (const range of resolveRanges(set, uids.length)) {
      for (let seq = range.start; seq <= Math.min(range.end, uids.length); seq++) out.add(uids[seq - 1]!);
    }
    return out;
  }
  const ranges = resolveRanges(set, uids[uids.length - 1]!);
  for (const uid of uids) if (rangesContain(ranges, uid)) out.add(uid);
  return out;
}

function toMatches(hits: readonly SearchHit[]): SearchMatch[] {
  // Sequence numbers are not reported: every ESEARCH response carries UIDs (RFC 7377 §2).
  return hits.map((hit, i) => ({ uid: hit.uid, seq: i + 1, modseq: hit.modseq ?? (0 as ModSeq), relevancy: hit.relevancy }));
}
