// The durable outbound queue: messages our users submitted for recipients elsewhere. SMTP
// submission enqueues (and acknowledges only after the commit); the outbound workers (issue #6)
// lease due entries, attempt delivery and record per-recipient results.
//
// Life of an entry: enqueue → (leaseDue → attempt → recordAttempt)* → complete once no recipient
// is pending or deferred (the worker then sends DSNs, RFC 3464, for failed/delayed recipients).
// While an entry exists its blob is never garbage-collected, even if no mailbox holds the message.
import type { Readable } from "node:stream";
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
  /** Octets sent on: the trace prefix plus the blob. */
  size: number;
  /** RFC 3461 ENVID and RET. */
  envelopeId: string | null;
  ret: "FULL" | "HDRS" | null;
  /** Whether the body needs 8BITMIME / SMTPUTF8 of the receiving server. */
  bodyType: "7BIT" | "8BITMIME" | "BINARYMIME";
  smtputf8: boolean;
  /**
   * RFC 8689 REQUIRETLS was given on MAIL FROM: every hop must be authenticated TLS to a server
   * that offers REQUIRETLS (queue/require-tls.ts). Absent (older callers) reads as false.
   */
  requireTls?: boolean;
  createdAt: Date;
  nextAttemptAt: Date;
  /** Until when a worker holds the entry (see leaseDue), or null when nobody does. */
  leasedUntil: Date | null;
  /** Whether the sender was sent the RFC 3464 "delayed" DSN for this entry. */
  delayWarned: boolean;
  /** In the order given at enqueue. */
  recipients: QueueRecipient[];
}

/** One recipient's outcome of a delivery attempt; `reply` is the SMTP reply or local error text. */
export type RecipientResult =
  | { address: string; state: "delivered"; reply?: string }
  | { address: string; state: "failed" | "deferred"; reply: string };

export interface RecordAttemptOptions {
  /** Marks the entry as having sent its delay warning (never unset). */
  delayWarned?: boolean;
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
  /** RFC 8689 REQUIRETLS on MAIL FROM; false when absent. */
  requireTls?: boolean;
  /** Trace header lines (Received) prepended to the blob when the message is sent on. */
  prefix?: Buffer;
}

/** One page of the queue listing (`mailroom queue list`, GET /api/v1/queue), filtered in the store. */
export interface QueuePageQuery {
  /** The last entry of the page before (the listing's order: created_at, then id); absent: from the start. */
  after?: { createdAt: Date; id: number } | undefined;
  /** 1 to 1000. */
  limit: number;
  /** Only entries with an open recipient in this state. */
  state?: "pending" | "deferred" | undefined;
  /** Only entries with an open recipient at this address (case-insensitive). */
  to?: string | undefined;
  /** Only entries with an open recipient in this domain (case-insensitive). */
  domain?: string | undefined;
  /** Only entries whose next attempt is at or after this time (held entries: admin/operations/outbound.ts HOLD_UNTIL). */
  nextAttemptFrom?: Date | undefined;
  /** Only entries whose next attempt is before this time. */
  nextAttemptBefore?: Date | undefined;
}

export interface QueueStore {
  /** Resolves once the entry (and the blob it references) is durable. */
  enqueue(request: EnqueueRequest): Promise<QueuedMessage>;
  getQueued(id: number): Promise<QueuedMessage | null>;
  /** Entries with at least one pending or deferred recipient, oldest first. */
  listQueue(limit?: number): Promise<QueuedMessage[]>;
  /** How many entries listQueue would list without a limit (counted in the store, no rows read out). */
  countQueue(): Promise<number>;
  /**
   * Entries with an open recipient, oldest first, one page at a time: the filters on recipients
   * (state, to, domain) hold for one and the same open recipient. A keyset page (after the
   * previous page's last entry), so a long queue costs each page only its own rows.
   */
  listQueuePage(query: QueuePageQuery): Promise<QueuedMessage[]>;
  /** The bytes to send: the trace prefix, then the blob (fails NONEXISTENT once completed). */
  openQueued(entry: QueuedMessage): Readable;
  /**
   * Takes up to `limit` entries that are due (nextAttemptAt <= now) and not leased, oldest due
   * first, and leases them until now + leaseMs: until then no other call returns them, so two
   * workers never attempt the same entry. A lease ends with recordAttempt() or by expiring (a
   * worker that died). SQLite: one UPDATE … RETURNING in the single writer's transaction;
   * PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED, so concurrent nodes do not wait on each other.
   */
  leaseDue(now: Date, limit: number, leaseMs: number): Promise<QueuedMessage[]>;
  /**
   * Records one attempt: per named recipient its new state, reply and attempts + 1 (all or
   * nothing: an unknown address is INVALID, a recipient already delivered or failed is CANNOT),
   * sets the next attempt time and ends the lease.
   */
  recordAttempt(id: number, results: RecipientResult[], nextAttemptAt: Date, options?: RecordAttemptOptions): Promise<QueuedMessage>;
  /**
   * Entries whose recipients are all delivered or failed but that were not completed (a worker
   * that stopped between recordAttempt and complete), oldest first: the worker completes them.
   */
  listFinished(limit?: number): Promise<QueuedMessage[]>;
  /**
   * Removes a finished entry (CANNOT while a recipient is pending or deferred) and its hold on
   * the blob; the blob goes too when no message refers to it.
   */
  complete(id: number): Promise<void>;
}
