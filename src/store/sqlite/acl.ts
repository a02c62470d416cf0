// AclStore over SQLite (migration 38): mailbox_acl holds one row per (mailbox, grantee), NULL
// grantee meaning "anyone"; private_seen one row per (mailbox, user, UID) a user other than the
// owner has seen. Both go with their mailbox and account (ON DELETE CASCADE) and follow a RENAME,
// which keeps the mailbox's id. UIDs are never reused, so rows of expunged messages are dropped
// lazily (by the next change of that user's \Seen in the mailbox) and never read: every read
// joins messages.
import { ALL_RIGHTS, ANYONE, canonicalRights, unionRights } from "../acl-rights.js";
import type { AclEntry, SharedMailbox } from "../acl-store.js";
import { StoreError } from "../errors.js";
import type { FlagUpdateResult } from "../mail-store.js";
import type { AccountId, MailboxId, ModSeq, Uid } from "../types.js";
import { parseAddress } from "./addresses.js";
import { nextModSeq } from "./change-log.js";
import { normaliseMailboxName } from "./mailbox-names.js";
import { findMailbox, requireMailbox } from "./mailboxes.js";
import { MAILBOX_COLUMNS, parseFlags, toMailbox, type MailboxRow } from "./rows.js";
import type { StoreContext, UnitOfWork } from "./store-context.js";

const uidList = (uids: readonly Uid[]): string => JSON.stringify(uids.filter((uid) => Number.isSafeInteger(uid) && uid > 0));

export function getAcl(ctx: StoreContext, mailboxId: MailboxId): AclEntry[] {
  requireMailbox(ctx, mailboxId);
  return ctx.sql
    .all<{ address: string | null; rights: string }>(
      "SELECT a.address, l.rights FROM mailbox_acl l LEFT JOIN accounts a ON a.id = l.grantee_id WHERE l.mailbox_id = ? ORDER BY l.grantee_id IS NOT NULL, a.address_key",
      mailboxId,
    )
    .map((row) => ({ identifier: row.address ?? ANYONE, rights: row.rights }));
}

export function setAcl(ctx: StoreContext, mailboxId: MailboxId, identifier: string, rights: string): void {
  const mailbox = requireMailbox(ctx, mailboxId);
  if (canonicalRights(rights) !== rights) throw new StoreError("INVALID", "rights must be canonical RFC 4314 letters");
  let grantee: number | null = null;
  if (identifier.toLowerCase() !== ANYONE) {
    const account = accountIdOf(ctx, identifier);
    if (account === null) throw new StoreError("NONEXISTENT", "no such account");
    if (account === mailbox.accountId) throw new StoreError("CANNOT", "the owner always has every right");
    grantee = account;
  }
  ctx.sql.run("DELETE FROM mailbox_acl WHERE mailbox_id = ? AND grantee_id IS ?", mailboxId, grantee);
  if (rights !== "") ctx.sql.run("INSERT INTO mailbox_acl (mailbox_id, grantee_id, rights) VALUES (?, ?, ?)", mailboxId, grantee, rights);
}

interface SharedRow extends MailboxRow {
  owner_address: string;
  granted: string;
}

/** Every mailbox row with the viewer's rights on it (its own entry and anyone's, grouped). */
const SHARED_SELECT = `SELECT ${MAILBOX_COLUMNS}, o.address AS owner_address, group_concat(l.rights, '') AS granted
  FROM mailbox_acl l JOIN mailboxes m ON m.id = l.mailbox_id JOIN accounts o ON o.id = m.account_id
  WHERE (l.grantee_id = ? OR l.grantee_id IS NULL) AND m.account_id <> ?`;

const toShared = (row: SharedRow): SharedMailbox => ({ mailbox: toMailbox(row), ownerAddress: row.owner_address, rights: unionRights(row.granted) });

export function listSharedMailboxes(ctx: StoreContext, viewer: AccountId): SharedMailbox[] {
  return ctx.sql.all<SharedRow>(`${SHARED_SELECT} GROUP BY m.id ORDER BY o.address_key, m.name`, viewer, viewer).map(toShared);
}

export function findSharedMailbox(ctx: StoreContext, viewer: AccountId, ownerAddress: string, name: string): SharedMailbox | null {
  const owner = accountIdOf(ctx, ownerAddress);
  if (owner === null) return null;
  let normalised: string;
  try {
    normalised = normaliseMailboxName(name);
  } catch {
    return null;
  }
  const mailbox = findMailbox(ctx, owner, normalised);
  if (mailbox === null) return null;
  const address = ctx.sql.get<{ address: string }>("SELECT address FROM accounts WHERE id = ?", owner)!.address;
  return { mailbox, ownerAddress: address, rights: rightsOf(ctx, mailbox.id, viewer) };
}

