// The checks that run once the whole message is staged, and the port they use for SPF, DKIM and
// DMARC. smtp/ does not know mail-auth/'s types: the composition root adapts verifyInbound and
// decideDmarcAction to InboundVerifier, and tests use a fake.
import type { Readable } from "node:stream";
import { ReplyCodes, reply } from "../protocol/index.js";
import { ACCEPT, reject, tempfail, type Check } from "./checks.js";

export interface InboundVerificationInput {
  /** The staged message bytes (opened once per call). */
  readonly open: () => Readable;
  readonly size: number;
  readonly clientIp: string;
  readonly heloName: string | null;
  /** Reverse-path; "" for the null sender. */
  readonly mailFrom: string;
  readonly receivingHost: string;
}

export interface InboundVerification {
  /** The RFC 8601 Authentication-Results value (authserv-id; results), without the field name. */
  readonly authenticationResults: string;
  /** The DMARC policy outcome already applied to local policy (mode, local domains). */
  readonly action: "accept" | "reject" | "quarantine";
  /** The From domain whose policy asked for reject or quarantine, for the reply and the log. */
  readonly policyDomain?: string | null;
  /**
   * Why reject or quarantine, in words, for the log and the reply: a published DMARC policy, a
   * local override, or our own domain unauthenticated (which is no DMARC policy at all).
   */
  readonly reason?: string | null;
  /** The method results a spam score weighs (RFC 8601 result names); absent from simple fakes. */
  readonly results?: { readonly spf: string; readonly dkim: readonly string[]; readonly dmarc: string };
}

export interface InboundVerifier {
  verify(input: InboundVerificationInput): Promise<InboundVerification>;
}

/**
 * The spam port: the composition root adapts spam/ to it (server/spam-checker.ts). Like the
 * verifier it never throws for DNS trouble; the answer says what to do and what to add.
 */
export interface SpamCheckInput {
  readonly parsed: import("../../mail/mime-tree.js").ParsedMessage;
  readonly open: () => Readable;
  readonly clientIp: string;
  readonly verification: InboundVerification | null;
  readonly transaction: string;
  /** The local accounts receiving it, for per-account classification. */
  readonly accountIds: readonly number[];
  /** Reverse-path ("" for the null sender) and the local recipients' addresses, for greylisting. */
  readonly mailFrom: string;
  readonly recipients: readonly string[];
  readonly heloName: string | null;
  /** Our host name (server.hostname). */
  readonly hostname: string;
  /** Octets of the staged message. */
  readonly size: number;
}

export interface SpamCheckResult {
  /** "greylist": refuse temporarily, the sender retries after `retryInSeconds` (RFC 6647). */
  /** "tempfail": the content scanner was needed and unavailable (spam.rspamd_failure). */
  readonly action: "accept" | "junk" | "reject" | "greylist" | "tempfail";
  readonly retryInSeconds?: number;
  readonly score: number;
  /** Header fields for each recipient's copy ("Name: value", unfolded), e.g. X-Spam-Status. */
  readonly headerFields: readonly string[];
  /** More RFC 8601 method results ("iprev=pass policy.iprev=192.0.2.1"), joined to the verifier's. */
  readonly authenticationResults: readonly string[];
  /**
   * Per receiving account, when its own classifier changed the verdict: its folder decision and
   * its header fields. Refusing stays a message-wide decision (one reply covers every recipient).
   */
  readonly perAccount?: ReadonlyMap<number, { readonly action: "accept" | "junk"; readonly headerFields: readonly string[]; readonly spamTest?: { readonly score: number; readonly percent: number } }>;
  /** RFC 5235 spamtest values of the verdict for Sieve (1-10, 0-100); absent when not scanned. */
  readonly spamTest?: { readonly score: number; readonly percent: number };
}

export interface SpamChecker {
  check(input: SpamCheckInput): Promise<SpamCheckResult>;
}

export interface MessageCheckInput {
  readonly verification: InboundVerification | null;
  /** The verifier threw: no verdict, so no DMARC decision could be made. */
  readonly verificationFailed: boolean;
  /** Null when spam scanning is off. */
  readonly spam?: SpamCheckResult | null;
}

/**
 * DMARC (RFC 7489 §6.6): a reject verdict refuses with 550 5.7.26; quarantine files into the
 * recipient's Junk folder. A verifier that failed outright gets 451 4.7.0 rather than a pass: a
 * message we could not check must not skip a sender's reject policy.
 *
 * Why 5.7.26 and not 5.7.1: RFC 7372 §3.4 registers X.7.26 "multiple authentication checks
 * failed", and a DMARC failure is exactly that (neither SPF nor DKIM gave an aligned pass, RFC
 * 7489 §4.2); RFC 7489 §6.6.4 leaves the code to the receiver, and X.7.26 is what large receivers
 * answer (Gmail, Microsoft), so senders' bounce parsers recognise it. X.7.1 only says "not
 * authorized" and is what relay refusals use here.
 */
export const dmarcPolicy: Check<MessageCheckInput> = {
  name: "dmarc",
  run({ verification, verificationFailed }) {
    if (verificationFailed) return tempfail({ code: 451, enhanced: "4.7.0", lines: ["Sender authentication could not be checked, try again later"] });
    if (verification === null) return ACCEPT;
    const domain = verification.policyDomain ? ` (From: domain ${verification.policyDomain})` : "";
    if (verification.action === "reject") return reject(reply(ReplyCodes.AuthenticationChecksFailed, verification.reason ? `Message rejected: ${verification.reason}` : `Message rejected by sender authentication${domain}`));
    if (verification.action === "quarantine") return { kind: "fileInto", folder: "junk", reason: verification.reason ?? `sender authentication asks for quarantine${domain}` };
    return ACCEPT;
  },
};

/**
 * The spam score's action. 550 5.7.1 is what SpamAssassin-milter and rspamd setups answer (RFC
 * 3463 X.7.1: delivery not authorized, message refused); the reply gives the score, not the
 * tests, so a spammer learns little. Refusing at DATA means no bounce ever goes to a forged sender.
 */
export const spamScore: Check<MessageCheckInput> = {
  name: "spam",
  run({ spam }) {
    if (!spam) return ACCEPT;
    if (spam.action === "reject") return reject({ code: 550, enhanced: "5.7.1", lines: [`Message rejected as spam (score ${spam.score.toFixed(1)})`] });
    if (spam.action === "junk") return { kind: "fileInto", folder: "junk", reason: `spam score ${spam.score.toFixed(1)}` };
    // RFC 6647 §2.1: a temporary failure; X.7.1 as postgrey and rspamd answer, with the wait.
    if (spam.action === "tempfail") return tempfail({ code: 451, enhanced: "4.7.1", lines: ["Content scanner unavailable, please try again later"] });
    if (spam.action === "greylist") return tempfail({ code: 451, enhanced: "4.7.1", lines: [`Greylisted, please try again in ${spam.retryInSeconds ?? 300} seconds`] });
    return ACCEPT;
  },
};

export const MESSAGE_CHECKS: readonly Check<MessageCheckInput>[] = [dmarcPolicy, spamScore];
