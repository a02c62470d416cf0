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
}

export interface InboundVerifier {
  verify(input: InboundVerificationInput): Promise<InboundVerification>;
}

export interface MessageCheckInput {
  readonly verification: InboundVerification | null;
  /** The verifier threw: no verdict, so no DMARC decision could be made. */
  readonly verificationFailed: boolean;
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

export const MESSAGE_CHECKS: readonly Check<MessageCheckInput>[] = [dmarcPolicy];