export function rightsOf(ctx: StoreContext, mailboxId: MailboxId, viewer: AccountId): string {
  const mailbox = ctx.sql.get<{ account_id: number }>("SELECT account_id FROM mailboxes WHERE id = ?", mailboxId);
  if (!mailbox) return "";
  if (mailbox.account_id === viewer) return ALL_RIGHTS;
  const granted = ctx.sql.all<{ rights: string }>("SELECT rights FROM mailbox_acl WHERE mailbox_id = ? AND (grantee_id = ? OR grantee_id IS NULL)", mailboxId, viewer);
  return unionRights(...granted.map((r) => r.rights));
}

export function getPrivateSeen(ctx: StoreContext, mailboxId: MailboxId, viewer: AccountId, uids?: readonly Uid[]): Uid[] {
  const rows =
    uids === undefined
      ? ctx.sql.all<{ uid: number }>("SELECT p.uid FROM private_seen p JOIN messages m ON m.mailbox_id = p.mailbox_id AND m.uid = p.uid WHERE p.mailbox_id = ? AND p.account_id = ? ORDER BY p.uid", mailboxId, viewer)
      : ctx.sql.all<{ uid: number }>(
          "SELECT p.uid FROM private_seen p JOIN messages m ON m.mailbox_id = p.mailbox_id AND m.uid = p.uid WHERE p.mailbox_id = ? AND p.account_id = ? AND p.uid IN (SELECT value FROM json_each(?)) ORDER BY p.uid",
          mailboxId,
          viewer,
          uidList(uids),
        );
  return rows.map((r) => r.uid as Uid);
}

export function updatePrivateSeen(ctx: StoreContext, unit: UnitOfWork, mailboxId: MailboxId, viewer: AccountId, uids: readonly Uid[], seen: boolean, unchangedSince?: ModSeq): FlagUpdateResult {
  const mailbox = requireMailbox(ctx, mailboxId);
  const rows = ctx.sql.all<{ uid: number; modseq: number; flags: string; seen: number }>(
    `SELECT m.uid, m.modseq, m.flags, EXISTS (SELECT 1 FROM private_seen p WHERE p.mailbox_id = m.mailbox_id AND p.account_id = ? AND p.uid = m.uid) AS seen
       FROM messages m WHERE m.mailbox_id = ? AND m.uid IN (SELECT value FROM json_each(?)) ORDER BY m.uid`,
    viewer,
    mailboxId,
    uidList(uids),
  );
  const result: FlagUpdateResult = { updated: [], modified: [] };
  const changing: typeof rows = [];
  for (const row of rows) {
    if (unchangedSince !== undefined && row.modseq > unchangedSince) result.modified.push(row.uid as Uid);
    else if ((row.seen === 1) !== seen) changing.push(row);
  }
  if (changing.length === 0) return result;
  const modseq = nextModSeq(ctx, mailboxId);
  const changed = JSON.stringify(changing.map((r) => r.uid));
  if (seen) ctx.sql.run("INSERT OR IGNORE INTO private_seen (mailbox_id, account_id, uid) SELECT ?, ?, value FROM json_each(?)", mailboxId, viewer, changed);
  else ctx.sql.run("DELETE FROM private_seen WHERE mailbox_id = ? AND account_id = ? AND uid IN (SELECT value FROM json_each(?))", mailboxId, viewer, changed);
  // Rows of messages expunged since: UIDs are never reused, so they would only take room.
  ctx.sql.run("DELETE FROM private_seen WHERE mailbox_id = ? AND account_id = ? AND uid NOT IN (SELECT uid FROM messages WHERE mailbox_id = ?)", mailboxId, viewer, mailboxId);
  ctx.sql.run("UPDATE messages SET modseq = ? WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))", modseq, mailboxId, changed);
  for (const row of changing) {
    const flags = parseFlags(row.flags);
    unit.add(mailbox.accountId, { kind: "flags", mailboxId, uid: row.uid as Uid, modseq, flags });
    result.updated.push({ uid: row.uid as Uid, modseq, flags });
  }
  return result;
}

/** `store copy`: the rows as they were, no modseq taken (CopyTarget.importPrivateSeen). */
export function importPrivateSeen(ctx: StoreContext, mailboxId: MailboxId, viewer: AccountId, uids: readonly Uid[]): void {
  ctx.sql.run("INSERT OR IGNORE INTO private_seen (mailbox_id, account_id, uid) SELECT ?, ?, value FROM json_each(?)", mailboxId, viewer, uidList(uids));
}

function accountIdOf(ctx: StoreContext, address: string): AccountId | null {
  let key: string;
  try {
    key = parseAddress(address).key;
  } catch {
    return null;
  }
  return (ctx.sql.get<{ id: number }>("SELECT id FROM accounts WHERE address_key = ?", key)?.id ?? null) as AccountId | null;
}
