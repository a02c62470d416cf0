// SMTP AUTH (RFC 4954) over the shared SASL layer of auth/: the session hands over the AUTH
// command, then each continuation line, and gets back what to send and whether it is finished.
// The wording of every outcome is here; the mechanisms, base64 and the password check are not.
import { createMechanism, findMechanism, mechanismPermitted, SaslExchange, type ChannelBindings, type SaslExchangeStep } from "../../auth/index.js";
import type { Account } from "../../store/index.js";
import { ReplyCodes, reply, type AuthCommand, type SmtpReply } from "../protocol/index.js";
import type { SaslAuthenticator } from "./types.js";

export interface AuthLink {
  readonly tls: boolean;
  readonly allowPlaintextAuth: boolean;
  readonly remoteAddress: string;
  /** The TLS link's channel-binding data (SCRAM -PLUS); absent or null without TLS. */
  readonly channelBindings?: () => ChannelBindings | null;
}

export type AuthStep =
  /** Send the reply and read the next line as a SASL response. */
  | { kind: "continue"; reply: SmtpReply; exchange: SaslExchange }
  /** Send the reply; the exchange is over. */
  | { kind: "finished"; reply: SmtpReply; account: Account | null };

/** The AUTH command itself: refuse it, or start the exchange (with the initial response, if any). */
export async function beginAuth(command: AuthCommand, link: AuthLink, authenticator: SaslAuthenticator): Promise<AuthStep> {
  const descriptor = findMechanism(command.mechanism);
  if (descriptor === null) return finished(reply(ReplyCodes.AuthMechanismUnknown));
  // RFC 4954 §6: a mechanism that would expose the password without TLS gets 538 5.7.11, before
  // any credential is looked at (the initial response, if sent, is dropped unread).
  if (!mechanismPermitted(descriptor, { tls: link.tls, allowPlaintextWithoutTls: link.allowPlaintextAuth, scram: authenticator.supportsScram === true })) {
    return finished(reply(descriptor.plaintext ? ReplyCodes.EncryptionRequired : ReplyCodes.AuthMechanismUnknown));
  }
  const context = authenticator.saslContext?.({ remoteAddress: link.remoteAddress, protocol: "smtp", tls: link.tls }, link.channelBindings?.() ?? null);
  const mechanism = createMechanism(command.mechanism, undefined, context);
  if (mechanism === null) return finished(reply(ReplyCodes.AuthMechanismUnknown));
  const exchange = new SaslExchange(mechanism);
  return outcome(await exchange.begin(command.initialResponse), exchange, link, authenticator);
}

/** A continuation line of a running exchange. */
export async function continueAuth(line: string, exchange: SaslExchange, link: AuthLink, authenticator: SaslAuthenticator): Promise<AuthStep> {
  return outcome(await exchange.continue(line), exchange, link, authenticator);
}

async function outcome(step: SaslExchangeStep, exchange: SaslExchange, link: AuthLink, authenticator: SaslAuthenticator): Promise<AuthStep> {
  switch (step.kind) {
    case "challenge":
      // RFC 4954 §4: "334" SP [base64] CRLF, no enhanced code.
      return { kind: "continue", reply: { code: 334, enhanced: null, lines: [step.line] }, exchange };
    case "cancelled":
      return finished(reply(ReplyCodes.AuthCancelled));
    case "malformed":
      return finished(reply(ReplyCodes.AuthMalformed));
    case "failed":
      return finished(reply(ReplyCodes.AuthFailed));
    case "done": {
      const result = await authenticator.authenticateSasl(step.credentials, { remoteAddress: link.remoteAddress, protocol: "smtp", tls: link.tls });
      if (result.ok) return { kind: "finished", reply: reply(ReplyCodes.AuthSucceeded), account: result.account };
      // auth/authenticator.ts: invalid → 535 5.7.8; throttled or backend trouble → 454 4.7.0.
      return finished(reply(result.reason === "invalid-credentials" ? ReplyCodes.AuthFailed : ReplyCodes.AuthTemporaryFailure));
    }
  }
}

function finished(answer: SmtpReply): AuthStep {
  return { kind: "finished", reply: answer, account: null };
}
