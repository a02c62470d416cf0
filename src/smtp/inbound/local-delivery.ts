// The last step shared by both policies: a staged message into local mailboxes with each
// recipient's trace prefix, answered only after the store has committed. Every failure releases
// the staged blob, and the reply never says more than the client needs (internal errors are
// logged, answered 451 4.3.0).
//
// Quota (RFC 9208 STORAGE and MESSAGE, store/quota.ts) is checked per account against the
// message's real size before delivery. A full mailbox is normally refused at RCPT TO already
// (recipient-checks.ts: 452 4.2.2, with the declared SIZE= when given), so the other recipients
// are unaffected. What is left is a message that turns out, after DATA, not to fit for some
// recipients: one reply covers the whole transaction (RFC 5321 §4.1.1.4), so, as Postfix does
// with Dovecot's per-recipient LMTP replies, the others get the message (250) and the sender gets
// a DSN "failed, 5.2.2 mailbox full" for those recipients (RFC 3464, NOTIFY honoured). When no
// recipient can take it the reply itself refuses it (552 5.2.2). The store's own refusal (a race
// with another delivery) refuses the transaction (quotaReply).
import { collapseDuplicates, deliverLocal, type LocalFolder, type LocalRecipient } from "../../delivery/deliver-local.js";
import type { SieveFilter, SpamTestValue } from "../../delivery/sieve-filter.js";
import { authenticationResultsField, foldedField, receivedField, receivedProtocol, returnPathField, tracePrefix } from "../../mail/trace-headers.js";
import type { EnvelopeMailbox } from "../../mail/address.js";
import type { Logger } from "../../observability/log.js";
import type { QuotaService } from "../../delivery/quota-warning.js";
import type { DeliveryReporter } from "../../queue/delivery-report.js";
import { isStoreError, type Account, type AccountStore, type EnqueueRequest, type MailStore, type QueueRecipient, type StagedMessage } from "../../store/index.js";
import { wouldFitUsage } from "../../store/index.js";
import type { Notify } from "../protocol/index.js";
import { ReplyCodes, reply, type SmtpReply } from "../protocol/index.js";
import type { AcceptedRecipient, EnvelopeView, SessionView } from "../session/types.js";

export interface LocalDeliveryDeps {
  readonly store: Pick<MailStore, "deliver" | "getMailbox" | "listMailboxes">;
  readonly accounts: Pick<AccountStore, "getAccount">;
  readonly log: Logger;
  /** The accounts' active Sieve scripts decide where each copy goes; absent: everything to the folder. */
  readonly sieve?: SieveFilter | null;
  /** The usage warning after delivery (config [quota] warning_percent); absent: none. */
  readonly quota?: QuotaService | null;
  /** "Failed" DSNs for recipients whose mailbox could not take the message the others got; absent: such a transaction is refused for all (452). */
  readonly deliveryReports?: DeliveryReporter | null;
}

export interface TraceContext {
  readonly session: SessionView;
  readonly envelope: EnvelopeView;
  readonly authenticationResults: string | null;
  /** More fields for each account's copy, below Authentication-Results (the spam verdict's X-Spam-*). */
  readonly extraFields?: (accountId: number | null) => readonly string[];
  /** RFC 5235 values for each account's Sieve spamtest; absent: not tested. */
  readonly spamTest?: (accountId: number) => SpamTestValue | null;
}

/** Local recipients of the envelope, each account once per envelope recipient, in order. */
export function localRecipients(envelope: EnvelopeView, folder: LocalFolder): LocalRecipient[] {
  const smtputf8 = envelope.parameters.smtputf8;
  return envelope.recipients.flatMap((recipient) =>
    recipient.route.kind === "local" ? recipient.route.accounts.map((account) => ({ account, folder, recipient: traceAddress(recipient.mailbox, smtputf8) })) : [],
  );
}

/**
 * An envelope address as trace fields show it. RFC 5321 §4.4: Return-Path preserves the
 * reverse-path as the client gave it; under SMTPUTF8 (RFC 6531 §3.7.3) a U-label domain stays a
 * U-label instead of appearing as an A-label beside a UTF-8 local part. Without SMTPUTF8 the
 * header must stay ASCII, so the A-label is kept.
 */
function traceAddress(mailbox: EnvelopeMailbox, smtputf8: boolean): string {
  if (!smtputf8 || mailbox.addressLiteral !== null || mailbox.unicodeDomain === mailbox.domain) return mailbox.address;
  return `${mailbox.address.slice(0, mailbox.address.lastIndexOf("@"))}@${mailbox.unicodeDomain}`;
}

