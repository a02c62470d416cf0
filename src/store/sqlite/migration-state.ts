// MigrationStateStore on SQLite (tables of migration 20): what `mailroom migrate` copied so far.
import type { MigratedMessage, MigrationFolderState } from "../migration-store.js";
import type { AccountId, MailboxId, Uid } from "../types.js";
import type { StoreContext } from "./store-context.js";

export function getFolder(ctx: StoreContext, accountId: AccountId, source: string, folder: string): MigrationFolderState | null {
  const row = ctx.sql.get<{ uid_validity: number; last_uid: number; mailbox: string }>(
    "SELECT uid_validity, last_uid, mailbox FROM migration_folders WHERE account_id = ? AND source = ? AND folder = ?",
    accountId,
    source,
    folder,
  );
  return row ? { uidValidity: row.uid_validity, lastUid: row.last_uid, mailbox: row.mailbox } : null;
}

export function record(ctx: StoreContext, accountId: AccountId, source: string, folder: string, state: MigrationFolderState, copied: readonly MigratedMessage[]): void {
  ctx.sql.run(
    `INSERT INTO migration_folders (account_id, source, folder, uid_validity, last_uid, mailbox, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (account_id, source, folder) DO UPDATE SET uid_validity = excluded.uid_validity, last_uid = excluded.last_uid, mailbox = excluded.mailbox, updated_at = excluded.updated_at`,
    accountId,
    source,
    folder,
    state.uidValidity,
    state.lastUid,
    state.mailbox,
    ctx.clock().getTime(),
  );
  for (const message of copied) {
    ctx.sql.run(
      `INSERT INTO migration_messages (account_id, source, folder, key, mailbox_id, uid) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (account_id, source, folder, key) DO UPDATE SET mailbox_id = excluded.mailbox_id, uid = excluded.uid`,
      accountId,
      source,
      folder,
      message.key,
      message.mailboxId,
      message.uid,
    );
  }
}

export function listMigrated(ctx: StoreContext, accountId: AccountId, source: string, folder: string): Map<string, { mailboxId: MailboxId; uid: Uid }> {
  const rows = ctx.sql.all<{ key: string; mailbox_id: number; uid: number }>(
    "SELECT key, mailbox_id, uid FROM migration_messages WHERE account_id = ? AND source = ? AND folder = ?",
    accountId,
    source,
    folder,
  );
  return new Map(rows.map((r) => [r.key, { mailboxId: r.mailbox_id as MailboxId, uid: r.uid as Uid }]));
}

export function forget(ctx: StoreContext, accountId: AccountId, source: string, folder: string): void {
  ctx.sql.run("DELETE FROM migration_messages WHERE account_id = ? AND source = ? AND folder = ?", accountId, source, folder);
  ctx.sql.run("DELETE FROM migration_folders WHERE account_id = ? AND source = ? AND folder = ?", accountId, source, folder);
}
