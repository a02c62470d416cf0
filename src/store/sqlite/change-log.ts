// Counters and the change log. Every mutation of a mailbox takes a new modseq (RFC 7162 §3.1),
// writes its change rows in the same transaction, and UIDs are taken from uid_next, which only
// ever grows (RFC 9051 §2.3.1.1), so an expunged UID is never handed out again.
import type { MailboxChangesSince } from "../changes.js";
import { StoreError } from "../errors.js";
import type { MailboxId, ModSeq, Uid, UidValidity } from "../types.js";
import { parseFlags } from "./rows.js";
import type { StoreContext } from "./store-context.js";

/** Takes the mailbox's next modseq. */
export function nextModSeq(ctx: StoreContext, mailboxId: MailboxId): ModSeq {
  const row = ctx.sql.get<{ highest_modseq: number }>(
    "UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ? RETURNING highest_modseq",
    mailboxId,
  );
  if (!row) throw new StoreError("NONEXISTENT", "mailbox no longer exists");
  return row.highest_modseq as ModSeq;
}

/** Reserves `count` consecutive UIDs and returns the first. */
export function reserveUids(ctx: StoreContext, mailboxId: MailboxId, count: number): Uid {
  const row = ctx.sql.get<{ uid_next: number }>("UPDATE mailboxes SET uid_next = uid_next + ? WHERE id = ? RETURNING uid_next", count, mailboxId);
  if (!row) throw new StoreError("NONEXISTENT", "mailbox no longer exists");
  // RFC 9051 §2.3.1.1: UIDs are 32-bit; past that the mailbox needs a new UIDVALIDITY.
  if (row.uid_next - 1 > 0xffffffff) throw new StoreError("CANNOT", "mailbox UID space exhausted");
  return (row.uid_next - count) as Uid;
}

/**
 * A UIDVALIDITY never handed out before in this store: the current time in seconds, or one
 * more than the last one if the clock has not moved on (or went back). A mailbox deleted and
 * created again, or the mailbox made by renaming INBOX, therefore never repeats one.
 */
export function nextUidValidity(ctx: StoreContext): UidValidity {
  const last = ctx.sql.get<{ value: number }>("SELECT value FROM store_counters WHERE name = 'uid_validity'")?.value ?? 0;
  const value = Math.max(Math.floor(ctx.clock().getTime() / 1000), last + 1) % 0x100000000 || 1;
  ctx.sql.run("INSERT INTO store_counters (name, value) VALUES ('uid_validity', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value", value);
  return value as UidValidity;
}

export function logAdded(ctx: StoreContext, mailboxId: MailboxId, uid: Uid, modseq: ModSeq): void {
  ctx.sql.run("INSERT INTO changes (mailbox_id, modseq, kind, uid) VALUES (?, ?, 'added', ?)", mailboxId, modseq, uid);
}

/** Leaves only a tombstone for an expunged message (RFC 7162 §3.2.10 VANISHED (EARLIER)). */
export function logExpunged(ctx: StoreContext, mailboxId: MailboxId, uid: Uid, modseq: ModSeq): void {
  ctx.sql.run("DELETE FROM changes WHERE mailbox_id = ? AND uid = ?", mailboxId, uid);
  ctx.sql.run("INSERT INTO changes (mailbox_id, modseq, kind, uid) VALUES (?, ?, 'expunged', ?)", mailboxId, modseq, uid);
}

/**
 * Flag changes need no log rows: every changed message row carries the modseq of its last change
 * (indexed by messages_modseq), which is all changesSince reads for them. A STORE 1:* of a big
 * mailbox therefore writes its message rows and nothing per message beside them (the log rows it
 * wrote before, a DELETE and an INSERT per message, were never read). Only expunges leave rows.
 */
export function changesSince(ctx: StoreContext, mailboxId: MailboxId, modseq: ModSeq): MailboxChangesSince {
  const mailbox = ctx.sql.get<{ highest_modseq: number }>("SELECT highest_modseq FROM mailboxes WHERE id = ?", mailboxId);
  if (!mailbox) throw new StoreError("NONEXISTENT", "no such mailbox");
  const changed = ctx.sql
    .all<{ uid: number; modseq: number; flags: string }>("SELECT uid, modseq, flags FROM messages WHERE mailbox_id = ? AND modseq > ? ORDER BY uid", mailboxId, modseq)
    .map((row) => ({ uid: row.uid as Uid, modseq: row.modseq as ModSeq, flags: parseFlags(row.flags) }));
  const expunged = ctx.sql
    .all<{ uid: number }>("SELECT DISTINCT uid FROM changes WHERE mailbox_id = ? AND kind = 'expunged' AND modseq > ? ORDER BY uid", mailboxId, modseq)
    .map((row) => row.uid as Uid);
  return { highestModSeq: mailbox.highest_modseq as ModSeq, changed, expunged };
}
