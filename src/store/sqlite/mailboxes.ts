// Mailboxes and subscriptions: the hierarchy rules of RFC 9051 §6.3 as the store enforces them.
// Functions named *InTransaction run inside a commit-queue unit of work; the others only read.
import { StoreError } from "../errors.js";
import type { CreateMailboxOptions } from "../mail-store.js";
import type { AccountId, Mailbox, MailboxId, MailboxStatus, ModSeq, SpecialUse, Uid, UidValidity } from "../types.js";
import { HIERARCHY_DELIMITER, SPECIAL_USES } from "../types.js";
import { logExpunged, nextModSeq, nextUidValidity } from "./change-log.js";
import { checkUid32 } from "./checks.js";
import { INBOX, isWithin, normaliseMailboxName, parentNames } from "./mailbox-names.js";
import { dropMailboxContents } from "./message-removal.js";
import { MAILBOX_COLUMNS, type MailboxRow, toMailbox } from "./rows.js";
import type { StoreContext, UnitOfWork } from "./store-context.js";

export function listMailboxes(ctx: StoreContext, accountId: AccountId): Mailbox[] {
  return ctx.sql.all<MailboxRow>(`SELECT ${MAILBOX_COLUMNS} FROM mailboxes m WHERE m.account_id = ? ORDER BY m.id`, accountId).map(toMailbox);
}

export function findMailbox(ctx: StoreContext, accountId: AccountId, name: string): Mailbox | null {
  const row = ctx.sql.get<MailboxRow>(`SELECT ${MAILBOX_COLUMNS} FROM mailboxes m WHERE m.account_id = ? AND m.name = ?`, accountId, name);
  return row ? toMailbox(row) : null;
}

export function findMailboxById(ctx: StoreContext, mailboxId: MailboxId): Mailbox | null {
  const row = ctx.sql.get<MailboxRow>(`SELECT ${MAILBOX_COLUMNS} FROM mailboxes m WHERE m.id = ?`, mailboxId);
  return row ? toMailbox(row) : null;
}

export function requireMailbox(ctx: StoreContext, mailboxId: MailboxId): Mailbox {
  const mailbox = findMailboxById(ctx, mailboxId);
  if (!mailbox) throw new StoreError("NONEXISTENT", "no such mailbox");
  return mailbox;
}

function requireAccount(ctx: StoreContext, accountId: AccountId): void {
  if (!ctx.sql.get("SELECT 1 FROM accounts WHERE id = ?", accountId)) throw new StoreError("NONEXISTENT", "no such account");
}

function checkSpecialUse(specialUse: unknown): SpecialUse | null {
  if (specialUse === undefined || specialUse === null) return null;
  if (!SPECIAL_USES.includes(specialUse as SpecialUse)) throw new StoreError("INVALID", `unknown special-use ${JSON.stringify(specialUse)}`);
  return specialUse as SpecialUse;
}

/** Inserts one mailbox row with a fresh UIDVALIDITY and announces it. */
function insertMailbox(ctx: StoreContext, unit: UnitOfWork, accountId: AccountId, name: string, specialUse: SpecialUse | null, kept?: number): MailboxId {
  const uidValidity = kept ?? nextUidValidity(ctx);
  const row = ctx.sql.get<{ id: number }>(
    "INSERT INTO mailboxes (account_id, name, special_use, uid_validity) VALUES (?, ?, ?, ?) RETURNING id",
    accountId,
    name,
    specialUse,
    uidValidity,
  );
  const mailboxId = row!.id as MailboxId;
  unit.add(accountId, { kind: "mailbox-created", mailboxId, name });
  return mailboxId;
}

/** Creates every missing superior of `name` (RFC 9051 §6.3.4). */
function createParents(ctx: StoreContext, unit: UnitOfWork, accountId: AccountId, name: string): void {
  for (const parent of parentNames(name)) {
    if (!findMailbox(ctx, accountId, parent)) insertMailbox(ctx, unit, accountId, parent, null);
  }
}

export function createMailboxInTransaction(ctx: StoreContext, unit: UnitOfWork, accountId: AccountId, rawName: string, options: CreateMailboxOptions = {}): Mailbox {
  const name = normaliseMailboxName(rawName);
  const specialUse = checkSpecialUse(options.specialUse);
  const kept = options.uidValidity === undefined ? undefined : checkUid32(options.uidValidity, "UIDVALIDITY");
  requireAccount(ctx, accountId);
  if (findMailbox(ctx, accountId, name)) throw new StoreError("ALREADYEXISTS", `mailbox ${name} already exists`);
  createParents(ctx, unit, accountId, name);
  const mailboxId = insertMailbox(ctx, unit, accountId, name, specialUse, kept);
  if (options.subscribed) setSubscribedInTransaction(ctx, unit, accountId, name, true);
  return requireMailbox(ctx, mailboxId);
}

