// RFC 5267 §4.3 (CONTEXT=SEARCH, CONTEXT=SORT): a SEARCH, UID SEARCH, SORT or UID SORT with
// RETURN (UPDATE) leaves a live context behind; as the selected mailbox changes (new messages,
// flag changes, expunges) the session sends
//   * ESEARCH (TAG "t") [UID] REMOVEFROM (pos set) ADDTO (pos set)
// so the client's copy of the result stays the result the same command would give now.
// - Position 0 for SEARCH contexts (§4.3.3: the client keeps mailbox order), the 1-based position
//   in sort order for SORT contexts (each pair processed in turn, §4.3.3/§4.3.4).
// - Sequence numbers and `$` in the criteria are resolved to UIDs when the command runs (§4.3:
//   "evaluated at the time the command is received").
// - A removal by expunge goes out before the EXPUNGE/VANISHED that reports it, with the numbers
//   the client still knows (§4.3.4); additions of new messages after their EXISTS (§4.3.3).
// - Contexts live with one SelectedMailbox (a WeakMap here, so a new SELECT, CLOSE, UNSELECT or
//   UNAUTHENTICATE ends them: "updates will cease when the mailbox is no longer selected") or
//   until CANCELUPDATE. At most [imap] search_max_update_contexts per session, beyond that
//   `* NO [NOUPDATE "tag"]` (§4.3.1); each live context re-runs its search when the mailbox
//   changes, which is what the limit bounds.
import type { MailStore, SortFacts, Uid } from "../../store/index.js";
import type { CommandContext } from "../commands/command.js";
import { ImapError } from "../commands/imap-error.js";
import { atom, list, num, str, type ImapValue } from "../protocol/response-value.js";
import { encodeNumbers } from "../protocol/sequence-set.js";
import type { SelectedMailbox } from "../session/selected-mailbox.js";
import { sortRows, sortValue, type SortCriterion, type SortRow } from "../sort/sort-keys.js";
import type { ResolvedSearchKey } from "./evaluate.js";
import { searchMailbox } from "./search-mailbox.js";

export interface UpdateContext {
  readonly tag: string;
  /** UID SEARCH / UID SORT: updates carry UIDs, else sequence numbers (§4.3.2). */
  readonly byUid: boolean;
  /** The criteria, message sets already resolved to UIDs. */
  readonly key: ResolvedSearchKey;
  /** SORT's criteria; null for SEARCH (mailbox order). */
  readonly sort: readonly SortCriterion[] | null;
  /** The result the client holds, in the requested order. */
  result: Uid[];
}

/** One SelectedMailbox's live contexts. */
export class SearchUpdates {
  private readonly contexts = new Map<string, UpdateContext>();
  private touched = false;

  constructor(readonly limit: number) {}

  get size(): number {
    return this.contexts.size;
  }

  has(tag: string): boolean {
    return this.contexts.has(tag);
  }

  /** False when the limit is reached (the caller answers NO [NOUPDATE]). */
  add(context: UpdateContext): boolean {
    if (this.contexts.size >= this.limit) return false;
    this.contexts.set(context.tag, context);
    return true;
  }

  /** RFC 5267 §4.3.5 CANCELUPDATE: the tags without a context, none cancelled when any is unknown. */
  cancel(tags: readonly string[]): string[] {
    const unknown = tags.filter((t) => !this.contexts.has(t));
    if (unknown.length === 0) for (const tag of tags) this.contexts.delete(tag);
    return unknown;
  }

  /** A change the sync will not report (the session's own STORE answered its FETCH itself). */
  touch(): void {
    this.touched = true;
  }

  /** Sequence-number contexts need the view as it was before a sync renumbers it. */
  needsSnapshot(): boolean {
    for (const c of this.contexts.values()) if (!c.byUid) return true;
    return false;
  }

  all(): IterableIterator<UpdateContext> {
    return this.contexts.values();
  }

  takeTouched(): boolean {
    const was = this.touched;
    this.touched = false;
    return was;
  }
}

const registry = new WeakMap<SelectedMailbox, SearchUpdates>();

/** The live contexts of this selected mailbox, if any was created. */
export function searchUpdatesOf(selected: SelectedMailbox | null): SearchUpdates | undefined {
  return selected === null ? undefined : registry.get(selected);
}

export function searchUpdatesFor(selected: SelectedMailbox, limit: number): SearchUpdates {
  let updates = registry.get(selected);
  if (updates === undefined) {
    updates = new SearchUpdates(limit);
    registry.set(selected, updates);
  }
  return updates;
}

