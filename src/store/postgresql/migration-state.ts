// MigrationStateStore on PostgreSQL (tables of migration 8): what `mailroom migrate` copied so far.
import type { MigratedMessage, MigrationFolderState } from "../migration-store.js";
import type { AccountId, MailboxId, Uid } from "../types.js";
import { one, rows, type Sql } from "./database.js";

export async function getFolder(db: Sql, accountId: AccountId, source: string, folder: string): Promise<MigrationFolderState | null> {
  const row = await one<{ uid_validity: string; last_uid: string; mailbox: string }>(
    db,
    "SELECT uid_validity, last_uid, mailbox FROM migration_folders WHERE account_id = $1 AND source = $2 AND folder = $3",
    [accountId, source, folder],
  );
  return row ? { uidValidity: Number(row.uid_validity), lastUid: Number(row.last_uid), mailbox: row.mailbox } : null;
}

export async function record(db: Sql, accountId: AccountId, source: string, folder: string, state: MigrationFolderState, copied: readonly MigratedMessage[], now: Date): Promise<void> {
  await db.query(
    `INSERT INTO migration_folders (account_id, source, folder, uid_validity, last_uid, mailbox, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (account_id, source, folder) DO UPDATE SET uid_validity = excluded.uid_validity, last_uid = excluded.last_uid, mailbox = excluded.mailbox, updated_at = excluded.updated_at`,
    [accountId, source, folder, state.uidValidity, state.lastUid, state.mailbox, now.getTime()],
  );
  if (copied.length === 0) return;
  await db.query(
    `INSERT INTO migration_messages (account_id, source, folder, key, mailbox_id, uid)
     SELECT $1, $2, $3, k, m, u FROM unnest($4::text[], $5::bigint[], $6::bigint[]) AS t(k, m, u)
     ON CONFLICT (account_id, source, folder, key) DO UPDATE SET mailbox_id = excluded.mailbox_id, uid = excluded.uid`,
    [accountId, source, folder, copied.map((c) => c.key), copied.map((c) => c.mailboxId), copied.map((c) => c.uid)],
  );
}

export async function listMigrated(db: Sql, accountId: AccountId, source: string, folder: string): Promise<Map<string, { mailboxId: MailboxId; uid: Uid }>> {
  const found = await rows<{ key: string; mailbox_id: string; uid: string }>(
    db,
    "SELECT key, mailbox_id, uid FROM migration_messages WHERE account_id = $1 AND source = $2 AND folder = $3",
    [accountId, source, folder],
  );
  return new Map(found.map((r) => [r.key, { mailboxId: Number(r.mailbox_id) as MailboxId, uid: Number(r.uid) as Uid }]));
}

export async function forget(db: Sql, accountId: AccountId, source: string, folder: string): Promise<void> {
  await db.query("DELETE FROM migration_messages WHERE account_id = $1 AND source = $2 AND folder = $3", [accountId, source, folder]);
  await db.query("DELETE FROM migration_folders WHERE account_id = $1 AND source = $2 AND folder = $3", [accountId, source, folder]);
}
