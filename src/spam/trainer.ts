// Trains the per-account classifier from what users do with their mail: a message copied or moved
// into the Junk folder (RFC 6154 \Junk) is spam, one copied or moved out of Junk into anything but
// Trash is ham. Moves are observed at the store (spam/training-store.ts), so every client and
// protocol trains alike. Training runs after the command has answered, one message at a time, from
// a bounded queue: a user moving 10,000 messages never slows anyone's IMAP session.
import { createHash } from "node:crypto";
import type { Logger } from "../observability/log.js";
import type { AccountId, MailboxId, MailStore, SpamClass, SpamTokenStore, Uid } from "../store/index.js";
import { tokenize } from "./bayes.js";

export interface TrainingJob {
  readonly accountId: AccountId;
  /** Where the messages are now (the destination of the move or copy). */
  readonly mailboxId: MailboxId;
  readonly uids: readonly Uid[];
  readonly kind: SpamClass;
}

export interface SpamTrainer {
  /** Queues the messages; false when the queue is full (they are then not trained, and logged). */
  enqueue(job: TrainingJob): boolean;
  /** Resolves once everything queued so far is trained (tests, shutdown). */
  idle(): Promise<void>;
  readonly pending: number;
}

/** Messages waiting to be trained, at most. */
export const MAX_PENDING_TRAINING = 10_000;

export function createSpamTrainer(options: { mail: Pick<MailStore, "getSearchText">; tokens: SpamTokenStore; log: Logger; maxPending?: number }): SpamTrainer {
  const maxPending = options.maxPending ?? MAX_PENDING_TRAINING;
  const queue: { accountId: AccountId; mailboxId: MailboxId; uid: Uid; kind: SpamClass }[] = [];
  let running: Promise<void> | null = null;

  const trainOne = async (item: (typeof queue)[number]): Promise<void> => {
    const text = await options.mail.getSearchText(item.mailboxId, item.uid);
    if (text === null) return; // expunged meanwhile
    const key = createHash("sha256").update(text).digest("base64url").slice(0, 32);
    const trained = await options.tokens.trainSpamMessage(item.accountId, key, tokenize(text), item.kind);
    if (trained) options.log.debug("spam.trained", { account: item.accountId, kind: item.kind });
  };

  const drain = async (): Promise<void> => {
    while (queue.length > 0) {
      const item = queue.shift()!;
      try {
        await trainOne(item);
      } catch (error) {
        options.log.warn("spam.training_failed", { account: item.accountId, kind: item.kind, error });
      }
    }
  };

  return {
    enqueue(job) {
      if (queue.length + job.uids.length > maxPending) {
        options.log.warn("spam.training_queue_full", { account: job.accountId, kind: job.kind, messages: job.uids.length });
        return false;
      }
      for (const uid of job.uids) queue.push({ accountId: job.accountId, mailboxId: job.mailboxId, uid, kind: job.kind });
      running ??= drain().finally(() => {
        running = null;
      });
      return true;
    },
    async idle() {
      while (running !== null) await running;
    },
    get pending() {
      return queue.length;
    },
  };
}
