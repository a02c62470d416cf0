// The 587/465 policy (RFC 6409): an authenticated user sends mail. MAIL FROM and every From:
// author must be the account's (553 5.7.1 otherwise); the null sender is refused, since users do
// not send bounces. Local recipients are delivered directly; the others go to the durable
// outbound queue, and the 250 is sent only once both are committed.
//
// Partial failure: local delivery runs first, then the enqueue. If the enqueue fails after local
// copies were stored, the client gets 451 and retries, so local recipients may get the message
// twice. The other order would duplicate to remote sites instead; a duplicate on our own store is
// the lesser harm and nothing is ever lost.
import type { QuotaService } from "../../delivery/quota-warning.js";
import type { SieveFilter } from "../../delivery/sieve-filter.js";
import type { Logger } from "../../observability/log.js";
import { isStoreError, type AccountStore, type EnqueueRequest, type MailStore, type QueueStore, type StagedMessage } from "../../store/index.js";
import { ReplyCodes, reply, type SmtpReply } from "../protocol/index.js";
import { decideRecipient } from "../inbound/inbound-policy.js";
import { acceptedMessageFields, acceptedReply, deliverToLocal, localRecipients, queueRecipientOf, tracePrefixFor } from "../inbound/local-delivery.js";
import type { AcceptedRecipient, EnvelopeView, SessionPolicy, SessionView } from "../session/types.js";
import type { DeliveryReporter } from "../../queue/index.js";
import { fromAddresses, ownsAddress, ownsAllAuthors } from "./sender-ownership.js";
import { completeHeader } from "./missing-header-fields.js";
import type { SendLimitRefusal, SendLimiterLike } from "../../abuse/send-limits.js";

export interface SubmissionPolicyOptions {
  readonly store: Pick<MailStore, "deliver" | "getMailbox" | "listMailboxes" | "stageMessage">;
  readonly accounts: Pick<AccountStore, "findAccountByAddress" | "findAlias" | "isLocalDomain" | "getAccount">;
  readonly queue: Pick<QueueStore, "enqueue">;
  /** Writes RFC 3461 NOTIFY=SUCCESS reports for local recipients; null sends none. */
  readonly deliveryReports: DeliveryReporter | null;
  /** The quota usage warning after local delivery; absent: none. */
  readonly quota?: QuotaService | null;
  readonly log: Logger;
  readonly clock?: () => Date;
  readonly sieve?: SieveFilter | null;
  /** Outbound abuse limits per account and sender domain; absent: none. */
  readonly sendLimits?: SendLimits | null;
}

export interface SendLimits {
  readonly limiter: SendLimiterLike;
  /** Told of every refusal (metrics, and suspending the account when `refusal.suspend`). */
  readonly onRefusal?: (account: string, refusal: SendLimitRefusal) => void;
}

/** RFC 3463 X.7.1 (not authorized) as a temporary refusal: the client keeps the message and retries later. */
function limitReply(refusal: SendLimitRefusal): SmtpReply {
  return { code: 451, enhanced: "4.7.1", lines: [refusal.text] };
}

export function createSubmissionPolicy(options: SubmissionPolicyOptions): SessionPolicy {
  return {
    async checkSender(session, mail): Promise<SmtpReply | null> {
      const account = session.account;
      if (account === null) return reply(ReplyCodes.AuthRequired);
      if (mail.reversePath.kind === "null") return reply(ReplyCodes.SenderNotOwned, "Null sender not accepted for submission");
      if (!(await ownsAddress(options.accounts, account, mail.reversePath.address))) return reply(ReplyCodes.SenderNotOwned);
      return null;
    },

    async checkRecipient(session, envelope, rcpt) {
      const limits = options.sendLimits;
      if (limits && session.account !== null) {
        const refusal = await limits.limiter.checkRecipient(session.account.address, envelope.count, (options.clock ?? (() => new Date()))());
        if (refusal !== null) {
          refused(options, session.account.address, refusal);
          return { kind: "refuse", reply: limitReply(refusal) };
        }
      }
      return decideRecipient(options.accounts, session, rcpt.forwardPath, rcpt.parameters, session.account !== null, envelope.declaredSize ?? null);
    },

    async deliver(session, envelope, staged): Promise<SmtpReply> {
      let message = staged;
      let answer: SmtpReply;
      const limits = options.sendLimits;
      const now = (options.clock ?? (() => new Date()))();
      if (limits && session.account !== null) {
        let refusal: SendLimitRefusal | null;
        try {
          refusal = await limits.limiter.checkMessage(session.account.address, now);
        } catch (error) {
          // A shared limiter that cannot reach the store: the client gets a 4xx and keeps the message.
          staged.discard();
          throw error;
        }
        if (refusal !== null) {
          refused(options, session.account.address, refusal);
          staged.discard();
          return limitReply(refusal);
        }
      }
      try {
        answer = await deliverSubmission(options, session, envelope, staged, (completed) => (message = completed));
      } catch (error) {
        message.discard();
        throw error;
      }
      if (answer.code >= 400) message.discard();
      else if (limits && session.account !== null) {
        const remote = envelope.recipients.filter((r) => r.route.kind === "remote").length;
        try {
          await limits.limiter.recordMessage(session.account.address, envelope.recipients.length, remote, now);
        } catch (error) {
          // The message is accepted already; a count lost to a store hiccup only lets one more through.
          options.log.warn("smtp.send_limit_count_failed", { account: session.account.address, error });
        }
      }
      return answer;
    },
  };
}

