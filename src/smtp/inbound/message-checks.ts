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
 * DMARC (RFC 7489 §6.6): p=reject refuses with 550 5.7.1; p=quarantine files into the
 * recipient's Junk folder. A verifier that failed outright gets 451 4.7.0 rather than a pass: a
 * message we could not check must not skip a sender's reject policy.
 */
export const dmarcPolicy: Check<MessageCheckInput> = {
  name: "dmarc",
  run({ verification, verificationFailed }) {
    if (verificationFailed) return tempfail({ code: 451, enhanced: "4.7.0", lines: ["Sender authentication could not be checked, try again later"] });
    if (verification === null) return ACCEPT;
    const domain = verification.policyDomain ? ` of ${verification.policyDomain}` : "";
    if (verification.action === "reject") return reject(reply(ReplyCodes.RelayDenied, `Message rejected by the DMARC policy${domain}`));
    if (verification.action === "quarantine") return { kind: "fileInto", folder: "junk", reason: `DMARC policy${domain} asks for quarantine` };
    return ACCEPT;
  },
};

export const MESSAGE_CHECKS: readonly Check<MessageCheckInput>[] = [dmarcPolicy];
