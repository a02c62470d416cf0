// RFC 9051 §7.5.2 ENVELOPE fields, taken from a message header at delivery.
// Strings are the raw header values (unfolded, encoded-words left as they are), as IMAP sends them.

export interface EnvelopeAddress {
  /** Display name, or null. */
  name: string | null;
  /** RFC 9051 "adl" (source route), almost always null. */
  adl: string | null;
  /** Local part; for a group start marker: the group name; for a group end: null. */
  mailbox: string | null;
  /** Domain; null marks a group start or end (RFC 9051 §7.5.2). */
  host: string | null;
}

export interface Envelope {
  date: string | null;
  subject: string | null;
  from: EnvelopeAddress[] | null;
  sender: EnvelopeAddress[] | null;
  replyTo: EnvelopeAddress[] | null;
  to: EnvelopeAddress[] | null;
  cc: EnvelopeAddress[] | null;
  bcc: EnvelopeAddress[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}
