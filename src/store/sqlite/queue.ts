// The outbound queue's rows (QueueStore on SQLite): one `queue` row per submitted message, one
// `queue_recipients` row per RCPT with its RFC 3461 parameters and delivery state, and a
// `blob_holds` row ('queue:<id>') that keeps the blob from garbage collection while the entry
// exists. Every function here runs inside a commit-queue unit (one SAVEPOINT of a group commit).
//
// Leases: the store has exactly one writer connection and the commit queue runs units one after
// another, so "select the due, unleased rows and mark them" in one UPDATE … RETURNING cannot hand
// the same row to two callers. (PostgreSQL will do the same with SELECT … FOR UPDATE SKIP LOCKED.)
import { StoreError } from "../errors.js";
import type { EnqueueRequest, QueuedMessage, QueuePageQuery, QueueRecipient, QueueRecipientState, RecipientResult } from "../queue-store.js";
import type { BlobId } from "../types.js";
import { UNREFERENCED_BLOB } from "./message-removal.js";
import { type DurableBlob, insertBlobRow } from "./messages.js";
import type { StoreContext, UnitOfWork } from "./store-context.js";

interface QueueRow {
  id: number;
  mail_from: string;
  submitted_by: string | null;
  blob_id: string;
  size: number;
  envelope_id: string | null;
  ret: "FULL" | "HDRS" | null;
  body_type: QueuedMessage["bodyType"];
  smtputf8: number;
  require_tls: number;
  created_at: number;
  next_attempt_at: number;
  lease_until: number;
  delay_warned: number;
}

interface RecipientRow {
  queue_id: number;
  address: string;
  notify: string | null;
  original_recipient: string | null;
  state: QueueRecipientState;
  attempts: number;
  last_result: string | null;
}

const QUEUE_COLUMNS = "id, mail_from, submitted_by, blob_id, size, envelope_id, ret, body_type, smtputf8, require_tls, created_at, next_attempt_at, lease_until, delay_warned";
/** An entry still has work while any recipient is in one of these states. */
const OPEN_STATES = "('pending', 'deferred')";
const holderOf = (id: number): string => `queue:${id}`;

