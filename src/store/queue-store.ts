// The durable outbound queue: messages our users submitted for recipients elsewhere. SMTP
// submission enqueues (and acknowledges only after the commit); the outbound workers (issue #6)
// lease due entries, attempt delivery and record per-recipient results.
import type { BlobId } from "./types.js";
import type { StagedMessage } from "./mail-store.js";

export type QueueRecipientState = "pending" | "delivered" | "failed" | "deferred";

export interface QueueRecipient {
  /** RFC 5321 forward-path mailbox, canonical (domain lower-case A-label). */
  address: string;
  /** RFC 3461 NOTIFY, or null when the client gave none (default: FAILURE). */
  notify: ("NEVER" | "SUCCESS" | "FAILURE" | "DELAY")[] | null;
  /** RFC 3461 ORCPT as given (addr-type;xtext-decoded address), or null. */
  originalRecipient: string | null;
  state: QueueRecipientState;
  attempts: number;
  /** The last SMTP reply or local error for this recipient, for bounces and `mailroom queue`. */
  lastResult: string | null;
}

export interface QueuedMessage {
  id: number;
  /** Reverse-path; "" for the null sender (bounces). */
  mailFrom: string;
  /** The submitting account's address, for bounce routing and audit. */
  submittedBy: string | null;
  blobId: BlobId;
  size: number;
  /** RFC 3461 ENVID and RET. */
  envelopeId: string | null;
  ret: "FULL" | "HDRS" | null;
  /** Whether the body needs 8BITMIME / SMTPUTF8 of the receiving server. */
  bodyType: "7BIT" | "8BITMIME" | "BINARYMIME";
  smtputf8: boolean;
  createdAt: Date;
  nextAttemptAt: Date;
  recipients: QueueRecipient[];
}

export interface EnqueueRequest {
  message: StagedMessage;
  mailFrom: string;
  submittedBy: string | null;
  recipients: { address: string; notify: QueueRecipient["notify"]; originalRecipient: string | null }[];
  envelopeId: string | null;
  ret: "FULL" | "HDRS" | null;
  bodyType: QueuedMessage["bodyType"];
  smtputf8: boolean;
  /** Trace header lines (Received) prepended to the blob when the message is sent on. */
  prefix?: Buffer;
}

export interface QueueStore {
  /** Resolves once the entry (and the blob it references) is durable. */
  enqueue(request: EnqueueRequest): Promise<QueuedMessage>;
  getQueued(id: number): Promise<QueuedMessage | null>;
  /** Entries with at least one pending or deferred recipient, oldest first. */
  listQueue(limit?: number): Promise<QueuedMessage[]>;
}
