// RFC 3501 §2.3.2 \Recent, as Dovecot keeps it: one "first recent UID" per mailbox. A session that
// selects the mailbox read-write (or is told of new messages while it has it selected) claims the
// messages from that boundary up to uid_next by moving the boundary; the UPDATE ... RETURNING
// runs in one transaction, so two claims never cover the same UID. IMAP4rev2 has no \Recent.
import type { RecentClaim } from "../mail-store.js";
import { StoreError } from "../errors.js";
import type { MailboxId, Uid } from "../types.js";
import type { StoreContext } from "./store-context.js";

export function claimRecentInTransaction(ctx: StoreContext, mailboxId: MailboxId): RecentClaim {
  const before = ctx.sql.get<{ first_recent_uid: number }>("SELECT first_recent_uid FROM mailboxes WHERE id = ?", mailboxId);
  if (!before) throw new StoreError("NONEXISTENT", "no such mailbox");
  const after = ctx.sql.get<{ first_recent_uid: number }>(
    "UPDATE mailboxes SET first_recent_uid = max(first_recent_uid, uid_next) WHERE id = ? RETURNING first_recent_uid",
    mailboxId,
  )!;
  return { first: before.first_recent_uid as Uid, next: after.first_recent_uid as Uid };
}

/** The range a claim would take now, without taking it. */
export function peekRecent(ctx: StoreContext, mailboxId: MailboxId): RecentClaim {
  const row = ctx.sql.get<{ first_recent_uid: number; uid_next: number }>("SELECT first_recent_uid, uid_next FROM mailboxes WHERE id = ?", mailboxId);
  if (!row) throw new StoreError("NONEXISTENT", "no such mailbox");
  return { first: row.first_recent_uid as Uid, next: Math.max(row.first_recent_uid, row.uid_next) as Uid };
}

export function countRecent(ctx: StoreContext, mailboxId: MailboxId): number {
  const row = ctx.sql.get<{ recent: number | null }>(
    "SELECT (SELECT count(*) FROM messages WHERE mailbox_id = b.id AND uid >= b.first_recent_uid) AS recent FROM mailboxes b WHERE b.id = ?",
    mailboxId,
  );
  if (!row) throw new StoreError("NONEXISTENT", "no such mailbox");
  return row.recent ?? 0;
}
