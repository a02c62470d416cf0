// Removing message rows: expunge (with tombstones, RFC 7162), and dropping a whole mailbox's
// contents. Both give back the account's bytes and drop blob rows nothing refers to any more;
// the blob files are queued for the collector in the same transaction (UnitOfWork.garbage).
import type { AccountId, BlobId, MailboxId, ModSeq, Uid } from "../types.js";
import { logExpunged, nextModSeq } from "./change-log.js";
import type { StoreContext, UnitOfWork } from "./store-context.js";
import { rearmQuotaWarning } from "./accounts.js";

/** SQL condition on `blobs`: neither a message nor a hold (outbound queue) refers to the blob. */
export const UNREFERENCED_BLOB = `NOT EXISTS (SELECT 1 FROM messages WHERE messages.blob_id = blobs.id)
  AND NOT EXISTS (SELECT 1 FROM blob_holds WHERE blob_holds.blob_id = blobs.id)`;

interface RemovedRow {
  uid: number;
  size: number;
  blob_id: string;
}

/** Expunges the given existing UIDs under one new modseq; returns it (or null if none). */
export function expungeUids(ctx: StoreContext, unit: UnitOfWork, mailbox: { id: MailboxId; accountId: AccountId }, uids: readonly Uid[]): ModSeq | null {
  if (uids.length === 0) return null;
  const modseq = nextModSeq(ctx, mailbox.id);
  const removed = ctx.sql.all<RemovedRow>(
    "DELETE FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) RETURNING uid, size, blob_id",
    mailbox.id,
    JSON.stringify(uids),
  );
  removed.sort((a, b) => a.uid - b.uid);
  for (const row of removed) {
    logExpunged(ctx, mailbox.id, row.uid as Uid, modseq);
    unit.add(mailbox.accountId, { kind: "expunged", mailboxId: mailbox.id, uid: row.uid as Uid, modseq });
  }
  releaseRows(ctx, unit, mailbox.accountId, removed);
  return modseq;
}

/** Deletes every message of a mailbox that is itself being deleted (no tombstones needed). */
export function dropMailboxContents(ctx: StoreContext, unit: UnitOfWork, mailboxId: MailboxId, accountId: AccountId): void {
  const removed = ctx.sql.all<RemovedRow>("DELETE FROM messages WHERE mailbox_id = ? RETURNING uid, size, blob_id", mailboxId);
  ctx.sql.run("DELETE FROM changes WHERE mailbox_id = ?", mailboxId);
  releaseRows(ctx, unit, accountId, removed);
}

function releaseRows(ctx: StoreContext, unit: UnitOfWork, accountId: AccountId, removed: RemovedRow[]): void {
  if (removed.length === 0) return;
  const bytes = removed.reduce((sum, row) => sum + row.size, 0);
  // Freed at once (RFC 9208 §3.1: usage is what is stored now), and the usage warning re-armed
  // once below its threshold (store/quota.ts).
  ctx.sql.run("UPDATE accounts SET used_bytes = max(0, used_bytes - ?), used_messages = max(0, used_messages - ?) WHERE id = ?", bytes, removed.length, accountId);
  rearmQuotaWarning(ctx, accountId);
  const candidates = [...new Set(removed.map((row) => row.blob_id))];
  const orphaned = ctx.sql.all<{ id: string }>(
    `DELETE FROM blobs WHERE id IN (SELECT value FROM json_each(?))
       AND ${UNREFERENCED_BLOB} RETURNING id`,
    JSON.stringify(candidates),
  );
  for (const row of orphaned) unit.garbage.add(row.id as BlobId);
}
