// The in-process change feed: the embedded (single-node) implementation of ChangeFeed.
// A PostgreSQL backend will publish through NOTIFY and re-publish locally through this.
import type { ChangeBatch, ChangeFeed, ChangeListener } from "./changes.js";
import type { AccountId } from "./types.js";

export class InProcessChangeFeed implements ChangeFeed {
  private readonly listeners = new Map<AccountId, Set<ChangeListener>>();

  subscribe(accountId: AccountId, listener: ChangeListener): () => void {
    let set = this.listeners.get(accountId);
    if (!set) {
      set = new Set();
      this.listeners.set(accountId, set);
    }
    set.add(listener);
    return () => {
      const current = this.listeners.get(accountId);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) this.listeners.delete(accountId);
    };
  }

  publish(batch: ChangeBatch): void {
    const set = this.listeners.get(batch.accountId);
    if (!set) return;
    // A copy, so a listener that unsubscribes while being called does not skip its neighbour.
    for (const listener of [...set]) {
      try {
        listener(batch);
      } catch {
        // A listener's failure must never undo or delay a commit that already happened;
        // sessions log their own errors.
      }
    }
  }
}
