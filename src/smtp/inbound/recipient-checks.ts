// The RCPT TO checks, in order. Each answers at RCPT time, never after DATA: an unknown user is
// refused now (550 5.1.1) rather than accepted and bounced, which would make us a backscatter
// source. Relaying is decided here too, and only one thing permits it: an authenticated
// submission session (smtp/submission); port 25 delivers to our own domains only.
import type { EnvelopeMailbox } from "../../mail/address.js";
import type { RecipientResolution } from "../../delivery/resolve-recipient.js";
import { ReplyCodes, reply } from "../protocol/index.js";
import { ACCEPT, reject, tempfail, type Check } from "./checks.js";
import { isFull, wouldFitUsage } from "../../store/index.js";

export interface RecipientCheckInput {
  readonly mailbox: EnvelopeMailbox;
  readonly resolution: RecipientResolution;
  /** Relaying to other domains is permitted (authenticated submission). */
  readonly mayRelay: boolean;
  /** MAIL FROM's SIZE= (RFC 1870), when the client declared it. */
  readonly declaredSize?: number | null;
}

/**
 * Old relay tricks: `user%other@ours` (percent hack), `other!user@ours` (bang path) and
 * `"user@other"@ours` (a quoted "@"). Some MTAs re-route on them, so a chain of servers could be
 * talked into relaying; we refuse them outright (RFC 5321 §3.6.1 lets a server refuse source
 * routing of any kind). Source routes (`<@a:user@b>`) are not refused: RFC 5321 §3.6.1 and
 * Appendix C say to ignore the route, and the parser already did (the mailbox is `user@b`).
 */
export const relayTricks: Check<RecipientCheckInput> = {
  name: "relay-tricks",
  run({ mailbox }) {
    if (mailbox.hasPercentHack || mailbox.hasBangPath || mailbox.hasQuotedRouting) {
      return reject(reply(ReplyCodes.RelayDenied, "Relay access denied: routing characters in the local part are not accepted"));
    }
    return ACCEPT;
  },
};

/** Not one of our domains: relay, which only authenticated submission may do. */
export const relayDomain: Check<RecipientCheckInput> = {
  name: "relay-domain",
  run({ resolution, mayRelay }) {
    if (resolution.kind === "not-local" && !mayRelay) return reject(reply(ReplyCodes.RelayDenied));
    return ACCEPT;
  },
};

/** One of our domains, no such user: 550 5.1.1 (RFC 5321 §3.3, RFC 3463 X.1.1). */
export const recipientExists: Check<RecipientCheckInput> = {
  name: "recipient-exists",
  run({ resolution }) {
    if (resolution.kind === "unknown-user") return reject(reply(ReplyCodes.MailboxUnavailable, "Mailbox unavailable: no such user here"));
    return ACCEPT;
  },
};

/**
 * An account already at its quota (RFC 9208 STORAGE or MESSAGE), or one the declared SIZE= would
 * take past it: 452 4.2.2 for this recipient only, since mail may be deleted before the sender
 * retries (RFC 5321 §4.5.3.1.10 uses 452 for storage at RCPT; RFC 1870 §6.2 answers a SIZE= that
 * does not fit at RCPT with 452). The other recipients of the transaction are unaffected. Whether
 * the message fits is decided again after DATA, when its real size is known (local-delivery.ts).
 */
export const recipientQuota: Check<RecipientCheckInput> = {
  name: "recipient-quota",
  run({ resolution, declaredSize }) {
    if (resolution.kind !== "local") return ACCEPT;
    const full = resolution.accounts.some((account) => (declaredSize ? !wouldFitUsage(account, declaredSize, 1) : isFull(account)));
    return full ? tempfail(reply(ReplyCodes.QuotaFullTemporary)) : ACCEPT;
  },
};

export const RECIPIENT_CHECKS: readonly Check<RecipientCheckInput>[] = [relayTricks, relayDomain, recipientExists, recipientQuota];
