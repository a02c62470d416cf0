// What SEARCH SUBJECT, FROM, TO, CC, BCC and HEADER compare with (RFC 9051 §6.4.4: "a message
// matches the key if the string is a substring of the associated text", case-insensitively),
// computed once at delivery from the parsed top-level header so the store can answer header keys
// without opening any message (docs/architecture.md, "SEARCH through the index"). Every text is
// folded with foldCase (case-fold.ts), as the search string is, so a plain substring test decides.
// Pure: no I/O.

import { foldCase } from "./case-fold.js";
import type { Envelope, EnvelopeAddress } from "./envelope.js";
import { decodeEncodedWords, type HeaderField } from "./header-fields.js";

/** The address fields SEARCH names (RFC 9051 §6.4.4 FROM, TO, CC, BCC). */
export type SearchAddressField = "from" | "to" | "cc" | "bcc";

/**
 * One message's searchable header texts, folded. A null text means the field is absent, which no
 * string matches (not even the empty one); `fields` holds every top-level header field as
 * [lower-cased name, folded decoded value] in header order, for HEADER <name> <string>.
 */
export interface HeaderSearchEntry {
  subject: string | null;
  from: string | null;
  to: string | null;
  cc: string | null;
  bcc: string | null;
  fields: [string, string][];
}

/**
 * The text FROM/TO/CC/BCC match against: each address as `Display Name <local@domain>`, display
 * names with their encoded-words decoded, so both "García" and "jose@example.es" are found.
 */
export function addressText(addresses: readonly EnvelopeAddress[]): string {
  const parts: string[] = [];
  for (const a of addresses) {
    if (a.host === null) {
      // RFC 9051 §7.5.2 group markers: the start carries the group name in `mailbox`.
      if (a.mailbox !== null) parts.push(decodeEncodedWords(a.mailbox) + ":");
      continue;
    }
    const address = `${a.mailbox ?? ""}@${a.host}`;
    parts.push(a.name === null ? `<${address}>` : `${decodeEncodedWords(a.name)} <${address}>`);
  }
  return parts.join(", ");
}

/** The SUBJECT text of an envelope (decoded, not folded), or null without a Subject field. */
export function subjectText(envelope: Envelope): string | null {
  return envelope.subject === null ? null : decodeEncodedWords(envelope.subject);
}

/** A header field as HEADER compares it: [lower-cased name, folded decoded value]. */
export function searchableField(field: HeaderField): [string, string] {
  return [field.name.toLowerCase(), foldCase(decodeEncodedWords(field.value))];
}

/** The entry of a message from its envelope and its top-level header fields. */
export function headerSearchEntry(envelope: Envelope, fields: readonly HeaderField[]): HeaderSearchEntry {
  const address = (list: EnvelopeAddress[] | null): string | null => (list === null ? null : foldCase(addressText(list)));
  const subject = subjectText(envelope);
  return {
    subject: subject === null ? null : foldCase(subject),
    from: address(envelope.from),
    to: address(envelope.to),
    cc: address(envelope.cc),
    bcc: address(envelope.bcc),
    fields: fields.map(searchableField),
  };
}
