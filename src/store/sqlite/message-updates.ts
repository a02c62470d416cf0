// Changes to existing messages: flags (RFC 9051 §6.4.6 with RFC 7162 UNCHANGEDSINCE), expunge
// (§6.4.3, UID EXPUNGE of RFC 4315), POP3's removal at QUIT, COPY (§6.4.7) and MOVE (RFC 6851).
// Each runs inside one commit-queue unit, so it is atomic and announced only after COMMIT.
import { StoreError } from "../errors.js";
import type { ExpungeResult, FlagUpdate, FlagUpdateResult, UidMapping } from "../mail-store.js";
import type { AccountId, BlobId, Flag, Mailbox, MailboxId, Uid } from "../types.js";
import { logAdded, nextModSeq, reserveUids } from "./change-log.js";
import { applyFlagUpdate, hasFlag, normaliseFlags, sameFlags } from "./flag-rules.js";
import { requireMailbox } from "./mailboxes.js";
import { expungeUids } from "./message-removal.js";
import { addUsage, checkQuota, insertMessageRow } from "./messages.js";
import type { UsageDelta } from "../quota.js";
import { parseFlags } from "./rows.js";
import type { StoreContext, UnitOfWork } from "./store-context.js";

interface FlagRow {
  uid: number;
  modseq: number;
  flags: string;
}

const uidList = (uids: readonly Uid[]): string => JSON.stringify(uids.filter((uid) => Number.isSafeInteger(uid) && uid > 0));

export function updateFlagsInTransaction(ctx: StoreContext, unit: UnitOfWork, mailboxId: MailboxId, uids: readonly Uid[], update: FlagUpdate): FlagUpdateResult {
  const mailbox = requireMailbox(ctx, mailboxId);
  if (!["set", "add", "remove"].includes(update.mode)) throw new StoreError("INVALID", `unknown flag update mode ${String(update.mode)}`);
  const flags = normaliseFlags(update.flags);
  const rows = ctx.sql.all<FlagRow>("SELECT uid, modseq, flags FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid", mailboxId, uidList(uids));
  const result: FlagUpdateResult = { updated: [], modified: [] };
  const changed: { uid: Uid; flags: Flag[] }[] = [];
  // Changed rows grouped by (old flags, new flags): each group is one set-based UPDATE.
  // Keyed by the stored flags text: the update is worked out once per distinct flag list (a
  // mailbox has few), not parsed and applied per message. Messages of one group share one
  // `to` array in the result and in the change events; nothing downstream modifies it.
  const groups = new Map<string, { from: Flag[]; to: Flag[]; same: boolean; uids: Uid[] }>();
  for (const row of rows) {
    // RFC 7162 §3.1.3: a message changed since the client's view is left alone and reported.
    if (update.unchangedSince !== undefined && row.modseq > update.unchangedSince) {
      result.modified.push(row.uid as Uid);
      continue;
    }
    let group = groups.get(row.flags);
    if (group === undefined) {
      const current = parseFlags(row.flags);
      const next = applyFlagUpdate(current, update.mode, flags);
      group = { from: current, to: next, same: sameFlags(current, next), uids: [] };
      groups.set(row.flags, group);
    }
    if (group.same) continue;
    changed.push({ uid: row.uid as Uid, flags: group.to });
    group.uids.push(row.uid as Uid);
  }
  if (changed.length === 0) return result;
  // One modseq for the whole update: every changed row gets it, so each changed message's modseq
  // rises (RFC 7162 §3.1.3) and CHANGEDSINCE/QRESYNC see it. The rows are written set-based, one
  // UPDATE per distinct (old flags, new flags) pair (STORE 1:* +FLAGS (\Flagged) over unflagged
  // messages is one statement), the UIDs named through json_each in an IN list, which SQLite
  // answers with a primary-key lookup per UID (UPDATE ... FROM json_each scans the mailbox per
  // UID instead). seen/deleted are set only when the group changes them: a column in the SET list
  // makes SQLite rewrite the entries of every index that reads it (messages_unseen, migration 10)
  // even when the value stays the same.
  const modseq = nextModSeq(ctx, mailboxId);
  for (const group of groups.values()) {
    if (group.same) continue;
    const columns = ["flags = ?", "modseq = ?"];
    const values: (string | number)[] = [JSON.stringify(group.to), modseq];
    for (const [column, flag] of [["seen", "\\Seen"], ["deleted", "\\Deleted"]] as const) {
      const now = hasFlag(group.to, flag);
      if (now !== hasFlag(group.from, flag)) {
        columns.push(`${column} = ?`);
        values.push(now ? 1 : 0);
      }
    }
    ctx.sql.run(`UPDATE messages SET ${columns.join(", ")} WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))`, ...values, mailboxId, JSON.stringify(group.uids));
  }
  // No change-log rows: changesSince reads flag changes from the rows' modseq (change-log.ts).
  for (const { uid, flags: next } of changed) {
    unit.add(mailbox.accountId, { kind: "flags", mailboxId, uid, modseq, flags: next });
    result.updated.push({ uid, modseq, flags: next });
  }
  return result;
}

