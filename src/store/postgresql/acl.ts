// AclStore over PostgreSQL (migration 23): the same tables and rules as the SQLite backend
// (sqlite/acl.ts). updatePrivateSeen lives in postgresql-store.ts, which owns the modseq counter
// and the change log; the reads and the rows of its change are here.
import { ALL_RIGHTS, ANYONE, canonicalRights, unionRights } from "../acl-rights.js";
import type { AclEntry, SharedMailbox } from "../acl-store.js";
import { StoreError } from "../errors.js";
import type { AccountId, Mailbox, MailboxId, Uid } from "../types.js";
import { parseAddress } from "../sqlite/addresses.js";
import { normaliseMailboxName } from "../sqlite/mailbox-names.js";
import { one, rows, type Sql } from "./database.js";
import { MAILBOX_COLUMNS, toMailbox, uidArray, type MailboxRow } from "./rows.js";

export async function getAcl(db: Sql, mailboxId: MailboxId): Promise<AclEntry[]> {
  if (!(await one(db, "SELECT 1 FROM mailboxes WHERE id = $1", [mailboxId]))) throw new StoreError("NONEXISTENT", "no such mailbox");
  const found = await rows<{ address: string | null; rights: string }>(
    db,
    `SELECT a.address, l.rights FROM mailbox_acl l LEFT JOIN accounts a ON a.id = l.grantee_id WHERE l.mailbox_id = $1 ORDER BY l.grantee_id IS NOT NULL, a.address_key COLLATE "C"`,
    [mailboxId],
  );
  return found.map((row) => ({ identifier: row.address ?? ANYONE, rights: row.rights }));
}

export async function setAcl(db: Sql, mailboxId: MailboxId, identifier: string, rights: string): Promise<void> {
  // The mailbox row lock orders concurrent changes of one mailbox's list.
  const mailbox = await one<{ account_id: string }>(db, "SELECT account_id FROM mailboxes WHERE id = $1 FOR UPDATE", [mailboxId]);
  if (!mailbox) throw new StoreError("NONEXISTENT", "no such mailbox");
  if (canonicalRights(rights) !== rights) throw new StoreError("INVALID", "rights must be canonical RFC 4314 letters");
  let grantee: number | null = null;
  if (identifier.toLowerCase() !== ANYONE) {
    const account = await accountIdOf(db, identifier);
    if (account === null) throw new StoreError("NONEXISTENT", "no such account");
    if (account === Number(mailbox.account_id)) throw new StoreError("CANNOT", "the owner always has every right");
    grantee = account;
  }
  await db.query("DELETE FROM mailbox_acl WHERE mailbox_id = $1 AND grantee_id IS NOT DISTINCT FROM $2", [mailboxId, grantee]);
  if (rights !== "") await db.query("INSERT INTO mailbox_acl (mailbox_id, grantee_id, rights) VALUES ($1, $2, $3)", [mailboxId, grantee, rights]);
}

interface SharedRow extends MailboxRow {
  owner_address: string;
  granted: string;
}

const SHARED_SELECT = `SELECT ${MAILBOX_COLUMNS}, o.address AS owner_address, string_agg(l.rights, '') AS granted
  FROM mailbox_acl l JOIN mailboxes m ON m.id = l.mailbox_id JOIN accounts o ON o.id = m.account_id
  WHERE (l.grantee_id = $1 OR l.grantee_id IS NULL) AND m.account_id <> $1`;

const toShared = (row: SharedRow): SharedMailbox => ({ mailbox: toMailbox(row), ownerAddress: row.owner_address, rights: unionRights(row.granted) });

export async function listSharedMailboxes(db: Sql, viewer: AccountId): Promise<SharedMailbox[]> {
  return (await rows<SharedRow>(db, `${SHARED_SELECT} GROUP BY m.id, o.address, o.address_key ORDER BY o.address_key COLLATE "C", m.name COLLATE "C"`, [viewer])).map(toShared);
}