/** The rows of one enqueue; the request was validated and the blob is durable and pinned. */
export function insertQueueEntry(ctx: StoreContext, blob: DurableBlob, request: EnqueueRequest, prefix: Buffer): QueuedMessage {
  const now = ctx.clock().getTime();
  insertBlobRow(ctx, blob);
  const { id } = ctx.sql.get<{ id: number }>(
    `INSERT INTO queue (mail_from, submitted_by, blob_id, prefix, size, envelope_id, ret, body_type, smtputf8, require_tls, created_at, next_attempt_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    request.mailFrom,
    request.submittedBy,
    blob.id,
    prefix.length > 0 ? prefix : null,
    prefix.length + blob.size,
    request.envelopeId,
    request.ret,
    request.bodyType,
    request.smtputf8 ? 1 : 0,
    request.requireTls === true ? 1 : 0,
    now,
    now,
  )!;
  request.recipients.forEach((rcpt, position) => {
    ctx.sql.run(
      "INSERT INTO queue_recipients (queue_id, position, address, notify, original_recipient, state) VALUES (?, ?, ?, ?, ?, 'pending')",
      id,
      position,
      rcpt.address,
      rcpt.notify === null ? null : JSON.stringify(rcpt.notify),
      rcpt.originalRecipient,
    );
  });
  ctx.sql.run("INSERT INTO blob_holds (blob_id, holder) VALUES (?, ?)", blob.id, holderOf(id));
  return requireEntry(ctx, id);
}

export function getQueued(ctx: StoreContext, id: number): QueuedMessage | null {
  if (!Number.isSafeInteger(id)) return null;
  const row = ctx.sql.get<QueueRow>(`SELECT ${QUEUE_COLUMNS} FROM queue WHERE id = ?`, id);
  return row ? withRecipients(ctx, [row])[0]! : null;
}

export function listQueue(ctx: StoreContext, limit: number): QueuedMessage[] {
  const rows = ctx.sql.all<QueueRow>(
    `SELECT ${QUEUE_COLUMNS} FROM queue q
      WHERE EXISTS (SELECT 1 FROM queue_recipients r WHERE r.queue_id = q.id AND r.state IN ${OPEN_STATES})
      ORDER BY created_at, id LIMIT ?`,
    limit,
  );
  return withRecipients(ctx, rows);
}

export function countQueue(ctx: StoreContext): number {
  const row = ctx.sql.get<{ n: number }>(
    `SELECT count(*) AS n FROM queue q WHERE EXISTS (SELECT 1 FROM queue_recipients r WHERE r.queue_id = q.id AND r.state IN ${OPEN_STATES})`,
  );
  return row?.n ?? 0;
}

export function listQueuePage(ctx: StoreContext, query: QueuePageQuery): QueuedMessage[] {
  const recipient: string[] = [`r.state IN ${OPEN_STATES}`];
  const entry: string[] = [];
  const params: (string | number)[] = [];
  if (query.state !== undefined) {
    recipient.push("r.state = ?");
    params.push(query.state);
  }
  if (query.to !== undefined) {
    recipient.push("lower(r.address) = ?");
    params.push(query.to.toLowerCase());
  }
  if (query.domain !== undefined) {
    recipient.push("lower(r.address) LIKE ? ESCAPE '\\'");
    params.push(`%@${query.domain.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}`);
  }
  if (query.nextAttemptFrom !== undefined) {
    entry.push("q.next_attempt_at >= ?");
    params.push(query.nextAttemptFrom.getTime());
  }
  if (query.nextAttemptBefore !== undefined) {
    entry.push("q.next_attempt_at < ?");
    params.push(query.nextAttemptBefore.getTime());
  }
  if (query.after !== undefined) {
    entry.push("(q.created_at > ? OR (q.created_at = ? AND q.id > ?))");
    params.push(query.after.createdAt.getTime(), query.after.createdAt.getTime(), query.after.id);
  }
  params.push(query.limit);
  const rows = ctx.sql.all<QueueRow>(
    `SELECT ${QUEUE_COLUMNS} FROM queue q
      WHERE EXISTS (SELECT 1 FROM queue_recipients r WHERE r.queue_id = q.id AND ${recipient.join(" AND ")})${entry.map((c) => ` AND ${c}`).join("")}
      ORDER BY created_at, id LIMIT ?`,
    ...params,
  );
  return withRecipients(ctx, rows);
}

export function listFinished(ctx: StoreContext, limit: number): QueuedMessage[] {
  const rows = ctx.sql.all<QueueRow>(
    `SELECT ${QUEUE_COLUMNS} FROM queue q
      WHERE NOT EXISTS (SELECT 1 FROM queue_recipients r WHERE r.queue_id = q.id AND r.state IN ${OPEN_STATES})
      ORDER BY created_at, id LIMIT ?`,
    limit,
  );
  return withRecipients(ctx, rows);
}

/** The trace prefix of an entry (empty when none), or null when the entry is gone. */
export function getQueuedPrefix(ctx: StoreContext, id: number): Buffer | null {
  const row = ctx.sql.get<{ prefix: Buffer | null }>("SELECT prefix FROM queue WHERE id = ?", id);
  return row ? (row.prefix ?? Buffer.alloc(0)) : null;
}

export function leaseDue(ctx: StoreContext, now: number, limit: number, leaseMs: number): QueuedMessage[] {
  // An entry whose recipients are all final waits for complete(); it is never leased again.
  const leased = ctx.sql.all<QueueRow>(
    `UPDATE queue SET lease_until = ?
      WHERE id IN (SELECT q.id FROM queue q
                    WHERE q.next_attempt_at <= ? AND q.lease_until <= ?
                      AND EXISTS (SELECT 1 FROM queue_recipients r WHERE r.queue_id = q.id AND r.state IN ${OPEN_STATES})
                    ORDER BY q.next_attempt_at, q.id LIMIT ?)
      RETURNING ${QUEUE_COLUMNS}`,
    now + leaseMs,
    now,
    now,
    limit,
  );
  // RETURNING gives no order guarantee.
  leased.sort((a, b) => a.next_attempt_at - b.next_attempt_at || a.id - b.id);
  return withRecipients(ctx, leased);
}

export function recordAttempt(ctx: StoreContext, id: number, results: readonly RecipientResult[], nextAttemptAt: number, delayWarned = false): QueuedMessage {
  const entry = requireEntry(ctx, id);
  const byAddress = new Map(entry.recipients.map((r) => [r.address, r]));
  const seen = new Set<string>();
  for (const result of results) {
    const recipient = byAddress.get(result.address);
    if (!recipient) throw new StoreError("INVALID", `queue entry ${id} has no recipient ${result.address}`);
    if (seen.has(result.address)) throw new StoreError("INVALID", `two results for ${result.address}`);
    seen.add(result.address);
    if (recipient.state === "delivered" || recipient.state === "failed") {
      throw new StoreError("CANNOT", `recipient ${result.address} is already ${recipient.state}`);
    }
    ctx.sql.run(
      "UPDATE queue_recipients SET state = ?, attempts = attempts + 1, last_result = ? WHERE queue_id = ? AND address = ?",
      result.state,
      result.reply ?? null,
      id,
      result.address,
    );
  }
  ctx.sql.run("UPDATE queue SET next_attempt_at = ?, lease_until = 0, delay_warned = max(delay_warned, ?) WHERE id = ?", nextAttemptAt, delayWarned ? 1 : 0, id);
  return requireEntry(ctx, id);
}

/** Deletes a finished entry and its hold; a blob nothing else refers to becomes garbage. */
export function completeEntry(ctx: StoreContext, unit: UnitOfWork, id: number): void {
  const entry = requireEntry(ctx, id);
  const open = entry.recipients.filter((r) => r.state === "pending" || r.state === "deferred");
  if (open.length > 0) throw new StoreError("CANNOT", `queue entry ${id} still has ${open.length} recipient(s) to deliver`);
  ctx.sql.run("DELETE FROM queue WHERE id = ?", id);
  ctx.sql.run("DELETE FROM blob_holds WHERE blob_id = ? AND holder = ?", entry.blobId, holderOf(id));
  const orphaned = ctx.sql.all<{ id: string }>(`DELETE FROM blobs WHERE id = ? AND ${UNREFERENCED_BLOB} RETURNING id`, entry.blobId);
  for (const row of orphaned) unit.garbage.add(row.id as BlobId);
}

function requireEntry(ctx: StoreContext, id: number): QueuedMessage {
  const entry = getQueued(ctx, id);
  if (!entry) throw new StoreError("NONEXISTENT", `no queue entry ${id}`);
  return entry;
}

/** Attaches the recipients (in enqueue order) to entry rows, keeping the rows' order. */
function withRecipients(ctx: StoreContext, rows: QueueRow[]): QueuedMessage[] {
  if (rows.length === 0) return [];
  const recipients = ctx.sql.all<RecipientRow>(
    `SELECT queue_id, address, notify, original_recipient, state, attempts, last_result FROM queue_recipients
      WHERE queue_id IN (SELECT value FROM json_each(?)) ORDER BY queue_id, position`,
    JSON.stringify(rows.map((row) => row.id)),
  );
  const byEntry = new Map<number, QueueRecipient[]>();
  for (const r of recipients) {
    let list = byEntry.get(r.queue_id);
    if (!list) byEntry.set(r.queue_id, (list = []));
    list.push({
      address: r.address,
      notify: r.notify === null ? null : (JSON.parse(r.notify) as QueueRecipient["notify"]),
      originalRecipient: r.original_recipient,
      state: r.state,
      attempts: r.attempts,
      lastResult: r.last_result,
    });
  }
  return rows.map((row) => ({
    id: row.id,
    mailFrom: row.mail_from,
    submittedBy: row.submitted_by,
    blobId: row.blob_id as BlobId,
    size: row.size,
    envelopeId: row.envelope_id,
    ret: row.ret,
    bodyType: row.body_type,
    smtputf8: row.smtputf8 !== 0,
    requireTls: row.require_tls !== 0,
    createdAt: new Date(row.created_at),
    nextAttemptAt: new Date(row.next_attempt_at),
    leasedUntil: row.lease_until > 0 ? new Date(row.lease_until) : null,
    delayWarned: row.delay_warned !== 0,
    recipients: byEntry.get(row.id) ?? [],
  }));
}
