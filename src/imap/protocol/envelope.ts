// ENVELOPE (RFC 9051 §7.5.2, RFC 3501 §7.4.2): the stored Envelope as a typed IMAP value.
//
//   envelope = "(" env-date SP env-subject SP env-from SP env-sender SP env-reply-to SP env-to SP
//              env-cc SP env-bcc SP env-in-reply-to SP env-message-id ")"
//   address  = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"
//
// The Envelope already carries the RFC's defaulting (Sender and Reply-To fall back to From) and
// the group markers (host NIL), see mail/envelope.ts; this module only fixes the order and the NILs.

import type { Envelope, EnvelopeAddress } from "../../mail/envelope.js";
import { list, NIL, nstr, type ImapValue } from "./response-value.js";

/** One address: (name adl mailbox host); NIL host marks a group start or end (RFC 9051 §7.5.2). */
function renderAddress(address: EnvelopeAddress): ImapValue {
  return list([nstr(address.name), nstr(address.adl), nstr(address.mailbox), nstr(address.host)]);
}

/** An address list, or NIL when the field is absent or empty (RFC 9051 §7.5.2: "NIL, not an empty list"). */
function renderAddressList(addresses: EnvelopeAddress[] | null): ImapValue {
  if (addresses === null || addresses.length === 0) return NIL;
  return list(addresses.map(renderAddress));
}

export function renderEnvelope(envelope: Envelope): ImapValue {
  return list([
    nstr(envelope.date),
    nstr(envelope.subject),
    renderAddressList(envelope.from),
    renderAddressList(envelope.sender),
    renderAddressList(envelope.replyTo),
    renderAddressList(envelope.to),
    renderAddressList(envelope.cc),
    renderAddressList(envelope.bcc),
    nstr(envelope.inReplyTo),
    nstr(envelope.messageId),
  ]);
}

/** The envelope of a message without any header: every field NIL. */
export const EMPTY_ENVELOPE: Envelope = Object.freeze({
  date: null,
  subject: null,
  from: null,
  sender: null,
  replyTo: null,
  to: null,
  cc: null,
  bcc: null,
  inReplyTo: null,
  messageId: null,
});
