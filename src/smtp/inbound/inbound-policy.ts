// The port 25 policy: mail from anywhere, for our domains only. RCPT runs RECIPIENT_CHECKS against
// delivery/resolve-recipient; after DATA the staged message is verified (SPF, DKIM, DMARC through
// the injected InboundVerifier), MESSAGE_CHECKS decide, and accepted mail is delivered to every
// local recipient in one store call, with Return-Path, Authentication-Results and Received in
// each recipient's prefix.
import type { QuotaService } from "../../delivery/quota-warning.js";
import type { DeliveryReporter } from "../../queue/delivery-report.js";
import type { TlsReportIntake } from "../../delivery/tls-report.js";
import type { SieveFilter } from "../../delivery/sieve-filter.js";
import { resolveRecipient } from "../../delivery/resolve-recipient.js";
import { parseMailbox, type EnvelopeMailbox, type ForwardPath } from "../../mail/address.js";
import type { Logger } from "../../observability/log.js";
import type { AccountStore, MailStore, StagedMessage } from "../../store/index.js";
import { ReplyCodes, reply, type SmtpReply } from "../protocol/index.js";
import type { EnvelopeView, RecipientDecision, SessionPolicy, SessionView } from "../session/types.js";
import { runChecks } from "./checks.js";
import { acceptedMessageFields, acceptedReply, deliverToLocal, localRecipients } from "./local-delivery.js";
import { MESSAGE_CHECKS, type InboundVerification, type InboundVerifier, type SpamCheckResult, type SpamChecker } from "./message-checks.js";
import { RECIPIENT_CHECKS } from "./recipient-checks.js";
import type { IpMessageRate } from "../../abuse/ip-rate.js";

export interface InboundPolicyOptions {
  readonly store: Pick<MailStore, "deliver" | "getMailbox" | "listMailboxes">;
  readonly accounts: Pick<AccountStore, "findAccountByAddress" | "findAlias" | "isLocalDomain" | "getAccount">;
  /** Null: no sender authentication (no Authentication-Results, no DMARC decision). */
  readonly verifier: InboundVerifier | null;
  readonly log: Logger;
  readonly sieve?: SieveFilter | null;
  /** Null or absent: no spam scoring. */
  readonly spam?: SpamChecker | null;
  /** Null or absent: no per-address message rate. */
  readonly ipMessageRate?: IpMessageRate | null;
  /** TLS-RPT intake (delivery/tls-report.ts): reports to our postmasters are read once delivered. */
  readonly tlsReports?: TlsReportIntake | null;
  /** The usage warning after delivery; absent: none. */
  readonly quota?: QuotaService | null;
  /** DSNs for recipients whose mailbox cannot take a message the others got (local-delivery.ts). */
  readonly deliveryReports?: DeliveryReporter | null;
}

/**
 * RFC 5321 §4.5.1: `<Postmaster>` without a domain must be accepted; it means the postmaster of
 * the host we are, so it is looked up as postmaster@<our hostname>.
 */
export function recipientMailbox(path: ForwardPath, hostname: string): EnvelopeMailbox | null {
  if (path.kind === "mailbox") return path;
  const mailbox = parseMailbox(`postmaster@${hostname}`);
  return mailbox.kind === "mailbox" ? mailbox : null;
}

/** Shared by inbound and submission: the checks, then the route for an accepted recipient. */
export async function decideRecipient(
  accounts: InboundPolicyOptions["accounts"],
  session: SessionView,
  path: ForwardPath,
  parameters: Parameters<SessionPolicy["checkRecipient"]>[2]["parameters"],
  mayRelay: boolean,
  declaredSize: number | null = null,
): Promise<RecipientDecision> {
  const mailbox = recipientMailbox(path, session.hostname);
  if (mailbox === null) return { kind: "refuse", reply: reply(ReplyCodes.MailboxUnavailable) };
  const resolution = await resolveRecipient(accounts, mailbox.address);
  const outcome = await runChecks(RECIPIENT_CHECKS, { mailbox, resolution, mayRelay, declaredSize });
  if (outcome.kind !== "accept") return { kind: "refuse", reply: outcome.reply };
  const route = resolution.kind === "local" ? { kind: "local" as const, accounts: resolution.accounts } : { kind: "remote" as const };
  return { kind: "accept", recipient: { mailbox, parameters, route } };
}

export function createInboundPolicy(options: InboundPolicyOptions): SessionPolicy {
  return {
    async checkSender(session): Promise<SmtpReply | null> {
      // Who may send to us is decided by SPF/DKIM/DMARC over the message, not at MAIL; only how
      // often one address may try is decided here.
      if (options.ipMessageRate && !(await options.ipMessageRate.admit(session.remoteAddress))) {
        options.log.info("smtp.ip_rate_limited", { client: session.remoteAddress });
        return { code: 451, enhanced: "4.7.1", lines: ["Too many messages from your address, try again later"] };
      }
      return null;
    },

    checkRecipient(session, envelope, rcpt) {
      return decideRecipient(options.accounts, session, rcpt.forwardPath, rcpt.parameters, false, envelope.declaredSize ?? null);
    },

    async deliver(session: SessionView, envelope: EnvelopeView, staged: StagedMessage): Promise<SmtpReply> {
      const answer = await deliverInbound(options, session, envelope, staged);
      if (answer.code >= 400) staged.discard();
      return answer;
    },
  };
}

