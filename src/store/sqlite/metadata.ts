// MetadataStore over SQLite (migration 29): metadata_entries, one row per entry, keyed by the
// account charged for it (a /private entry's user, a /shared entry's mailbox owner), the mailbox
// (NULL for a server entry) and the lower-case name. Rows go with their mailbox and account
// (ON DELETE CASCADE) and follow a RENAME, which keeps the mailbox's id.
import { StoreError } from "../errors.js";
import { metadataNameValid, type MetadataChange, type MetadataEntry, type MetadataLimits, type MetadataWriteResult } from "../metadata-store.js";
import type { AccountId, MailboxId } from "../types.js";
import type { StoreContext, UnitOfWork } from "./store-context.js";

interface EntryRow {
  name: string;
  value: Buffer;
}

export function getMetadata(ctx: StoreContext, userId: AccountId, mailboxId: MailboxId | null): MetadataEntry[] {
  const rows =
    mailboxId === null
      ? ctx.sql.all<EntryRow>("SELECT name, value FROM metadata_entries WHERE account_id = ? AND mailbox_id IS NULL ORDER BY name", userId)
      : ctx.sql.all<EntryRow>(
          `SELECT name, value FROM metadata_entries WHERE mailbox_id = ? AND (name LIKE '/shared/%' OR (account_id = ? AND name LIKE '/private/%')) ORDER BY name`,
          mailboxId,
          userId,
        );
  return rows.map((r) => ({ name: r.name, value: Buffer.from(r.value) }));
}

export function setMetadata(ctx: StoreContext, unit: UnitOfWork, userId: AccountId, mailboxId: MailboxId | null, changes: readonly MetadataChange[], limits: MetadataLimits): MetadataWriteResult {
  if (!ctx.sql.get("SELECT 1 FROM accounts WHERE id = ?", userId)) throw new StoreError("NONEXISTENT", `no account ${userId}`);
  let owner = userId;
  if (mailboxId !== null) {
    const mailbox = ctx.sql.get<{ account_id: number }>("SELECT account_id FROM mailboxes WHERE id = ?", mailboxId);
    if (!mailbox) throw new StoreError("NONEXISTENT", `no mailbox ${mailboxId}`);
    owner = mailbox.account_id as AccountId;
  }
  for (const change of changes) {
    if (!metadataNameValid(change.name, mailboxId === null)) throw new StoreError("INVALID", "invalid metadata entry name");
  }
  const countOf = (): number =>
    mailboxId === null
      ? ctx.sql.get<{ n: number }>("SELECT count(*) AS n FROM metadata_entries WHERE account_id = ? AND mailbox_id IS NULL", userId)!.n
      : ctx.sql.get<{ n: number }>("SELECT count(*) AS n FROM metadata_entries WHERE mailbox_id = ?", mailboxId)!.n;
  const bytesOf = (account: AccountId): number => ctx.sql.get<{ n: number }>("SELECT coalesce(sum(length(CAST(name AS BLOB)) + length(value)), 0) AS n FROM metadata_entries WHERE account_id = ?", account)!.n;
  const countBefore = countOf();
  const charged = new Set<AccountId>();
  for (const change of changes) {
    const account = change.name.startsWith("/private/") ? userId : owner;
    ctx.sql.run("DELETE FROM metadata_entries WHERE account_id = ? AND mailbox_id IS ? AND name = ?", account, mailboxId, change.name);
    // Published after COMMIT (NOTIFY MailboxMetadataChange / ServerMetadataChange); a refused write publishes nothing.
    unit.add(account, { kind: "metadata", mailboxId, name: change.name });
    if (change.value === null) continue;
    ctx.sql.run("INSERT INTO metadata_entries (account_id, mailbox_id, name, value) VALUES (?, ?, ?, ?)", account, mailboxId, change.name, change.value);
    charged.add(account);
  }
  // Thrown, so the transaction's rollback undoes every change above (all or none).
  const count = countOf();
  if (count > countBefore && count > limits.maxEntriesPerMailbox) throw new MetadataRefusal("TOOMANY");
  for (const account of charged) if (bytesOf(account) > limits.maxAccountBytes) throw new MetadataRefusal("FULL");
  return { ok: true };
}

/** Rolls the write back; the store turns it into its result. */
export class MetadataRefusal extends Error {
  constructor(readonly reason: "TOOMANY" | "FULL") {
    super(`metadata ${reason}`);
  }
}