/** Return-Path, Authentication-Results, then Received: newest trace field on top (RFC 5321 §4.4, RFC 8601 §5). */
export function tracePrefixFor(context: TraceContext, recipient: string | null, returnPath: boolean, accountId: number | null = null): Buffer {
  const { session, envelope } = context;
  const fields: string[] = [];
  if (returnPath) fields.push(returnPathField(envelope.reversePath.kind === "null" ? "" : traceAddress(envelope.reversePath, envelope.parameters.smtputf8)));
  if (context.authenticationResults !== null) fields.push(authenticationResultsField(context.authenticationResults));
  for (const field of context.extraFields?.(accountId) ?? []) {
    const colon = field.indexOf(":");
    fields.push(foldedField(field.slice(0, colon), field.slice(colon + 1)));
  }
  fields.push(
    receivedField({
      heloName: session.heloName,
      clientAddress: session.remoteAddress,
      clientName: null,
      byHost: session.hostname,
      protocol: receivedProtocol({ esmtp: session.esmtp, tls: session.tls, authenticated: session.account !== null, smtputf8: envelope.parameters.smtputf8 }),
      id: envelope.id,
      recipient,
      tls: session.tlsDetails,
      date: envelope.receivedAt,
    }),
  );
  return tracePrefix(fields);
}

/**
 * Which accounts this message would take over quota, with fresh usage figures: each account's
 * copies (one per envelope recipient leading to it) with their trace prefixes, as the store counts.
 */
async function overQuota(deps: LocalDeliveryDeps, recipients: readonly LocalRecipient[], size: number, prefixLength: (r: LocalRecipient) => number): Promise<Account[]> {
  const need = new Map<number, { account: Account; bytes: number; messages: number }>();
  for (const r of recipients) {
    const entry = need.get(r.account.id) ?? { account: r.account, bytes: 0, messages: 0 };
    entry.bytes += size + prefixLength(r);
    entry.messages += 1;
    need.set(r.account.id, entry);
  }
  const over: Account[] = [];
  for (const { account, bytes, messages } of need.values()) {
    const fresh = (await deps.accounts.getAccount(account.id)) ?? account;
    if (!wouldFitUsage(fresh, bytes, messages)) over.push(fresh);
  }
  return over;
}

/**
 * The reply when quota refuses the transaction: permanent (552 5.2.2) when no recipient can take
 * the message; 452 4.2.2 when only some cannot and no DSN can be sent for them, so the sender
 * retries for all rather than have some copies silently lost.
 */
function quotaReply(overCount: number, total: number): SmtpReply {
  return overCount >= total ? reply(ReplyCodes.QuotaFullPermanent) : reply(ReplyCodes.QuotaFullTemporary);
}

export async function deliverToLocal(deps: LocalDeliveryDeps, staged: StagedMessage, allRecipients: readonly LocalRecipient[], context: TraceContext): Promise<SmtpReply | null> {
  const accountCount = new Set(allRecipients.map((r) => r.account.id)).size;
  const prefixFor = (r: LocalRecipient) => tracePrefixFor(context, r.recipient, true, r.account.id);
  // As deliverLocal stores them: one copy per (account, folder), however many RCPTs lead there.
  const over = await overQuota(deps, collapseDuplicates(allRecipients), staged.size, (r) => prefixFor(r).length);
  let recipients = allRecipients;
  if (over.length > 0) {
    deps.log.info("smtp.quota_refused", { transaction: context.envelope.id, accounts: over.map((a) => a.address) });
    if (over.length >= accountCount || !deps.deliveryReports) return quotaReply(over.length, accountCount);
    const full = new Set(over.map((a) => a.id));
    recipients = allRecipients.filter((r) => !full.has(r.account.id));
    // Before the others' delivery: a DSN that cannot be written refuses the whole transaction (452), nothing lost.
    try {
      await reportMailboxFull(deps.deliveryReports, context.envelope, staged, full);
    } catch (error) {
      deps.log.error("smtp.quota_dsn_failed", { transaction: context.envelope.id, error });
      return quotaReply(over.length, accountCount);
    }
  }
  try {
    const envelopeFrom = context.envelope.reversePath.kind === "null" ? "" : context.envelope.reversePath.address;
    const result = await deliverLocal(deps.store, {
      staged,
      recipients,
      prefixFor,
      internalDate: context.envelope.receivedAt,
      ...(deps.sieve ? { sieve: { filter: deps.sieve, envelopeFrom, requireTls: context.envelope.parameters.requireTls, ...(context.spamTest ? { spamFor: context.spamTest } : {}) } } : {}),
    });
    if (result.rejected.length > 0) {
      deps.log.info("smtp.sieve_rejected", { transaction: context.envelope.id, recipients: result.rejected.map((r) => r.recipient.recipient), stored: result.copies.length });
      // RFC 5429 §2.1: refusing in the protocol is preferred to a bounce. One reply covers every
      // recipient after DATA, so the refusal is given only when nothing was stored for anyone.
      if (result.copies.length === 0) return { code: 550, enhanced: "5.7.1", lines: [sanitizeReason(result.rejected[0]!.reason)] };
    }
    if (deps.quota) for (const accountId of new Set(recipients.map((r) => r.account.id))) await deps.quota.noteAdded(accountId);
    return null;
  } catch (error) {
    // The store refused after the check above passed: another delivery took the room meanwhile, or
    // Sieve filed more than one copy (fileinto plus keep) into an account with room for one. The
    // message is refused for now (452 4.2.2), as Pigeonhole treats a fileinto over quota: a
    // temporary failure, retried by the sender, never a silent loss or a partial delivery.
    if (isStoreError(error, "OVERQUOTA")) return reply(ReplyCodes.QuotaFullTemporary);
    if (isStoreError(error, "TOOBIG")) return reply(ReplyCodes.MessageTooBig);
    deps.log.error("smtp.local_delivery_failed", { transaction: context.envelope.id, error });
    // RFC 3463 X.3.1: the server's disk is full (not the recipient's quota, X.2.2).
    return reply(isStoreError(error, "NOSPACE") ? ReplyCodes.InsufficientStorage : ReplyCodes.LocalError);
  }
}

