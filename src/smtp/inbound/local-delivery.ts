// The last step shared by both policies: a staged message into local mailboxes with each
// recipient's trace prefix, answered only after the store has committed. Quota is checked against
// the message's real size first; the store's own refusal (a race with another delivery) maps to
// the same replies. Every failure releases the staged blob, and the reply never says more than
// the client needs (internal errors are logged, answered 451 4.3.0).
import { deliverLocal, type LocalFolder, type LocalRecipient } from "../../delivery/deliver-local.js";
import type { SieveFilter, SpamTestValue } from "../../delivery/sieve-filter.js";
import { authenticationResultsField, foldedField, receivedField, receivedProtocol, returnPathField, tracePrefix } from "../../mail/trace-headers.js";
import type { EnvelopeMailbox } from "../../mail/address.js";
import type { Logger } from "../../observability/log.js";
import { isStoreError, type Account, type AccountStore, type MailStore, type StagedMessage } from "../../store/index.js";
import { ReplyCodes, reply, type SmtpReply } from "../protocol/index.js";
import type { EnvelopeView, SessionView } from "../session/types.js";

export interface LocalDeliveryDeps {
  readonly store: Pick<MailStore, "deliver" | "getMailbox" | "listMailboxes">;
  readonly accounts: Pick<AccountStore, "getAccount">;
  readonly log: Logger;
  /** The accounts' active Sieve scripts decide where each copy goes; absent: everything to the folder. */
  readonly sieve?: SieveFilter | null;
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

/** Which accounts this message would take over quota, with fresh usage figures. */
async function overQuota(deps: LocalDeliveryDeps, recipients: readonly LocalRecipient[], size: number): Promise<Account[]> {
  const over: Account[] = [];
  const seen = new Set<number>();
  for (const { account } of recipients) {
    if (seen.has(account.id)) continue;
    seen.add(account.id);
    const fresh = (await deps.accounts.getAccount(account.id)) ?? account;
    if (fresh.quotaBytes !== null && fresh.usedBytes + size > fresh.quotaBytes) over.push(fresh);
  }
  return over;
}

/**
 * One reply covers every recipient after DATA (RFC 5321 §4.1.1.4), so delivery is all or nothing:
 * if every recipient is over quota the answer is permanent (552 5.2.2); if only some are, 452 4.2.2
 * lets the sender retry for all of them rather than have some copies silently lost.
 */
function quotaReply(overCount: number, total: number): SmtpReply {
  return overCount >= total ? reply(ReplyCodes.QuotaFullPermanent) : reply(ReplyCodes.QuotaFullTemporary);
}

export async function deliverToLocal(deps: LocalDeliveryDeps, staged: StagedMessage, recipients: readonly LocalRecipient[], context: TraceContext): Promise<SmtpReply | null> {
  const accountCount = new Set(recipients.map((r) => r.account.id)).size;
  const over = await overQuota(deps, recipients, staged.size);
  if (over.length > 0) {
    deps.log.info("smtp.quota_refused", { transaction: context.envelope.id, accounts: over.map((a) => a.address) });
    return quotaReply(over.length, accountCount);
  }
  try {
    const envelopeFrom = context.envelope.reversePath.kind === "null" ? "" : context.envelope.reversePath.address;
    const result = await deliverLocal(deps.store, {
      staged,
      recipients,
      prefixFor: (r) => tracePrefixFor(context, r.recipient, true, r.account.id),
      internalDate: context.envelope.receivedAt,
      ...(deps.sieve ? { sieve: { filter: deps.sieve, envelopeFrom, ...(context.spamTest ? { spamFor: context.spamTest } : {}) } } : {}),
    });
    if (result.rejected.length > 0) {
      deps.log.info("smtp.sieve_rejected", { transaction: context.envelope.id, recipients: result.rejected.map((r) => r.recipient.recipient), stored: result.copies.length });
      // RFC 5429 §2.1: refusing in the protocol is preferred to a bounce. One reply covers every
      // recipient after DATA, so the refusal is given only when nothing was stored for anyone.
      if (result.copies.length === 0) return { code: 550, enhanced: "5.7.1", lines: [sanitizeReason(result.rejected[0]!.reason)] };
    }
    return null;
  } catch (error) {
    if (isStoreError(error, "OVERQUOTA")) return quotaReply(accountCount, accountCount);
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