/** MailStore.adoptUidValidity: only while the mailbox has never held a message. */
export function adoptUidValidityInTransaction(ctx: StoreContext, mailboxId: MailboxId, uidValidity: UidValidity): Mailbox {
  const value = checkUid32(uidValidity, "UIDVALIDITY");
  requireMailbox(ctx, mailboxId);
  const changed = ctx.sql.run("UPDATE mailboxes SET uid_validity = ? WHERE id = ? AND uid_next = 1", value, mailboxId);
  if (changed.changes === 0) throw new StoreError("CANNOT", "the mailbox has held messages: its UIDVALIDITY stays");
  return requireMailbox(ctx, mailboxId);
}

export function renameMailboxInTransaction(ctx: StoreContext, unit: UnitOfWork, accountId: AccountId, rawOld: string, rawNew: string): void {
  const oldName = normaliseMailboxName(rawOld);
  const newName = normaliseMailboxName(rawNew);
  const source = findMailbox(ctx, accountId, oldName);
  if (!source) throw new StoreError("NONEXISTENT", `no mailbox ${oldName}`);
  if (findMailbox(ctx, accountId, newName)) throw new StoreError("ALREADYEXISTS", `mailbox ${newName} already exists`);
  if (oldName === INBOX) return renameInbox(ctx, unit, source, newName);
  if (isWithin(newName, oldName)) throw new StoreError("CANNOT", "cannot rename a mailbox into itself");
  createParents(ctx, unit, accountId, newName);
  const moving = listMailboxes(ctx, accountId).filter((mailbox) => isWithin(mailbox.name, oldName));
  for (const mailbox of moving) {
    const renamed = newName + mailbox.name.slice(oldName.length);
    if (findMailbox(ctx, accountId, renamed)) throw new StoreError("ALREADYEXISTS", `mailbox ${renamed} already exists`);
    ctx.sql.run("UPDATE mailboxes SET name = ? WHERE id = ?", renamed, mailbox.id);
    unit.add(accountId, { kind: "mailbox-renamed", mailboxId: mailbox.id, oldName: mailbox.name, name: renamed });
    // Dovecot's behaviour: a subscribed mailbox stays subscribed under its new name.
    if (mailbox.subscribed) {
      setSubscribedInTransaction(ctx, unit, accountId, mailbox.name, false);
      setSubscribedInTransaction(ctx, unit, accountId, renamed, true);
    }
  }
}

/**
 * RFC 9051 §6.3.6: renaming INBOX moves all its messages to a new mailbox and leaves INBOX
 * empty; INBOX's inferiors are not moved. The new mailbox has its own UIDVALIDITY, so the
 * messages keep their UIDs there; INBOX keeps its uid_next and records the moves as expunges.
 */
function renameInbox(ctx: StoreContext, unit: UnitOfWork, inbox: Mailbox, newName: string): void {
  createParents(ctx, unit, inbox.accountId, newName);
  const targetId = insertMailbox(ctx, unit, inbox.accountId, newName, null);
  const uids = ctx.sql.all<{ uid: number }>("SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid", inbox.id).map((r) => r.uid as Uid);
  ctx.sql.run("UPDATE messages SET mailbox_id = ? WHERE mailbox_id = ?", targetId, inbox.id);
  ctx.sql.run(
    `UPDATE mailboxes SET uid_next = ?, highest_modseq = max(highest_modseq, (SELECT coalesce(max(modseq), 1) FROM messages WHERE mailbox_id = ?))
      WHERE id = ?`,
    inbox.uidNext,
    targetId,
    targetId,
  );
  if (uids.length === 0) return;
  const modseq = nextModSeq(ctx, inbox.id);
  for (const uid of uids) {
    logExpunged(ctx, inbox.id, uid, modseq);
    unit.add(inbox.accountId, { kind: "expunged", mailboxId: inbox.id, uid, modseq });
  }
}

export function deleteMailboxInTransaction(ctx: StoreContext, unit: UnitOfWork, accountId: AccountId, rawName: string): void {
  const name = normaliseMailboxName(rawName);
  if (name === INBOX) throw new StoreError("CANNOT", "INBOX cannot be deleted");
  const mailbox = findMailbox(ctx, accountId, name);
  if (!mailbox) throw new StoreError("NONEXISTENT", `no mailbox ${name}`);
  const child = ctx.sql.get("SELECT 1 FROM mailboxes WHERE account_id = ? AND substr(name, 1, ?) = ?", accountId, name.length + 1, name + HIERARCHY_DELIMITER);
  if (child) throw new StoreError("HASCHILDREN", `mailbox ${name} has children`);
  removeMailbox(ctx, unit, mailbox);
}