/**
 * The one log line per accepted message a postmaster follows (like Postfix's qmgr "from=" line
 * joined with smtpd's "client="): who sent it from where, over what, to whom, and the queue id
 * under which its delivery lines appear (null when every recipient was local).
 */
export function acceptedMessageFields(session: SessionView, envelope: EnvelopeView, staged: StagedMessage, queueId: number | null): Record<string, unknown> {
  return {
    transaction: envelope.id,
    queueId,
    clientIp: session.remoteAddress,
    clientName: session.heloName,
    tls: session.tlsDetails?.protocol ?? null,
    account: session.account?.address ?? null,
    mailFrom: envelope.reversePath.kind === "null" ? "" : envelope.reversePath.address,
    recipients: envelope.recipients.map((r) => r.mailbox.address),
    size: staged.size,
    messageId: staged.parsed.envelope.messageId,
  };
}

export function acceptedReply(envelope: EnvelopeView): SmtpReply {
  return reply(ReplyCodes.Ok, `Ok: queued as ${envelope.id}`);
}

/** A Sieve reject reason as one SMTP reply line: printable ASCII, bounded. */
function sanitizeReason(reason: string): string {
  const text = reason.replace(/[^\x20-\x7e]+/g, " ").trim().slice(0, 400);
  return text === "" ? "Message rejected by the recipient's filter" : text;
}

/**
 * The "failed" DSN for envelope recipients all of whose accounts are full (an alias reaching a full
 * account and another one was delivered: not a failure of that recipient).
 */
async function reportMailboxFull(reporter: DeliveryReporter, envelope: EnvelopeView, staged: StagedMessage, full: ReadonlySet<number>): Promise<void> {
  const failed = envelope.recipients.filter((r) => r.route.kind === "local" && r.route.accounts.length > 0 && r.route.accounts.every((a) => full.has(a.id)));
  if (failed.length === 0) return;
  await reporter.reportFailed(
    {
      mailFrom: envelope.reversePath.kind === "null" ? "" : envelope.reversePath.address,
      submittedBy: null,
      envelopeId: envelope.parameters.envid,
      ret: envelope.parameters.ret,
      recipients: failed.map(queueRecipientOf),
      message: staged,
      arrivedAt: envelope.receivedAt,
    },
    { status: "5.2.2", diagnostic: "552 5.2.2 Mailbox full: the message does not fit in the recipient's quota" },
  );
}

export function queueRecipientOf(recipient: AcceptedRecipient): EnqueueRequest["recipients"][number] {
  return {
    address: recipient.mailbox.address,
    notify: notifyList(recipient.parameters.notify),
    originalRecipient: recipient.parameters.orcpt ? `${recipient.parameters.orcpt.addrType};${recipient.parameters.orcpt.address}` : null,
  };
}

/** RFC 3461 §4.1 NOTIFY as the queue stores it. */
function notifyList(notify: Notify | null): QueueRecipient["notify"] {
  if (notify === null) return null;
  if (notify.never) return ["NEVER"];
  const list: ("SUCCESS" | "FAILURE" | "DELAY")[] = [];
  if (notify.success) list.push("SUCCESS");
  if (notify.failure) list.push("FAILURE");
  if (notify.delay) list.push("DELAY");
  return list;
}