export async function findSharedMailbox(db: Sql, viewer: AccountId, ownerAddress: string, name: string): Promise<SharedMailbox | null> {
  const owner = await accountIdOf(db, ownerAddress);
  if (owner === null) return null;
  let normalised: string;
  try {
    normalised = normaliseMailboxName(name);
  } catch {
    return null;
  }
  const row = await one<MailboxRow & { owner_address: string }>(db, `SELECT ${MAILBOX_COLUMNS}, o.address AS owner_address FROM mailboxes m JOIN accounts o ON o.id = m.account_id WHERE m.account_id = $1 AND m.name = $2`, [owner, normalised]);
  if (!row) return null;
  const mailbox: Mailbox = toMailbox(row);
  return { mailbox, ownerAddress: row.owner_address, rights: await rightsOf(db, mailbox.id, viewer) };
}

export async function rightsOf(db: Sql, mailboxId: MailboxId, viewer: AccountId): Promise<string> {
  const mailbox = await one<{ account_id: string }>(db, "SELECT account_id FROM mailboxes WHERE id = $1", [mailboxId]);
  if (!mailbox) return "";
  if (Number(mailbox.account_id) === viewer) return ALL_RIGHTS;
  const granted = await rows<{ rights: string }>(db, "SELECT rights FROM mailbox_acl WHERE mailbox_id = $1 AND (grantee_id = $2 OR grantee_id IS NULL)", [mailboxId, viewer]);
  return unionRights(...granted.map((r) => r.rights));
}

export async function getPrivateSeen(db: Sql, mailboxId: MailboxId, viewer: AccountId, uids?: readonly Uid[]): Promise<Uid[]> {
  const found =
    uids === undefined
      ? await rows<{ uid: string }>(db, "SELECT p.uid FROM private_seen p JOIN messages m ON m.mailbox_id = p.mailbox_id AND m.uid = p.uid WHERE p.mailbox_id = $1 AND p.account_id = $2 ORDER BY p.uid", [mailboxId, viewer])
      : await rows<{ uid: string }>(
          db,
          "SELECT p.uid FROM private_seen p JOIN messages m ON m.mailbox_id = p.mailbox_id AND m.uid = p.uid WHERE p.mailbox_id = $1 AND p.account_id = $2 AND p.uid = ANY($3::bigint[]) ORDER BY p.uid",
          [mailboxId, viewer, uidArray(uids)],
        );
  return found.map((r) => Number(r.uid) as Uid);
}

/** The rows updatePrivateSeen decides on: each message among `uids` with the user's \Seen. */
export async function privateSeenRows(db: Sql, mailboxId: MailboxId, viewer: AccountId, uids: readonly Uid[]): Promise<{ uid: number; modseq: number; flags: string[]; seen: boolean }[]> {
  const found = await rows<{ uid: string; modseq: string; flags: string[]; seen: boolean }>(
    db,
    `SELECT m.uid, m.modseq, m.flags, EXISTS (SELECT 1 FROM private_seen p WHERE p.mailbox_id = m.mailbox_id AND p.account_id = $2 AND p.uid = m.uid) AS seen
       FROM messages m WHERE m.mailbox_id = $1 AND m.uid = ANY($3::bigint[]) ORDER BY m.uid FOR UPDATE OF m`,
    [mailboxId, viewer, uidArray(uids)],
  );
  return found.map((r) => ({ uid: Number(r.uid), modseq: Number(r.modseq), flags: r.flags, seen: r.seen }));
}

/** Writes the user's \Seen for the changing UIDs and drops its rows of expunged messages. */
export async function writePrivateSeen(db: Sql, mailboxId: MailboxId, viewer: AccountId, uids: readonly number[], seen: boolean): Promise<void> {
  if (seen) await db.query("INSERT INTO private_seen (mailbox_id, account_id, uid) SELECT $1, $2, u FROM unnest($3::bigint[]) AS u ON CONFLICT DO NOTHING", [mailboxId, viewer, uids]);
  else await db.query("DELETE FROM private_seen WHERE mailbox_id = $1 AND account_id = $2 AND uid = ANY($3::bigint[])", [mailboxId, viewer, uids]);
  await db.query("DELETE FROM private_seen p WHERE p.mailbox_id = $1 AND p.account_id = $2 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.mailbox_id = p.mailbox_id AND m.uid = p.uid)", [mailboxId, viewer]);
}

async function accountIdOf(db: Sql, address: string): Promise<number | null> {
  let key: string;
  try {
    key = parseAddress(address).key;
  } catch {
    return null;
  }
  const row = await one<{ id: string }>(db, "SELECT id FROM accounts WHERE address_key = $1", [key]);
  return row ? Number(row.id) : null;
}