/** Expunges the messages flagged \Deleted, all of them or only those among `uids`. */
export function expungeDeletedInTransaction(ctx: StoreContext, unit: UnitOfWork, mailboxId: MailboxId, uids?: readonly Uid[]): ExpungeResult {
  const mailbox = requireMailbox(ctx, mailboxId);
  const doomed = (
    uids === undefined
      ? ctx.sql.all<{ uid: number }>("SELECT uid FROM messages WHERE mailbox_id = ? AND deleted = 1 ORDER BY uid", mailboxId)
      : ctx.sql.all<{ uid: number }>("SELECT uid FROM messages WHERE mailbox_id = ? AND deleted = 1 AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid", mailboxId, uidList(uids))
  ).map((row) => row.uid as Uid);
  return expungeResult(ctx, unit, mailbox, doomed);
}

/** Removes the given messages whatever their flags. */
export function removeMessagesInTransaction(ctx: StoreContext, unit: UnitOfWork, mailboxId: MailboxId, uids: readonly Uid[]): ExpungeResult {
  const mailbox = requireMailbox(ctx, mailboxId);
  const present = ctx.sql
    .all<{ uid: number }>("SELECT uid FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid", mailboxId, uidList(uids))
    .map((row) => row.uid as Uid);
  return expungeResult(ctx, unit, mailbox, present);
}

function expungeResult(ctx: StoreContext, unit: UnitOfWork, mailbox: Mailbox, uids: Uid[]): ExpungeResult {
  const modseq = expungeUids(ctx, unit, mailbox, uids);
  return { expunged: uids, highestModSeq: modseq ?? mailbox.highestModSeq };
}

interface CopySourceRow {
  uid: number;
  flags: string;
  internal_date: number;
  size: number;
  blob_id: string;
  prefix: Buffer | null;
  email_id: string | null;
  thread_id: string | null;
}

/** COPY: new UIDs in the target in ascending source order; the blob is shared, not copied. */
export function copyMessagesInTransaction(ctx: StoreContext, unit: UnitOfWork, sourceId: MailboxId, uids: readonly Uid[], targetId: MailboxId, countQuota = true): UidMapping {
  const source = requireMailbox(ctx, sourceId);
  const target = requireMailbox(ctx, targetId);
  const rows = ctx.sql.all<CopySourceRow>(
    "SELECT uid, flags, internal_date, size, blob_id, prefix, email_id, thread_id FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
    sourceId,
    uidList(uids),
  );
  const mapping: UidMapping = { uidValidity: target.uidValidity, pairs: [] };
  if (rows.length === 0) return mapping;
  const bytes = new Map<AccountId, UsageDelta>([[target.accountId, { bytes: rows.reduce((sum, row) => sum + row.size, 0), messages: rows.length }]]);
  // Into another account (a shared mailbox, RFC 4314) the copy is the target owner's to pay for,
  // also for MOVE.
  if (countQuota || source.accountId !== target.accountId) checkQuota(ctx, bytes);
  const firstUid = reserveUids(ctx, targetId, rows.length);
  const modseq = nextModSeq(ctx, targetId);
  rows.forEach((row, index) => {
    const uid = (firstUid + index) as Uid;
    insertMessageRow(ctx, targetId, uid, modseq, {
      flags: parseFlags(row.flags) as Flag[],
      internalDate: row.internal_date,
      size: row.size,
      blobId: row.blob_id as BlobId,
      prefix: row.prefix,
      // RFC 8474 §5.1: the copy is the same message (same EMAILID and THREADID); RFC 8514 §4:
      // its save date is now.
      emailId: row.email_id,
      threadId: row.thread_id,
    });
    logAdded(ctx, targetId, uid, modseq);
    unit.add(target.accountId, { kind: "added", mailboxId: targetId, uid, modseq });
    mapping.pairs.push([row.uid as Uid, uid]);
  });
  addUsage(ctx, bytes);
  return mapping;
}

/**
 * MOVE (RFC 6851 §3.3): copy and expunge in one transaction. Within one account the bytes
 * stored do not change, so the quota is not checked (a full mailbox can still be tidied).
 */
export function moveMessagesInTransaction(ctx: StoreContext, unit: UnitOfWork, sourceId: MailboxId, uids: readonly Uid[], targetId: MailboxId): UidMapping {
  const mapping = copyMessagesInTransaction(ctx, unit, sourceId, uids, targetId, false);
  const source = requireMailbox(ctx, sourceId);
  expungeUids(ctx, unit, source, mapping.pairs.map(([from]) => from));
  return mapping;
}

