// The outbound queue's rows on PostgreSQL (QueueStore): one `queue` row per submitted message,
// one `queue_recipients` row per RCPT. The entry itself refers to its blob (queue.blob_id), which
// keeps the blob's row and bytes while the entry exists.
//
// Leases across nodes: leaseDue picks due, unleased entries with SELECT ... FOR UPDATE SKIP LOCKED
// and marks them leased in the same transaction. A row another node is leasing right now is
// skipped rather than waited for, and once that node commits, the lease_until it wrote keeps the
// entry out of everyone's next pick until recordAttempt() ends the lease or it expires (a node
// that died mid-attempt): each entry is attempted by one node at a time.
import { StoreError } from "../errors.js";
import type { EnqueueRequest, QueuedMessage, QueuePageQuery, QueueRecipient, QueueRecipientState, RecipientResult } from "../queue-store.js";
import type { BlobId } from "../types.js";
import { one, rows, type Sql } from "./database.js";

interface QueueRow {
  id: number;
  mail_from: string;
  submitted_by: string | null;
  blob_id: string;
  size: number;
  envelope_id: string | null;
  ret: "FULL" | "HDRS" | null;
  body_type: QueuedMessage["bodyType"];
  smtputf8: boolean;
  require_tls: boolean;
  created_at: number;
  next_attempt_at: number;
  lease_until: number;
  delay_warned: boolean;
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

const COLUMNS = "q.id, q.mail_from, q.submitted_by, q.blob_id, q.size, q.envelope_id, q.ret, q.body_type, q.smtputf8, q.require_tls, q.created_at, q.next_attempt_at, q.lease_until, q.delay_warned";
const OPEN = "EXISTS (SELECT 1 FROM queue_recipients r WHERE r.queue_id = q.id AND r.state IN ('pending', 'deferred'))";

/** The rows of one enqueue (the blob row exists already); returns the new id. */
export async function insertEntry(db: Sql, blobId: BlobId, blobSize: number, request: EnqueueRequest, prefix: Buffer, now: number): Promise<number> {
  const { id } = (await one<{ id: number }>(
    db,
    `INSERT INTO queue (mail_from, submitted_by, blob_id, prefix, size, envelope_id, ret, body_type, smtputf8, require_tls, created_at, next_attempt_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $11, $10, $10) RETURNING id`,
    [request.mailFrom, request.submittedBy, blobId, prefix.length > 0 ? prefix : null, prefix.length + blobSize, request.envelopeId, request.ret, request.bodyType, request.smtputf8, now, request.requireTls === true],
  ))!;
  await db.query(
    `INSERT INTO queue_recipients (queue_id, position, address, notify, original_recipient, state)
     SELECT $1, r.position, r.address, r.notify, r.original_recipient, 'pending'
       FROM json_to_recordset($2::json) AS r(position integer, address text, notify text, original_recipient text)`,
    [id, JSON.stringify(request.recipients.map((r, position) => ({ position, address: r.address, notify: r.notify === null ? null : JSON.stringify(r.notify), original_recipient: r.originalRecipient })))],
  );
  return id;
}

export async function getQueued(db: Sql, id: number): Promise<QueuedMessage | null> {
  if (!Number.isSafeInteger(id)) return null;
  const list = await rows<QueueRow>(db, `SELECT ${COLUMNS} FROM queue q WHERE q.id = $1`, [id]);
  return (await withRecipients(db, list))[0] ?? null;
}

/** Open entries (a recipient pending or deferred) or finished ones, oldest first. */
export async function listQueue(db: Sql, limit: number, open: boolean): Promise<QueuedMessage[]> {
  const list = await rows<QueueRow>(db, `SELECT ${COLUMNS} FROM queue q WHERE ${open ? "" : "NOT "}${OPEN} ORDER BY q.created_at, q.id LIMIT $1`, [limit]);
  return withRecipients(db, list);
}

export async function countQueue(db: Sql): Promise<number> {
  const [row] = await rows<{ n: string | number }>(db, `SELECT count(*) AS n FROM queue q WHERE ${OPEN}`, []);
  return Number(row?.n ?? 0);
}

export async function listQueuePage(db: Sql, query: QueuePageQuery): Promise<QueuedMessage[]> {
  const recipient: string[] = ["r.state IN ('pending', 'deferred')"];
  const entry: string[] = [];
  const params: (string | number)[] = [];
  const param = (value: string | number): string => {
    params.push(value);
    return `$${params.length}`;
  };
  if (query.state !== undefined) recipient.push(`r.state = ${param(query.state)}`);
  if (query.to !== undefined) recipient.push(`lower(r.address) = ${param(query.to.toLowerCase())}`);
  // LIKE's default escape is the backslash.
  if (query.domain !== undefined) recipient.push(`lower(r.address) LIKE ${param(`%@${query.domain.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}`)}`);
  if (query.nextAttemptFrom !== undefined) entry.push(`q.next_attempt_at >= ${param(query.nextAttemptFrom.getTime())}`);
  if (query.nextAttemptBefore !== undefined) entry.push(`q.next_attempt_at < ${param(query.nextAttemptBefore.getTime())}`);
  if (query.after !== undefined) entry.push(`(q.created_at, q.id) > (${param(query.after.createdAt.getTime())}, ${param(query.after.id)})`);
  const list = await rows<QueueRow>(
    db,
    `SELECT ${COLUMNS} FROM queue q
      WHERE EXISTS (SELECT 1 FROM queue_recipients r WHERE r.queue_id = q.id AND ${recipient.join(" AND ")})${entry.map((c) => ` AND ${c}`).join("")}
      ORDER BY q.created_at, q.id LIMIT ${param(query.limit)}`,
    params,
  );
  return withRecipients(db, list);
}

export async function leaseDue(db: Sql, now: number, limit: number, leaseMs: number): Promise<QueuedMessage[]> {
  // An entry whose recipients are all final waits for complete(); it is never leased again.
  const list = await rows<QueueRow>(
    db,
    `UPDATE queue SET lease_until = $1
      WHERE id IN (SELECT q.id FROM queue q WHERE q.next_attempt_at <= $2 AND q.lease_until <= $2 AND ${OPEN}
                    ORDER BY q.next_attempt_at, q.id LIMIT $3 FOR UPDATE SKIP LOCKED)
      RETURNING id, mail_from, submitted_by, blob_id, size, envelope_id, ret, body_type, smtputf8, require_tls, created_at, next_attempt_at, lease_until, delay_warned`,
    [now + leaseMs, now, limit],
  );
  list.sort((a, b) => a.next_attempt_at - b.next_attempt_at || a.id - b.id);
  return withRecipients(db, list);
}

export async function recordAttempt(db: Sql, id: number, results: readonly RecipientResult[], nextAttemptAt: number, delayWarned: boolean): Promise<QueuedMessage> {
  // The entry row locked first: two attempts recorded at once are applied one after the other.
  if (!Number.isSafeInteger(id) || !(await one(db, "SELECT 1 FROM queue WHERE id = $1 FOR UPDATE", [id]))) throw new StoreError("NONEXISTENT", `no queue entry ${id}`);
  const entry = (await getQueued(db, id))!;
  const byAddress = new Map(entry.recipients.map((r) => [r.address, r]));
  const seen = new Set<string>();
  for (const result of results) {
    const recipient = byAddress.get(result.address);
    if (!recipient) throw new StoreError("INVALID", `queue entry ${id} has no recipient ${result.address}`);
    if (seen.has(result.address)) throw new StoreError("INVALID", `two results for ${result.address}`);
    seen.add(result.address);
    if (recipient.state === "delivered" || recipient.state === "failed") throw new StoreError("CANNOT", `recipient ${result.address} is already ${recipient.state}`);
    await db.query("UPDATE queue_recipients SET state = $1, attempts = attempts + 1, last_result = $2 WHERE queue_id = $3 AND address = $4", [result.state, result.reply ?? null, id, result.address]);
  }
  await db.query("UPDATE queue SET next_attempt_at = $1, lease_until = 0, delay_warned = delay_warned OR $2 WHERE id = $3", [nextAttemptAt, delayWarned, id]);
  return (await getQueued(db, id))!;
}

/** Deletes a finished entry; returns its blob (the caller drops it if nothing else refers to it). */
export async function completeEntry(db: Sql, id: number): Promise<string> {
  if (!Number.isSafeInteger(id) || !(await one(db, "SELECT 1 FROM queue WHERE id = $1 FOR UPDATE", [id]))) throw new StoreError("NONEXISTENT", `no queue entry ${id}`);
  const entry = (await getQueued(db, id))!;
  const open = entry.recipients.filter((r) => r.state === "pending" || r.state === "deferred");
  if (open.length > 0) throw new StoreError("CANNOT", `queue entry ${id} still has ${open.length} recipient(s) to deliver`);
  await db.query("DELETE FROM queue WHERE id = $1", [id]);
  return entry.blobId;
}

/** Attaches the recipients (in enqueue order) to entry rows, keeping the rows' order. */
async function withRecipients(db: Sql, list: QueueRow[]): Promise<QueuedMessage[]> {
  if (list.length === 0) return [];
  const recipients = await rows<RecipientRow>(
    db,
    "SELECT queue_id, address, notify, original_recipient, state, attempts, last_result FROM queue_recipients WHERE queue_id = ANY($1::bigint[]) ORDER BY queue_id, position",
    [list.map((row) => row.id)],
  );
  const byEntry = new Map<number, QueueRecipient[]>();
  for (const r of recipients) {
    let entries = byEntry.get(r.queue_id);
    if (!entries) byEntry.set(r.queue_id, (entries = []));
    entries.push({
      address: r.address,
      notify: r.notify === null ? null : (JSON.parse(r.notify) as QueueRecipient["notify"]),
      originalRecipient: r.original_recipient,
      state: r.state,
      attempts: r.attempts,
      lastResult: r.last_result,
    });
  }
  return list.map((row) => ({
    id: row.id,
    mailFrom: row.mail_from,
    submittedBy: row.submitted_by,
    blobId: row.blob_id as BlobId,
    size: row.size,
    envelopeId: row.envelope_id,
    ret: row.ret,
    bodyType: row.body_type,
    smtputf8: row.smtputf8,
    requireTls: row.require_tls,
    createdAt: new Date(row.created_at),
    nextAttemptAt: new Date(row.next_attempt_at),
    leasedUntil: row.lease_until > 0 ? new Date(row.lease_until) : null,
    delayWarned: row.delay_warned,
    recipients: byEntry.get(row.id) ?? [],
  }));
}