/** Deletes a mailbox with its messages and change log (subscriptions stay, RFC 9051 §6.3.9). */
export function removeMailbox(ctx: StoreContext, unit: UnitOfWork, mailbox: Mailbox): void {
  dropMailboxContents(ctx, unit, mailbox.id, mailbox.accountId);
  ctx.sql.run("DELETE FROM mailboxes WHERE id = ?", mailbox.id);
  unit.add(mailbox.accountId, { kind: "mailbox-deleted", mailboxId: mailbox.id, name: mailbox.name });
}

export function setSubscribedInTransaction(ctx: StoreContext, unit: UnitOfWork, accountId: AccountId, rawName: string, subscribed: boolean): void {
  const name = normaliseMailboxName(rawName);
  requireAccount(ctx, accountId);
  const result = subscribed
    ? ctx.sql.run("INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)", accountId, name)
    : ctx.sql.run("DELETE FROM subscriptions WHERE account_id = ? AND name = ?", accountId, name);
  if (result.changes > 0) unit.add(accountId, { kind: "subscription", name, subscribed });
}

export function listSubscriptions(ctx: StoreContext, accountId: AccountId): string[] {
  return ctx.sql.all<{ name: string }>("SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name", accountId).map((row) => row.name);
}

export function mailboxStatus(ctx: StoreContext, mailboxId: MailboxId): MailboxStatus {
  const mailbox = requireMailbox(ctx, mailboxId);
  const counts = ctx.sql.get<{ messages: number; unseen: number | null; deleted: number | null; size: number | null; deleted_size: number | null }>(
    "SELECT count(*) AS messages, sum(1 - seen) AS unseen, sum(deleted) AS deleted, sum(size) AS size, sum(size * deleted) AS deleted_size FROM messages WHERE mailbox_id = ?",
    mailboxId,
  )!;
  return {
    messages: counts.messages,
    unseen: counts.unseen ?? 0,
    deleted: counts.deleted ?? 0,
    size: counts.size ?? 0,
    deletedSize: counts.deleted_size ?? 0,
    uidNext: mailbox.uidNext,
    uidValidity: mailbox.uidValidity as UidValidity,
    highestModSeq: mailbox.highestModSeq as ModSeq,
  };
}


/**
 * A mailbox as it was in another store (`mailroom store copy`), with its UIDVALIDITY, UIDNEXT,
 * HIGHESTMODSEQ and first recent UID, so clients keep their caches; the UIDVALIDITY counter moves
 * past it so that no later mailbox repeats it.
 */
export function importMailboxRow(ctx: StoreContext, accountId: AccountId, mailbox: Mailbox, firstRecentUid: number): MailboxId {
  requireAccount(ctx, accountId);
  ctx.sql.run("INSERT INTO store_counters (name, value) VALUES ('uid_validity', ?) ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)", mailbox.uidValidity);
  const row = ctx.sql.get<{ id: number }>(
    "INSERT INTO mailboxes (account_id, name, special_use, uid_validity, uid_next, highest_modseq, first_recent_uid) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
    accountId,
    normaliseMailboxName(mailbox.name),
    checkSpecialUse(mailbox.specialUse),
    mailbox.uidValidity,
    mailbox.uidNext,
    mailbox.highestModSeq,
    firstRecentUid,
  );
  return row!.id as MailboxId;
}

/** UIDs below UIDNEXT that no message has become tombstones at HIGHESTMODSEQ (RFC 7162 §3.2.10). */
export function importTombstoneRows(ctx: StoreContext, mailboxId: MailboxId): number {
  const result = ctx.sql.run(
    `WITH RECURSIVE bounds(last, modseq) AS (SELECT uid_next - 1, highest_modseq FROM mailboxes WHERE id = ?),
       series(u) AS (SELECT 1 FROM bounds WHERE last >= 1 UNION ALL SELECT u + 1 FROM series, bounds WHERE u < bounds.last)
     INSERT INTO changes (mailbox_id, modseq, kind, uid)
       SELECT ?, bounds.modseq, 'expunged', series.u FROM series, bounds
        WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.mailbox_id = ? AND m.uid = series.u)`,
    mailboxId,
    mailboxId,
    mailboxId,
  );
  return Number(result.changes);
}