/** The context's result now: the search over the session's view, in the requested order. */
export async function evaluateContext(store: MailStore, selected: SelectedMailbox, context: Pick<UpdateContext, "key" | "sort">, rev2: boolean): Promise<Uid[]> {
  const hits = await searchMailbox(store, { mailboxId: selected.mailboxId, uids: selected.allUids(), isRecent: (uid) => !rev2 && selected.isRecent(uid) }, context.key);
  const live = hits.filter((h) => selected.toSeq(h.uid) !== null && !selected.isExpunged(h.uid));
  if (context.sort === null) return live.map((h) => h.uid);
  const criteria = context.sort;
  const keys = criteria.map((c) => c.key);
  const rows: (SortRow & { uid: Uid })[] = [];
  const PAGE = 1000;
  for (let at = 0; at < live.length; at += PAGE) {
    const page = live.slice(at, at + PAGE);
    const facts = new Map<number, SortFacts>();
    for (const f of await store.getSortFacts(selected.mailboxId, page.map((h) => h.uid), false)) facts.set(f.uid, f);
    for (const hit of page) {
      const f = facts.get(hit.uid);
      const seq = selected.toSeq(hit.uid);
      if (f === undefined || seq === null) continue;
      rows.push({ uid: hit.uid, seq, values: keys.map((k) => sortValue(k, f, hit.relevancy ?? 100)) });
    }
  }
  return sortRows(rows, criteria).map((r) => (r as SortRow & { uid: Uid }).uid);
}

/** A position and the numbers placed at (ADDTO) or taken from (REMOVEFROM) it, in order. */
export type ContextPair = { position: number; uids: Uid[] };

/**
 * The REMOVEFROM and ADDTO pairs that turn `before` into `after` (RFC 5267 §4.3.3/§4.3.4), for a
 * sorted context; `before` is not changed. Removals first (positions at the moment of each
 * removal), then insertions in ascending final position, so each lands where `after` has it.
 */
export function sortedDiff(before: readonly Uid[], after: readonly Uid[]): { removed: ContextPair[]; added: ContextPair[] } {
  const wanted = new Set(after);
  let kept = before.filter((u) => wanted.has(u));
  const keptSet = new Set(kept);
  const afterKept = after.filter((u) => keptSet.has(u));
  // Sort keys do not change for a stored message; should the order of kept ones differ anyway,
  // they are taken out and put back rather than left wrong.
  const reorder = afterKept.some((u, i) => kept[i] !== u);
  if (reorder) kept = [];
  const removed: ContextPair[] = [];
  const stay = new Set(kept);
  let position = 0;
  for (const uid of before) {
    if (stay.has(uid)) {
      position++;
      continue;
    }
    // Removed at position+1: only the survivors before it are left there, and what follows
    // shifts into it, so a run of removals shares one position.
    const at = position + 1;
    const last = removed[removed.length - 1];
    if (last !== undefined && last.position === at) last.uids.push(uid);
    else removed.push({ position: at, uids: [uid] });
  }
  const added: ContextPair[] = [];
  for (let j = 0; j < after.length; j++) {
    const uid = after[j]!;
    if (stay.has(uid)) continue;
    const last = added[added.length - 1];
    if (last !== undefined && last.position + last.uids.length === j + 1) last.uids.push(uid);
    else added.push({ position: j + 1, uids: [uid] });
  }
  return { removed, added };
}

/** Mailbox-order diff of a SEARCH context: UIDs gone and UIDs new, ascending. */
export function unsortedDiff(before: readonly Uid[], after: readonly Uid[]): { removed: Uid[]; added: Uid[] } {
  const a = new Set(after);
  const b = new Set(before);
  return { removed: before.filter((u) => !a.has(u)), added: after.filter((u) => !b.has(u)) };
}

/** Renders UIDs as the context's numbers: UIDs, or sequence numbers through `seqOf`. */
type Numbering = (uid: Uid) => number;

function pairValues(pairs: readonly ContextPair[], numberOf: Numbering, sorted: boolean): ImapValue[] {
  const items: ImapValue[] = [];
  for (const pair of pairs) {
    const numbers = pair.uids.map(numberOf);
    items.push(num(pair.position), atom(sorted ? orderedRuns(numbers) : encodeNumbers([...numbers].sort((x, y) => x - y))));
  }
  return items;
}

/** An order-keeping sequence-set (as ESORT's ALL): ascending runs by one become `a:b`. */
function orderedRuns(numbers: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < numbers.length) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j]! + 1) j++;
    parts.push(j > i ? `${numbers[i]}:${numbers[j]}` : String(numbers[i]));
    i = j + 1;
  }
  return parts.join(",");
}

