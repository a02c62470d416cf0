// RFC 9738 MESSAGELIMIT: with `[imap] message_limit = n` the server advertises MESSAGELIMIT=n
// (session/capabilities.ts) and no command processes more than n messages:
// - FETCH, STORE, SEARCH, MOVE and UID EXPUNGE (and their UID forms) process the n messages with
//   the highest UIDs of what they name and finish `OK [MESSAGELIMIT n uid]`, uid being the lowest
//   UID processed, so the client asks again for the UIDs below it (UIDBEFORE uid, or UID 1:uid-1);
//   when the tagged OK already has a code (MODIFIED, EXPUNGEISSUED) an untagged
//   `* NO [MESSAGELIMIT n uid]` carries it instead (session/imap-session.ts). SEARCH counts the
//   messages it searches: those its top-level sequence sets, UID, UIDAFTER and UIDBEFORE keys
//   leave. UID EXPUNGE counts the \Deleted messages it would remove.
// - COPY and APPEND (all messages of a MULTIAPPEND) of more than n messages, and a FETCH PARTIAL
//   range longer than n, fail with `NO [MESSAGELIMIT n]` and change nothing: a partial copy would
//   mislead the client.
// - EXPUNGE, CLOSE and STATUS are not limited (they name no set), nor SORT and THREAD: RFC 9738's
//   scope is FETCH, SEARCH, STORE, COPY, MOVE, APPEND and UID EXPUNGE, and an order or a thread
//   tree is about the whole mailbox, which a client could not assemble from pieces.
// UIDAFTER and UIDBEFORE (protocol/search-key.ts) are parsed as UID ranges.
import type { Uid } from "../../store/index.js";
import type { SearchKey } from "../protocol/search-key.js";
import type { CommandContext } from "./command.js";
import { ImapError } from "./imap-error.js";

/**
 * The last `limit` items (ascending by UID) when there are more, noting the lowest UID kept for
 * the tagged OK; all of them otherwise.
 */
export function keepHighest<T>(ctx: CommandContext, items: readonly T[], uidOf: (item: T) => number): readonly T[] {
  const limit = ctx.messageLimit ?? null;
  if (limit === null || items.length <= limit) return items;
  const kept = items.slice(items.length - limit);
  ctx.messageLimitReached(uidOf(kept[0] as T));
  return kept;
}

/** `NO [MESSAGELIMIT n]` for a command that must process all it names or nothing. */
export function refuseOverLimit(ctx: CommandContext, count: number, what: string): void {
  const limit = ctx.messageLimit ?? null;
  if (limit !== null && count > limit) throw ImapError.no(`MESSAGELIMIT ${limit}`, `${what} would process ${count} messages, more than the limit of ${limit}`);
}

/**
 * The messages a search program looks at: `all` (ascending) narrowed by the sets among its
 * top-level keys (a sequence set, UID, UIDAFTER, UIDBEFORE; inside OR or NOT they narrow nothing).
 */
export function searchUniverse(key: SearchKey<ReadonlySet<Uid>>, all: readonly Uid[]): readonly Uid[] {
  const top = key.kind === "and" ? key.keys : [key];
  let universe = all;
  for (const k of top) if (k.kind === "sequence" || k.kind === "uid") universe = universe.filter((uid) => k.set.has(uid));
  return universe;
}
