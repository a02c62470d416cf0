// MetadataStore over PostgreSQL (migration 14), the same rows and rules as the SQLite backend
// (sqlite/metadata.ts): metadata_entries keyed by the charged account, the mailbox (NULL for the
// server) and the lower-case name. The charged accounts' rows are locked first, so two writers
// cannot pass a limit together.
import type { AccountChange } from "../changes.js";
import { StoreError } from "../errors.js";
import { metadataNameValid, type MetadataChange, type MetadataEntry, type MetadataLimits, type MetadataWriteResult } from "../metadata-store.js";
import type { AccountId, MailboxId } from "../types.js";
import { one, rows, type Sql } from "./database.js";

export async function getMetadata(db: Sql, userId: AccountId, mailboxId: MailboxId | null): Promise<MetadataEntry[]> {
  const found =
    mailboxId === null
      ? await rows<{ name: string; value: Buffer }>(db, "SELECT name, value FROM metadata_entries WHERE account_id = $1 AND mailbox_id IS NULL ORDER BY name COLLATE \"C\"", [userId])
      : await rows<{ name: string; value: Buffer }>(
          db,
          `SELECT name, value FROM metadata_entries WHERE mailbox_id = $1 AND (name LIKE '/shared/%' OR (account_id = $2 AND name LIKE '/private/%')) ORDER BY name COLLATE "C"`,
          [mailboxId, userId],
        );
  return found.map((r) => ({ name: r.name, value: Buffer.from(r.value) }));
}

/** Throws MetadataRefusal after its writes, so the caller's transaction rolls them all back. */
export async function setMetadata(db: Sql, unit: { add(accountId: AccountId, change: AccountChange): void }, userId: AccountId, mailboxId: MailboxId | null, changes: readonly MetadataChange[], limits: MetadataLimits): Promise<MetadataWriteResult> {
  if (!(await one(db, "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", [userId]))) throw new StoreError("NONEXISTENT", `no account ${userId}`);
  let owner = userId;
  if (mailboxId !== null) {
    const mailbox = await one<{ account_id: string }>(db, "SELECT account_id FROM mailboxes WHERE id = $1 FOR UPDATE", [mailboxId]);
    if (!mailbox) throw new StoreError("NONEXISTENT", `no mailbox ${mailboxId}`);
    owner = Number(mailbox.account_id) as AccountId;
    if (owner !== userId) await db.query("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", [owner]);
  }
  for (const change of changes) {
    if (typeof change.name !== "string" || !metadataNameValid(change.name, mailboxId === null)) throw new StoreError("INVALID", "invalid metadata entry name");
  }
  const countOf = async (): Promise<number> =>
    Number(
      mailboxId === null
        ? (await one<{ n: string }>(db, "SELECT count(*) AS n FROM metadata_entries WHERE account_id = $1 AND mailbox_id IS NULL", [userId]))!.n
        : (await one<{ n: string }>(db, "SELECT count(*) AS n FROM metadata_entries WHERE mailbox_id = $1", [mailboxId]))!.n,
    );
  const countBefore = await countOf();
  const charged = new Set<AccountId>();
  for (const change of changes) {
    const account = change.name.startsWith("/private/") ? userId : owner;
    await db.query("DELETE FROM metadata_entries WHERE account_id = $1 AND mailbox_id IS NOT DISTINCT FROM $2 AND name = $3", [account, mailboxId, change.name]);
    unit.add(account, { kind: "metadata", mailboxId, name: change.name });
    if (change.value === null) continue;
    await db.query("INSERT INTO metadata_entries (account_id, mailbox_id, name, value) VALUES ($1, $2, $3, $4)", [account, mailboxId, change.name, change.value]);
    charged.add(account);
  }
  const count = await countOf();
  if (count > countBefore && count > limits.maxEntriesPerMailbox) throw new MetadataRefusal("TOOMANY");
  for (const account of charged) {
    const bytes = Number((await one<{ n: string }>(db, "SELECT coalesce(sum(octet_length(name) + octet_length(value)), 0) AS n FROM metadata_entries WHERE account_id = $1", [account]))!.n);
    if (bytes > limits.maxAccountBytes) throw new MetadataRefusal("FULL");
  }
  return { ok: true };
}

/** Rolls the write back; the store turns it into its result. */
export class MetadataRefusal extends Error {
  constructor(readonly reason: "TOOMANY" | "FULL") {
    super(`metadata ${reason}`);
  }
}
