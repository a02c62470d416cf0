// What every query module of the SQLite backend receives: the statements, the clock and the
// logger (no module-level state), and the UnitOfWork that collects what one mutation changed.
import type { Logger } from "../../observability/log.js";
import type { AccountChange, ChangeBatch } from "../changes.js";
import type { QuotaPolicy } from "../quota.js";
import type { AccountId, BlobId } from "../types.js";
import type { Statements } from "./sqlite-database.js";

export interface StoreContext {
  sql: Statements;
  clock: () => Date;
  log: Logger;
  /** The configured quota defaults (config [quota]), applied when account rows are read. */
  quota: QuotaPolicy;
}

/**
 * One mutation's side effects: its change events, grouped per account in the order they
 * happened (published after COMMIT), and the blobs whose last row it deleted (queued in
 * blob_garbage inside the same transaction, for the collector to remove their files).
 */
export class UnitOfWork {
  private readonly byAccount = new Map<AccountId, AccountChange[]>();
  readonly garbage = new Set<BlobId>();

  add(accountId: AccountId, change: AccountChange): void {
    let list = this.byAccount.get(accountId);
    if (!list) {
      list = [];
      this.byAccount.set(accountId, list);
    }
    list.push(change);
  }

  batches(): ChangeBatch[] {
    return [...this.byAccount].map(([accountId, changes]) => ({ accountId, changes }));
  }
}