function refused(options: SubmissionPolicyOptions, account: string, refusal: SendLimitRefusal): void {
  options.log.warn("smtp.send_limit", { account, limit: refusal.limit, suspend: refusal.suspend });
  options.sendLimits?.onRefusal?.(account, refusal);
}

async function deliverSubmission(
  options: SubmissionPolicyOptions,
  session: SessionView,
  envelope: EnvelopeView,
  submitted: StagedMessage,
  replaced: (completed: StagedMessage) => void,
): Promise<SmtpReply> {
  const account = session.account;
  if (account === null) return reply(ReplyCodes.AuthRequired);
  const authors = fromAddresses(submitted.parsed.envelope.from);
  if (!(await ownsAllAuthors(options.accounts, account, authors))) {
    options.log.info("smtp.from_not_owned", { transaction: envelope.id, account: account.address, authors });
    return reply(ReplyCodes.SenderNotOwned, "From: address not owned by authenticated user");
  }
  let staged: StagedMessage;
  try {
    staged = await completeHeader(options.store, submitted, session.hostname, (options.clock ?? (() => new Date()))());
  } catch (error) {
    options.log.error("smtp.header_completion_failed", { transaction: envelope.id, error });
    return reply(ReplyCodes.LocalError);
  }
  replaced(staged);
  const context = { session, envelope, authenticationResults: null };
  const local = localRecipients(envelope, "inbox");
  if (local.length > 0) {
    const failure = await deliverToLocal(options, staged, local, context);
    if (failure !== null) return failure;
    await reportLocalDelivery(options, envelope, staged, account.address);
  }
  const remote = envelope.recipients.filter((recipient) => recipient.route.kind === "remote");
  let queueId: number | null = null;
  if (remote.length > 0) {
    try {
      ({ id: queueId } = await options.queue.enqueue(enqueueRequest(envelope, staged, remote, account.address, tracePrefixFor(context, null, false))));
    } catch (error) {
      options.log.error("smtp.enqueue_failed", { transaction: envelope.id, error });
      return reply(isStoreError(error, "NOSPACE") ? ReplyCodes.InsufficientStorage : ReplyCodes.LocalError);
    }
  }
  // The queue id is the one every delivery line of the remote recipients carries.
  options.log.info("smtp.accepted", { ...acceptedMessageFields(session, envelope, staged, queueId), local: local.length, remote: remote.length });
  return acceptedReply(envelope);
}

/** NOTIFY=SUCCESS for local recipients (RFC 3461 §4.1). A report that cannot be written is logged:
 *  the message itself is delivered, and refusing the submission now would only duplicate it. */
async function reportLocalDelivery(options: SubmissionPolicyOptions, envelope: EnvelopeView, staged: StagedMessage, submittedBy: string): Promise<void> {
  const reporter = options.deliveryReports;
  const asked = envelope.recipients.filter((r) => r.route.kind === "local" && r.parameters.notify?.success === true);
  if (reporter === null || asked.length === 0) return;
  try {
    await reporter.reportDelivered({
      mailFrom: envelope.reversePath.kind === "null" ? "" : envelope.reversePath.address,
      submittedBy,
      envelopeId: envelope.parameters.envid,
      ret: envelope.parameters.ret,
      recipients: asked.map(queueRecipientOf),
      message: staged,
      arrivedAt: new Date(),
    });
  } catch (error) {
    options.log.error("smtp.delivery_report_failed", { transaction: envelope.id, error });
  }
}

function enqueueRequest(envelope: EnvelopeView, staged: StagedMessage, remote: readonly AcceptedRecipient[], submittedBy: string, prefix: Buffer): EnqueueRequest {
  const parameters = envelope.parameters;
  return {
    message: staged,
    mailFrom: envelope.reversePath.kind === "null" ? "" : envelope.reversePath.address,
    submittedBy,
    recipients: remote.map(queueRecipientOf),
    envelopeId: parameters.envid,
    ret: parameters.ret,
    bodyType: parameters.body ?? "7BIT",
    smtputf8: parameters.smtputf8,
    // RFC 8689 §4.1: the message is tagged; the outbound queue enforces it (queue/require-tls.ts).
    requireTls: parameters.requireTls,
    // The Received field names no recipient: one queue entry serves them all (RFC 5321 §7.2).
    prefix,
  };
}

