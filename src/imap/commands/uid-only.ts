// RFC 9586 UIDONLY: after `ENABLE UIDONLY` the client and the server stop using message sequence
// numbers. The session keeps its sequence map (selected-mailbox.ts) for its own bookkeeping; only
// the wire changes:
// - the non-UID forms of commands taking sequence numbers (FETCH, STORE, SEARCH, COPY, MOVE,
//   SORT, THREAD, REPLACE) are `BAD [UIDREQUIRED]`, checked with the command's head, before its
//   arguments or any literal (session/command-head.ts);
// - a sequence-set search key (`UID SEARCH 1:5`) and QRESYNC's seq-match-data are
//   `BAD [UIDREQUIRED]` too (mox answers both the same way);
// - FETCH responses become `* <uid> UIDFETCH (...)` (command-context.ts, the writers below and
//   selected-mailbox.ts for unsolicited flag changes);
// - EXPUNGE responses become `VANISHED <uids>` as under QRESYNC (selected-mailbox.ts);
// - SELECT's `OK [UNSEEN n]` (a sequence number) is not sent.
// EXISTS and RECENT are counts, not sequence numbers, and stay.
import type { SearchKey } from "../protocol/search-key.js";
import { someSearchKey } from "../protocol/search-key.js";
import type { SequenceSet } from "../protocol/sequence-set.js";
import type { AnyImapCommand, ParseContext } from "./command.js";
import { ImapError } from "./imap-error.js";

/** RFC 9586 §3.2: the response code of every refusal of a sequence number. */
export function uidRequired(what: string): ImapError {
  return ImapError.bad("UIDREQUIRED", `${what}: message sequence numbers are not allowed after ENABLE UIDONLY`);
}

/** The non-UID form of a command that has a UID form and takes or returns sequence numbers. */
export function needsUidForm(command: AnyImapCommand, byUid: boolean): boolean {
  return !byUid && command.uid && (command.sequenceUse === "uses" || command.sequenceUse === "uses-and-breaks");
}

/** Throws `BAD [UIDREQUIRED]` for a search program naming messages by sequence number (`$` is allowed). */
export function refuseSequenceKeys(key: SearchKey<SequenceSet>, ctx: ParseContext): void {
  if (!ctx.enabled.has("UIDONLY")) return;
  if (someSearchKey(key, (k) => k.kind === "sequence" && k.set.kind === "ranges")) throw uidRequired("search key");
}

/** The start of one FETCH response written as text: `* 7 FETCH (` or, under UIDONLY, `* 42 UIDFETCH (`. */
export function fetchLead(uidOnly: boolean, seq: number, uid: number): string {
  return uidOnly ? `* ${uid} UIDFETCH (` : `* ${seq} FETCH (`;
}
