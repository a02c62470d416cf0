// The typed events the store publishes after each commit. The same values are written to the
// change log in the mutating transaction, so IDLE (live feed), CONDSTORE/QRESYNC (changesSince)
// and other nodes (PostgreSQL NOTIFY later) all read one history.
import type { AccountId, Flag, MailboxId, ModSeq, Uid } from "./types.js";

export type MailboxChange =
  | { kind: "added"; mailboxId: MailboxId; uid: Uid; modseq: ModSeq }
  | { kind: "flags"; mailboxId: MailboxId; uid: Uid; modseq: ModSeq; flags: Flag[] }
  | { kind: "expunged"; mailboxId: MailboxId; uid: Uid; modseq: ModSeq };

export type AccountChange =
  | MailboxChange
  | { kind: "mailbox-created"; mailboxId: MailboxId; name: string }
  | { kind: "mailbox-renamed"; mailboxId: MailboxId; oldName: string; name: string }
  | { kind: "mailbox-deleted"; mailboxId: MailboxId; name: string }
  | { kind: "subscription"; name: string; subscribed: boolean }
  /** An RFC 5464 METADATA entry of a mailbox (null: a server entry) was set or removed. */
  | { kind: "metadata"; mailboxId: MailboxId | null; name: string };

/** One committed transaction's changes for one account, in commit order. */
export interface ChangeBatch {
  accountId: AccountId;
  changes: AccountChange[];
}

export type ChangeListener = (batch: ChangeBatch) => void;

/**
 * Publish/subscribe of committed changes per account. Listeners are called synchronously after
 * commit, in commit order; a listener must not throw and must not block (queue and return).
 */
export interface ChangeFeed {
  subscribe(accountId: AccountId, listener: ChangeListener): () => void;
  publish(batch: ChangeBatch): void;
}

/** What changed in one mailbox after a modseq: the answer to CONDSTORE/QRESYNC resync. */
export interface MailboxChangesSince {
  highestModSeq: ModSeq;
  /** Messages present now whose modseq is greater than the asked one (added or flags changed). */
  changed: { uid: Uid; modseq: ModSeq; flags: Flag[] }[];
  /** UIDs expunged after the asked modseq (QRESYNC VANISHED (EARLIER)), ascending. */
  expunged: Uid[];
}
