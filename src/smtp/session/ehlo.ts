// EHLO/HELO (RFC 5321 §4.1.1.1) and the extensions a listener offers, in one place so what EHLO
// advertises and what MAIL/RCPT accept cannot drift apart. HELO advertises nothing, so after HELO
// every ESMTP parameter is refused (RFC 5321 §4.1.1.11).
import { advertisedMechanisms } from "../../auth/index.js";
import type { MailParameters, RcptParameters } from "../protocol/index.js";

export interface OfferContext {
  readonly esmtp: boolean;
  readonly tls: boolean;
  readonly startTlsAvailable: boolean;
  /** AUTH is offered on submission listeners only. */
  readonly authListener: boolean;
  readonly authenticated: boolean;
  readonly allowPlaintextAuth: boolean;
  readonly maxMessageSize: number;
  /** The Authenticator can check SCRAM (auth/ supportsScram). */
  readonly scram?: boolean;
}

/** SASL mechanisms usable on this link now (RFC 4954 §4: only those safe on it). */
export function authMechanisms(offer: OfferContext): string[] {
  if (!offer.authListener || offer.authenticated) return [];
  return advertisedMechanisms({ tls: offer.tls, allowPlaintextWithoutTls: offer.allowPlaintextAuth, scram: offer.scram === true });
}

/** The EHLO keywords, in a stable order. */
export function ehloExtensions(offer: OfferContext): string[] {
  const extensions = [
    "PIPELINING", // RFC 2920
    `SIZE ${offer.maxMessageSize}`, // RFC 1870
    "8BITMIME", // RFC 6152
    "SMTPUTF8", // RFC 6531
    "ENHANCEDSTATUSCODES", // RFC 2034
    "CHUNKING", // RFC 3030
    "BINARYMIME", // RFC 3030 §3
  ];
  // RFC 3461: offered where the outbound queue (queue/bounce.ts) keeps its promises, i.e. on the
  // submission listeners. The MX role delivers only locally and writes no "delivered" DSNs, so it
  // does not offer DSN and refuses its parameters rather than ignoring them.
  if (offersDsn(offer)) extensions.push("DSN");
  // RFC 8689 §2, §4.1: REQUIRETLS is a promise to keep the message on authenticated TLS, made only
  // on a TLS session (the MAIL parameter is refused without one: requireTlsRefused below).
  if (offersRequireTls(offer)) extensions.push("REQUIRETLS");
  // RFC 3207 §4.2: not offered again once TLS is on.
  if (offer.startTlsAvailable && !offer.tls) extensions.push("STARTTLS");
  const mechanisms = authMechanisms(offer);
  if (mechanisms.length > 0) extensions.push(`AUTH ${mechanisms.join(" ")}`);
  return extensions;
}

function offersRequireTls(offer: OfferContext): boolean {
  return offer.esmtp && offer.tls;
}

function offersDsn(offer: OfferContext): boolean {
  return offer.esmtp && offer.authListener;
}

/** The MAIL parameter that uses an extension not offered on this link, or null. */
export function unofferedMailParameter(parameters: MailParameters, offer: OfferContext): string | null {
  if (!offersDsn(offer)) {
    if (parameters.ret !== null) return "RET";
    if (parameters.envid !== null) return "ENVID";
  }
  if (!offer.esmtp) {
    if (parameters.size !== null) return "SIZE";
    if (parameters.body !== null) return "BODY";
    if (parameters.smtputf8) return "SMTPUTF8";
  }
  if (parameters.requireTls && !offersRequireTls(offer)) return "REQUIRETLS";
  // RFC 4954 §5: AUTH= belongs to the AUTH extension, offered on submission listeners only.
  if (parameters.auth !== null && !offer.authListener) return "AUTH";
  return null;
}

export function unofferedRcptParameter(parameters: RcptParameters, offer: OfferContext): string | null {
  // Both belong to DSN (RFC 3461 §4.1, §4.2).
  if (offersDsn(offer)) return null;
  if (parameters.notify !== null) return "NOTIFY";
  if (parameters.orcpt !== null) return "ORCPT";
  return null;
}