async function deliverInbound(options: InboundPolicyOptions, session: SessionView, envelope: EnvelopeView, staged: StagedMessage): Promise<SmtpReply> {
  const { verification, failed } = await verify(options, session, envelope, staged);
  const spam = failed ? null : await scanSpam(options, session, envelope, staged, verification);
  const outcome = await runChecks(MESSAGE_CHECKS, { verification, verificationFailed: failed, spam });
  if (outcome.kind !== "accept") {
    options.log.info("smtp.message_refused", { transaction: envelope.id, check: outcome.check, code: outcome.reply.code });
    return outcome.reply;
  }
  if (outcome.filedBy !== null) options.log.info("smtp.message_filed", { transaction: envelope.id, check: outcome.filedBy, folder: outcome.folder, reason: outcome.reason });
  // An account whose own classifier judged the message junk gets its copy filed there.
  const recipients = localRecipients(envelope, outcome.folder).map((r) => (r.folder === "inbox" && spam?.perAccount?.get(r.account.id)?.action === "junk" ? { ...r, folder: "junk" as const } : r));
  const context = {
    session,
    envelope,
    authenticationResults: joinAuthenticationResults(session.hostname, verification?.authenticationResults ?? null, spam?.authenticationResults ?? []),
    extraFields: (accountId: number | null) => (accountId !== null ? spam?.perAccount?.get(accountId)?.headerFields : undefined) ?? spam?.headerFields ?? [],
    spamTest: (accountId: number) => spam?.perAccount?.get(accountId)?.spamTest ?? spam?.spamTest ?? null,
  };
  const failure = await deliverToLocal(options, staged, recipients, context);
  if (failure !== null) return failure;
  options.log.info("smtp.accepted", { ...acceptedMessageFields(session, envelope, staged, null), folder: outcome.folder });
  if (options.tlsReports) {
    // After the commit: the report is also in the postmaster's mailbox whatever happens here; take() never throws.
    const local = envelope.recipients.filter((recipient) => recipient.route.kind === "local").map((recipient) => recipient.mailbox.address);
    await options.tlsReports.take({ parsed: staged.parsed, size: staged.size, read: () => readStream(staged.open()) }, local);
  }
  return acceptedReply(envelope);
}

/**
 * The spam checker's own failure (a bug, not DNS trouble, which it absorbs) must not refuse or
 * lose mail: the message is delivered unscored and the log says why.
 */
async function scanSpam(options: InboundPolicyOptions, session: SessionView, envelope: EnvelopeView, staged: StagedMessage, verification: InboundVerification | null): Promise<SpamCheckResult | null> {
  if (!options.spam) return null;
  try {
    const local = localRecipients(envelope, "inbox");
    const accountIds = [...new Set(local.map((r) => r.account.id))];
    const mailFrom = envelope.reversePath.kind === "null" ? "" : envelope.reversePath.address;
    const recipients = envelope.recipients.filter((r) => r.route.kind === "local").map((r) => r.mailbox.address);
    return await options.spam.check({ parsed: staged.parsed, open: () => staged.open(), clientIp: session.remoteAddress, verification, transaction: envelope.id, accountIds, mailFrom, recipients, heloName: session.heloName, hostname: session.hostname, size: staged.size });
  } catch (error) {
    options.log.error("smtp.spam_check_failed", { transaction: envelope.id, error });
    return null;
  }
}

/** RFC 8601 §2.2: one field, "authserv-id; method=result; method=result". */
export function joinAuthenticationResults(hostname: string, verifier: string | null, more: readonly string[]): string | null {
  if (more.length === 0) return verifier;
  return [verifier ?? hostname, ...more].join("; ");
}

async function verify(options: InboundPolicyOptions, session: SessionView, envelope: EnvelopeView, staged: StagedMessage): Promise<{ verification: InboundVerification | null; failed: boolean }> {
  if (options.verifier === null) return { verification: null, failed: false };
  try {
    const verification = await options.verifier.verify({
      open: () => staged.open(),
      size: staged.size,
      clientIp: session.remoteAddress,
      heloName: session.heloName,
      mailFrom: envelope.reversePath.kind === "null" ? "" : envelope.reversePath.address,
      receivingHost: session.hostname,
    });
    return { verification, failed: false };
  } catch (error) {
    options.log.error("smtp.verification_failed", { transaction: envelope.id, error });
    return { verification: null, failed: true };
  }
}

async function readStream(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}