/** `* ESEARCH (TAG "t") [UID] REMOVEFROM (...) ADDTO (...)`, or null when nothing changed. */
function updateResponse(context: UpdateContext, removed: readonly ContextPair[], added: readonly ContextPair[], numberOf: Numbering): ImapValue[] | null {
  if (removed.length === 0 && added.length === 0) return null;
  const values: ImapValue[] = [atom("ESEARCH"), list([atom("TAG"), str(context.tag)])];
  if (context.byUid) values.push(atom("UID"));
  const sorted = context.sort !== null;
  if (removed.length > 0) values.push(atom("REMOVEFROM"), list(pairValues(removed, numberOf, sorted)));
  if (added.length > 0) values.push(atom("ADDTO"), list(pairValues(added, numberOf, sorted)));
  return values;
}

function diffPairs(context: UpdateContext, next: readonly Uid[]): { removed: ContextPair[]; added: ContextPair[] } {
  if (context.sort !== null) return sortedDiff(context.result, next);
  const { removed, added } = unsortedDiff(context.result, next);
  return { removed: removed.length > 0 ? [{ position: 0, uids: removed }] : [], added: added.length > 0 ? [{ position: 0, uids: added }] : [] };
}

const isExpungeResponse = (r: readonly ImapValue[]): boolean =>
  (r[0]?.kind === "atom" && r[0].value === "VANISHED") || (r[1]?.kind === "atom" && r[1].value === "EXPUNGE");

/**
 * Weaves the contexts' updates into a sync's responses (selected-mailbox.ts sync): REMOVEFROM for
 * expunged results before the first EXPUNGE/VANISHED, numbered as in `before` (the view before
 * the sync, needed for sequence-number contexts); then, when anything changed, each context is
 * re-run and its REMOVEFROM/ADDTO follows the EXISTS and FETCH responses.
 */
export async function weaveSearchUpdates(
  updates: SearchUpdates,
  selected: SelectedMailbox,
  store: MailStore,
  responses: readonly ImapValue[][],
  before: readonly Uid[] | null,
  rev2: boolean,
): Promise<ImapValue[][]> {
  const touched = updates.takeTouched();
  if (updates.size === 0) return [...responses];
  const early: ImapValue[][] = [];
  const oldSeq = (uid: Uid): number => {
    // `before` is ascending: a binary search for the old position.
    let low = 0;
    let high = before?.length ?? 0;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (before![mid]! < uid) low = mid + 1;
      else high = mid;
    }
    return low + 1;
  };
  for (const context of updates.all()) {
    const remaining = context.result.filter((uid) => selected.toSeq(uid) !== null);
    if (remaining.length === context.result.length) continue;
    const { removed } = diffPairs(context, remaining);
    const response = updateResponse(context, removed, [], context.byUid ? (uid) => uid : oldSeq);
    if (response !== null) early.push(response);
    context.result = remaining;
  }
  const out = [...responses];
  if (early.length > 0) {
    const at = out.findIndex(isExpungeResponse);
    out.splice(at < 0 ? 0 : at, 0, ...early);
  }
  if (responses.length === 0 && !touched && early.length === 0) return out;
  for (const context of updates.all()) {
    const next = await evaluateContext(store, selected, context, rev2);
    const { removed, added } = diffPairs(context, next);
    const response = updateResponse(context, removed, added, context.byUid ? (uid) => uid : (uid) => selected.toSeq(uid) ?? 0);
    if (response !== null) out.push(response);
    context.result = next;
  }
  return out;
}

/** RFC 5267 §4.3: UPDATE with the tag of a live context is BAD (checked before the search runs). */
export function checkUpdateTag(ctx: CommandContext): void {
  if (searchUpdatesOf(ctx.selected)?.has(ctx.tag) === true) throw ImapError.bad(null, `tag ${ctx.tag.slice(0, 40)} is in use by an updating search`);
}

/**
 * After the answer: the context joins the live ones, or `* NO [NOUPDATE "tag"]` when the limit
 * is reached (§4.3.1: the other return options were honoured all the same).
 */
export async function registerUpdate(ctx: CommandContext, limit: number, context: Omit<UpdateContext, "tag" | "byUid">): Promise<void> {
  const selected = ctx.requireSelected();
  const updates = searchUpdatesFor(selected, limit);
  if (!updates.add({ tag: ctx.tag, byUid: ctx.byUid, ...context })) {
    await ctx.untaggedStatus("NO", `NOUPDATE ${quoted(ctx.tag)}`, `At most ${limit} updating searches per session`);
  }
}

function quoted(text: string): string {
  return `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
